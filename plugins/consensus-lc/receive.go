package lc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// onBlock takes a block from a peer (from is its id; empty for our own):
// it decodes and sizes it, parks it while its parent is missing, checks
// the consensus rules, has the host re-execute and store it, then runs
// fork choice and takes any orphans waiting on it.
func (e *engine) onBlock(ctx context.Context, enc []byte, from string, msgID []byte) {
	queue := []queued{{enc, from, msgID}}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		e.work.Lock()
		h, err := e.accept(ctx, q.enc, q.from)
		e.work.Unlock()
		var park *missingParent
		switch {
		case errors.As(err, &park):
			e.park(ctx, park.block, park.parent, q)
			continue
		case errors.Is(err, errKnown):
			continue
		case err != nil:
			if !errors.Is(err, errLocal) && q.from != "" {
				e.mu.Lock()
				e.n.rejected++
				e.mu.Unlock()
				e.log.Warn("block rejected", "peer", q.from, "reason", err)
				rctx, cancel := e.call()
				_, _ = e.svc.net.Report(rctx, &hostv1.ReportRequest{Peer: q.from, MessageId: q.msgID, Reason: err.Error()})
				cancel()
			} else if err != nil {
				e.log.Warn("block not taken", "error", err)
			}
			continue
		}
		queue = append(queue, e.children(h)...)
	}
}

type queued struct {
	enc   []byte
	from  string
	msgID []byte
}

// missingParent: block (its hash) waits for parent.
type missingParent struct{ parent, block block.Hash }

func (m *missingParent) Error() string { return fmt.Sprintf("parent %s unknown", m.parent) }

var errKnown = errors.New("block already known")

// accept checks and commits one block whose parent is known and returns
// its hash.
func (e *engine) accept(ctx context.Context, enc []byte, from string) (block.Hash, error) {
	if len(enc) > block.MaxSize {
		return block.Hash{}, fmt.Errorf("block of %d bytes, at most %d", len(enc), block.MaxSize)
	}
	blk, err := block.Decode(enc)
	if err != nil {
		return block.Hash{}, err
	}
	hd := &blk.Header
	h := blk.Hash()
	e.mu.Lock()
	_, known := e.metas[h]
	e.mu.Unlock()
	if known {
		return h, errKnown
	}
	if hd.Height == 0 {
		return h, errors.New("a second genesis block")
	}
	cctx, cancel := e.call()
	defer cancel()
	parent, ok := e.metaOf(cctx, hd.Parent)
	if !ok {
		return h, &missingParent{parent: hd.Parent, block: h}
	}
	if parent.Height+1 != hd.Height {
		return h, fmt.Errorf("height %d on a parent at height %d", hd.Height, parent.Height)
	}
	e.mu.Lock()
	final := e.final
	e.mu.Unlock()
	if hd.Height <= final.Height {
		return h, fmt.Errorf("block at height %d forks below the k-deep block at height %d", hd.Height, final.Height)
	}
	nowMs, err := e.now(cctx)
	if err != nil {
		return h, fmt.Errorf("%w: clock: %w", errLocal, err)
	}
	m, err := e.checkHeader(cctx, hd, parent, nowMs)
	if err != nil {
		return h, err
	}
	e.watchEquivocation(cctx, hd, m)
	if _, err := e.svc.chain.CommitBlock(cctx, &hostv1.CommitBlockRequest{Encoded: enc}); err != nil {
		if isCode(err, codes.InvalidArgument) || isCode(err, codes.FailedPrecondition) {
			return h, fmt.Errorf("invalid state transition: %w", err)
		}
		return h, fmt.Errorf("%w: commit: %w", errLocal, err)
	}
	e.remember(m)
	e.mu.Lock()
	if from != "" {
		e.n.received++
	}
	e.mu.Unlock()
	e.choose(cctx, m)
	return h, nil
}

// park holds block blkHash until its parent arrives and asks the sender
// for the parent.
func (e *engine) park(ctx context.Context, blkHash, parent block.Hash, q queued) {
	e.mu.Lock()
	if _, ok := e.orphans[blkHash]; !ok {
		for len(e.orphans) >= MaxOrphans || e.obytes+len(q.enc) > maxOrphanBytes {
			e.dropOldestOrphan()
		}
		e.orphans[blkHash] = &orphan{enc: q.enc, parent: parent, from: q.from, added: e.svc.time.Now()}
		e.obytes += len(q.enc)
	}
	last, asked := e.asked[parent]
	due := !asked || e.svc.time.Now().Sub(last) > refetchAfter
	if due {
		e.asked[parent] = e.svc.time.Now()
	}
	e.mu.Unlock()
	if !due || q.from == "" {
		return
	}
	cctx, cancel := e.call()
	defer cancel()
	if _, err := e.svc.net.Send(cctx, &hostv1.SendRequest{Peer: q.from, Topic: TopicGet, Data: parent[:]}); err != nil {
		e.log.Debug("asking for a parent", "peer", q.from, "error", err)
	}
}

// dropOldestOrphan frees the oldest orphan; e.mu is held.
func (e *engine) dropOldestOrphan() {
	var oldest block.Hash
	var t time.Time
	for h, o := range e.orphans {
		if t.IsZero() || o.added.Before(t) {
			oldest, t = h, o.added
		}
	}
	if o, ok := e.orphans[oldest]; ok {
		e.obytes -= len(o.enc)
		delete(e.orphans, oldest)
		e.n.orphaned++
	}
}

