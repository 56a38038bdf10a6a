package lc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Topics. Blocks are gossiped on TopicBlock and also sent straight to a
// peer that asked for one by hash on TopicGet.
const (
	TopicBlock = "lc/block/v1"
	TopicGet   = "lc/get/v1"
)

// Bounds.
const (
	// MaxOrphans bounds the blocks held while their parent is fetched;
	// the oldest goes first.
	MaxOrphans = 256
	// maxOrphanBytes bounds their total size.
	maxOrphanBytes = 64 << 20
	// clockDrift is how far ahead of this node's clock a slot may start
	// and its block still be taken.
	clockDrift = 500 * time.Millisecond
	// callTimeout bounds each host call.
	callTimeout = 30 * time.Second
	// refetchAfter spaces requests for one missing parent.
	refetchAfter = time.Second
)

// services are the host services the engine uses.
type services struct {
	chain  hostv1.ChainClient
	net    hostv1.NetworkClient
	signer hostv1.SignerClient // nil: follow only
	clock  hostv1.ClockClient
	// time is what the engine reads and waits on; nil: sdk.HostClock of
	// clock. A simulator passes its virtual clock.
	time sdk.Clock
}

type orphan struct {
	enc    []byte
	parent block.Hash
	from   string
	added  time.Time
}

// counters are what Status reports.
type counters struct {
	produced, received, rejected, reorgs, reverted, maxReorg, refused, orphaned, equivocations uint64
	lastErr                                                                                    string
	// depths counts reorgs by the number of blocks they reverted.
	depths map[uint64]uint64
}

type engine struct {
	p       leader.Params
	log     hclog.Logger
	svc     services
	chainID string
	genesis meta
	genMs   int64
	self    account.Address
	ep      *epochs

	// work serializes taking blocks and leading: each reads the head,
	// commits and moves the head.
	work sync.Mutex

	mu      sync.Mutex
	metas   map[block.Hash]meta
	head    meta
	final   meta
	orphans map[block.Hash]*orphan
	obytes  int
	asked   map[block.Hash]time.Time
	slot    uint64
	seen    map[uint64]map[account.Address]signedBlock // slot → leader → first block seen
	n       counters
}

// signedBlock is a leader's signed block header, kept to catch a second
// one for the same slot.
type signedBlock struct {
	hash block.Hash
	hdr  block.Header
}

func (e *engine) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// slotStart is the Unix millisecond at which slot begins.
func (e *engine) slotStart(slot uint64) int64 { return e.genMs + int64(slot)*int64(e.p.SlotMs) }

// now is the engine's clock (the host's) in Unix milliseconds.
func (e *engine) now(context.Context) (int64, error) {
	return e.svc.time.Now().UnixMilli(), nil
}

// metaOf reads a block's meta, from memory or the host.
func (e *engine) metaOf(ctx context.Context, h block.Hash) (meta, bool) {
	e.mu.Lock()
	m, ok := e.metas[h]
	e.mu.Unlock()
	if ok {
		return m, true
	}
	r, err := e.svc.chain.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Hash{Hash: h[:]}}})
	if err != nil {
		return meta{}, false
	}
	m, err = metaFromProto(r.GetBlock())
	if err != nil {
		return meta{}, false
	}
	e.remember(m)
	return m, true
}

func metaFromProto(b *hostv1.Block) (meta, error) {
	var m meta
	hd := b.GetHeader()
	if len(b.GetHash()) != block.HashSize || len(hd.GetParentHash()) != block.HashSize {
		return m, errors.New("malformed block from the host")
	}
	copy(m.Hash[:], b.GetHash())
	copy(m.Parent[:], hd.GetParentHash())
	m.Height = hd.GetHeight()
	if m.Height == 0 {
		return m, nil
	}
	d, err := leader.DecodeBlockData(hd.GetConsensusData())
	if err != nil {
		return m, err
	}
	sig, err := bls.SignatureFromBytes(d.Proof[:])
	if err != nil {
		return m, err
	}
	m.Slot, m.Output = d.Slot, leader.OutputOf(sig)
	return m, nil
}

func (e *engine) remember(m meta) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metas[m.Hash] = m
}

// prune forgets metas and slot records far below the final block.
func (e *engine) prune() {
	e.mu.Lock()
	defer e.mu.Unlock()
	keep := uint64(2 * e.p.K)
	for h, m := range e.metas {
		if m.Height+keep < e.final.Height {
			delete(e.metas, h)
		}
	}
	for s := range e.seen {
		if s+uint64(e.p.EpochSlots) < e.slot {
			delete(e.seen, s)
		}
	}
	for h, t := range e.asked { // parents asked for whose orphans were dropped
		if e.svc.time.Now().Sub(t) > time.Minute {
			delete(e.asked, h)
		}
	}
}