// children takes the orphans waiting on parent out of the pool.
func (e *engine) children(parent block.Hash) []queued {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []queued
	for h, o := range e.orphans {
		if o.parent == parent {
			out = append(out, queued{enc: o.enc, from: o.from})
			e.obytes -= len(o.enc)
			delete(e.orphans, h)
		}
	}
	delete(e.asked, parent)
	return out
}

// onGet answers a peer's request for a block by hash.
func (e *engine) onGet(ctx context.Context, data []byte, from string) {
	if len(data) != block.HashSize || from == "" {
		return
	}
	cctx, cancel := e.call()
	defer cancel()
	r, err := e.svc.chain.GetBlock(cctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Hash{Hash: data}}, WithEncoded: true})
	if err != nil || r.GetBlock().GetHeader().GetHeight() == 0 {
		return
	}
	if _, err := e.svc.net.Send(cctx, &hostv1.SendRequest{Peer: from, Topic: TopicBlock, Data: r.GetBlock().GetEncoded()}); err != nil {
		e.log.Debug("answering a block request", "peer", from, "error", err)
	}
}

// choose runs fork choice with candidate tip c and moves the host's head
// to it when it wins and the switch reverts no more than k blocks.
func (e *engine) choose(ctx context.Context, c meta) {
	e.mu.Lock()
	cur := e.head
	e.mu.Unlock()
	if !better(c, cur, e.p.TieSlots) {
		return
	}
	depth, ok := forkDepth(cur, c, func(h block.Hash) (meta, bool) { return e.metaOf(ctx, h) }, uint64(e.p.K))
	if !ok {
		e.mu.Lock()
		e.n.refused++
		e.mu.Unlock()
		e.log.Warn("fork refused: it would revert a k-deep block", "tip_height", c.Height, "tip", c.Hash, "head_height", cur.Height, "k", e.p.K)
		return
	}
	r, err := e.svc.chain.SetHead(ctx, &hostv1.SetHeadRequest{Hash: c.Hash[:]})
	if err != nil {
		e.log.Warn("set head", "height", c.Height, "error", err)
		return
	}
	e.mu.Lock()
	e.head = c
	if n := uint64(len(r.GetReverted())); n > 0 {
		e.n.reorgs++
		e.n.reverted += n
		e.n.maxReorg = max(e.n.maxReorg, n)
		e.n.depths[n]++
		e.log.Info("reorg", "reverted", n, "depth", depth, "height", c.Height)
	}
	e.mu.Unlock()
	e.finalize(ctx)
}

// finalize marks the canonical block k under the head final: the node
// never reverts it (maxvalid), so the host may not either.
func (e *engine) finalize(ctx context.Context) {
	e.mu.Lock()
	head, final := e.head, e.final
	e.mu.Unlock()
	if head.Height <= uint64(e.p.K) || head.Height-uint64(e.p.K) <= final.Height {
		return
	}
	target := head.Height - uint64(e.p.K)
	r, err := e.svc.chain.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: target}}})
	if err != nil {
		e.log.Warn("k-deep block", "height", target, "error", err)
		return
	}
	m, err := metaFromProto(r.GetBlock())
	if err != nil {
		e.log.Warn("k-deep block", "height", target, "error", err)
		return
	}
	if _, err := e.svc.chain.Finalize(ctx, &hostv1.FinalizeRequest{Hash: m.Hash[:]}); err != nil {
		e.log.Warn("finalize", "height", target, "error", err)
		return
	}
	e.mu.Lock()
	if m.Height > e.final.Height {
		e.final = m
	}
	e.mu.Unlock()
	e.prune()
}

// watchEquivocation remembers each leader's block per slot and reports
// a second, different one as double-sign evidence.
func (e *engine) watchEquivocation(ctx context.Context, hd *block.Header, m meta) {
	e.mu.Lock()
	bySlot := e.seen[m.Slot]
	if bySlot == nil {
		bySlot = map[account.Address]signedBlock{}
		e.seen[m.Slot] = bySlot
	}
	first, seen := bySlot[hd.Proposer]
	if !seen {
		bySlot[hd.Proposer] = signedBlock{hash: m.Hash, hdr: *hd}
	}
	e.mu.Unlock()
	if !seen || first.hash == m.Hash {
		return
	}
	ev, err := evidenceOf(first.hdr, *hd)
	if err != nil {
		e.log.Warn("equivocation seen but no evidence", "leader", hd.Proposer, "slot", m.Slot, "error", err)
		return
	}
	e.mu.Lock()
	e.n.equivocations++
	e.mu.Unlock()
	r, err := e.svc.chain.ReportEvidence(ctx, &hostv1.ReportEvidenceRequest{Evidence: ev.Encode()})
	if err != nil {
		e.log.Warn("reporting equivocation", "leader", hd.Proposer, "slot", m.Slot, "error", err)
		return
	}
	e.log.Warn("leader equivocated: two blocks for one slot", "leader", hd.Proposer, "slot", m.Slot, "slashing_tx", fmt.Sprintf("%x", r.GetTxHash()))
}

// evidenceOf turns two signed headers of one leader and slot into
// double-sign evidence.
func evidenceOf(a, b block.Header) (*vote.Evidence, error) {
	ma, sa, err := signedMessage(&a)
	if err != nil {
		return nil, err
	}
	mb, sb, err := signedMessage(&b)
	if err != nil {
		return nil, err
	}
	return vote.NewEvidence(a.Proposer, ma, sa, mb, sb)
}