// checkHeader applies the consensus rules to a block whose parent is
// known: slot after the parent's and not in the future, timestamp at the
// slot's start, proposer a stakeholder of the slot's epoch whose ticket
// is below its threshold, signature by that stakeholder. It returns the
// block's meta and the leader's key.
func (e *engine) checkHeader(ctx context.Context, hd *block.Header, parent meta, nowMs int64) (meta, error) {
	d, err := leader.DecodeBlockData(hd.ConsensusData)
	if err != nil {
		return meta{}, err
	}
	m := meta{Hash: hd.Hash(), Parent: hd.Parent, Height: hd.Height, Slot: d.Slot}
	switch {
	case hd.ChainID != e.chainID:
		return m, fmt.Errorf("block of chain %q, this is %q", hd.ChainID, e.chainID)
	case d.Slot <= parent.Slot:
		return m, fmt.Errorf("slot %d is not after its parent's slot %d", d.Slot, parent.Slot)
	case hd.TimestampMs != e.slotStart(d.Slot):
		return m, fmt.Errorf("timestamp %d is not the start of slot %d (%d)", hd.TimestampMs, d.Slot, e.slotStart(d.Slot))
	case nowMs > 0 && e.slotStart(d.Slot) > nowMs+clockDrift.Milliseconds():
		return m, fmt.Errorf("slot %d starts %s from now: a block from the future", d.Slot, time.Duration(e.slotStart(d.Slot)-nowMs)*time.Millisecond)
	}
	in, err := e.ep.get(ctx, e.p.Epoch(d.Slot))
	if err != nil {
		return m, fmt.Errorf("%w: epoch %d: %w", errLocal, e.p.Epoch(d.Slot), err)
	}
	out, err := checkLeader(in, hd, d, e.p.Epoch(d.Slot))
	if err != nil && !in.settled {
		return m, fmt.Errorf("%w: epoch %d is not settled on this node yet (it is behind): %w", errLocal, e.p.Epoch(d.Slot), err)
	}
	if err != nil {
		return m, err
	}
	m.Output = out
	return m, nil
}

// checkLeader checks that the block's proposer led its slot and signed
// the block.
func checkLeader(in *epochInfo, hd *block.Header, d leader.BlockData, epoch uint64) (leader.Output, error) {
	sh, ok := in.holders[hd.Proposer]
	if !ok {
		return leader.Output{}, fmt.Errorf("proposer %s holds no stake in epoch %d", hd.Proposer, epoch)
	}
	proof, err := bls.SignatureFromBytes(d.Proof[:])
	if err != nil {
		return leader.Output{}, fmt.Errorf("leader proof: %w", err)
	}
	out, err := leader.Verify(sh.pk, in.nonce[:], d.Slot, proof)
	if err != nil {
		return out, fmt.Errorf("leader proof for slot %d: %w", d.Slot, err)
	}
	if !leader.Leads(out, sh.threshold) {
		return out, fmt.Errorf("%s does not lead slot %d: its ticket is above its threshold", hd.Proposer, d.Slot)
	}
	if _, err := leader.VerifyBlockSig(hd, sh.pk); err != nil {
		return out, err
	}
	return out, nil
}

// errLocal marks failures that are this node's, not the block's.
var errLocal = errors.New("local")

// isCode reports whether err is a gRPC status with code c.
func isCode(err error, c codes.Code) bool { return status.Code(err) == c }

// newEngine reads the chain's parameters from block 0.
func newEngine(ctx context.Context, svc services, st *sdk.Store, chainID string, log hclog.Logger) (*engine, error) {
	r, err := svc.chain.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: 0}}})
	if err != nil {
		return nil, fmt.Errorf("lc: genesis block: %w", err)
	}
	g := r.GetBlock()
	p, err := leader.DecodeParams(g.GetHeader().GetConsensusData())
	if err != nil {
		return nil, fmt.Errorf("lc: genesis carries no usable longest_chain parameters (add a longest_chain section to genesis.json): %w", err)
	}
	gm, err := metaFromProto(g)
	if err != nil {
		return nil, fmt.Errorf("lc: genesis block: %w", err)
	}
	if chainID == "" {
		chainID = g.GetHeader().GetChainId()
	}
	if svc.time == nil {
		svc.time = sdk.HostClock(svc.clock)
	}
	return &engine{
		p: p, log: log, svc: svc, chainID: chainID, genesis: gm, genMs: g.GetHeader().GetTimestampMs(),
		ep:    newEpochs(p, svc.chain, st, gm.Hash),
		metas: map[block.Hash]meta{gm.Hash: gm}, head: gm, final: gm,
		orphans: map[block.Hash]*orphan{}, asked: map[block.Hash]time.Time{}, seen: map[uint64]map[account.Address]signedBlock{},
		n: counters{depths: map[uint64]uint64{}},
	}, nil
}

// load takes the head and final block from the host and remembers the
// blocks between them (at most 2k), which fork choice walks.
func (e *engine) load(ctx context.Context) error {
	if err := e.refresh(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	m := e.head
	e.slot = m.Slot
	e.mu.Unlock()
	for i := 0; i < 2*int(e.p.K) && m.Height > 0; i++ {
		var ok bool
		if m, ok = e.metaOf(ctx, m.Parent); !ok {
			return fmt.Errorf("lc: block %s under the head is missing", m.Parent)
		}
	}
	return nil
}

// refresh takes the head and final block from the host, which block sync
// may have moved.
func (e *engine) refresh(ctx context.Context) error {
	r, err := e.svc.chain.Head(ctx, &hostv1.HeadRequest{})
	if err != nil {
		return fmt.Errorf("lc: head: %w", err)
	}
	head, err := metaFromProto(r.GetHead())
	if err != nil {
		return fmt.Errorf("lc: head: %w", err)
	}
	final, err := metaFromProto(r.GetFinalized())
	if err != nil {
		return fmt.Errorf("lc: final block: %w", err)
	}
	e.remember(head)
	e.remember(final)
	e.mu.Lock()
	e.head, e.final = head, final
	e.mu.Unlock()
	return nil
}
