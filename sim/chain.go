package sim

import (
	"bytes"
	"context"
	"encoding/binary"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// A simulated block is a real protocol block (the engines decode it, and
// the longest-chain plugin signs its header hash): its transfers are real
// encodings, unsigned (nothing executes them), numbered by nonce from the
// load's sequence, and the header's TxRoot holds the range [from, to) they
// cover, which the next block continues.
func blockOf(h block.Header, from, to uint64) *block.Block {
	binary.BigEndian.PutUint64(h.TxRoot[:], from)
	binary.BigEndian.PutUint64(h.TxRoot[8:], to)
	b := &block.Block{Header: h, Txs: make([]*tx.Tx, 0, to-from)}
	for k := from; k < to; k++ {
		b.Txs = append(b.Txs, &tx.Tx{ChainID: h.ChainID, Nonce: k, GasLimit: tx.GasTransfer, MaxFeePerGas: 10,
			Body: tx.Transfer{To: h.Proposer, Amount: 1}})
	}
	return b
}

func txRange(h *hostv1.Header) (from, to uint64) {
	r := h.GetTxRoot()
	if len(r) != 32 {
		return 0, 0
	}
	return binary.BigEndian.Uint64(r), binary.BigEndian.Uint64(r[8:])
}

// chain is one simulated node's host chain: its block tree, canonical
// chain and final block over a fixed validator set. No execution: a
// block's cost is modelled (cost.go), its state is not kept.
type chain struct {
	hostv1.ChainClient
	n   *node
	set *hostv1.ValidatorSet

	known map[string]*hostv1.Block
	canon map[uint64][]byte
	head  uint64
	final uint64
	certs map[string][]byte
}

func newChain(n *node, set *hostv1.ValidatorSet, genesis *hostv1.Block) *chain {
	return &chain{n: n, set: set, known: map[string]*hostv1.Block{string(genesis.Hash): genesis},
		canon: map[uint64][]byte{0: genesis.Hash}, certs: map[string][]byte{}}
}

func (c *chain) block(h []byte) *hostv1.Block { return c.known[string(h)] }

func (c *chain) Head(context.Context, *hostv1.HeadRequest, ...grpc.CallOption) (*hostv1.HeadResponse, error) {
	return &hostv1.HeadResponse{Head: c.block(c.canon[c.head]), Finalized: c.block(c.canon[c.final])}, nil
}

func (c *chain) GetBlock(_ context.Context, r *hostv1.GetBlockRequest, _ ...grpc.CallOption) (*hostv1.GetBlockResponse, error) {
	h := r.GetRef().GetHash()
	if h == nil {
		h = c.canon[r.GetRef().GetHeight()]
	}
	b := c.block(h)
	if b == nil {
		return nil, status.Error(codes.NotFound, "unknown block")
	}
	out := proto.Clone(b).(*hostv1.Block)
	out.Certificate = c.certs[string(h)]
	return &hostv1.GetBlockResponse{Block: out}, nil
}

func (c *chain) ValidatorSet(_ context.Context, r *hostv1.ValidatorSetRequest, _ ...grpc.CallOption) (*hostv1.ValidatorSetResponse, error) {
	if r.GetHeight() > c.head {
		return nil, status.Errorf(codes.NotFound, "no canonical block at %d", r.GetHeight())
	}
	s := &hostv1.ValidatorSet{Height: r.GetHeight(), Validators: c.set.Validators, TotalStake: c.set.TotalStake}
	return &hostv1.ValidatorSetResponse{Set: s}, nil
}

// BuildBlock takes the transfers submitted by now that the parent's chain
// does not hold, up to the block limit, and charges the build's cost.
func (c *chain) BuildBlock(_ context.Context, r *hostv1.BuildBlockRequest, _ ...grpc.CallOption) (*hostv1.BuildBlockResponse, error) {
	p := c.block(r.GetParentHash())
	if p == nil {
		return nil, status.Error(codes.NotFound, "unknown parent")
	}
	_, from := txRange(p.Header)
	to := min(c.n.s.load.submitted(c.n.s.w.Now()), from+c.n.s.load.maxPerBlock)
	to = max(to, from)
	var prop account.Address
	copy(prop[:], r.GetProposer())
	var parent block.Hash
	copy(parent[:], r.GetParentHash())
	b := blockOf(block.Header{ChainID: p.Header.ChainId, Height: p.Header.Height + 1, Parent: parent,
		TimestampMs: max(r.GetTimestampMs(), p.Header.TimestampMs+1), Proposer: prop, ConsensusData: r.GetConsensusData()}, from, to)
	c.n.charge(c.n.s.cost.build(to - from))
	return &hostv1.BuildBlockResponse{Block: hostsvc.BlockProto(b, true)}, nil
}

func (c *chain) validate(enc []byte) (*hostv1.Block, string, error) {
	blk, err := block.Decode(enc)
	if err != nil {
		return nil, "undecodable: " + err.Error(), nil
	}
	b := hostsvc.BlockProto(blk, false)
	p := c.block(b.Header.ParentHash)
	if p == nil {
		return nil, "", status.Error(codes.NotFound, "unknown parent")
	}
	if b.Header.Height != p.Header.Height+1 {
		return nil, "bad height", nil
	}
	_, pTo := txRange(p.Header)
	if from, to := txRange(b.Header); from != pTo || to < from || uint64(len(blk.Txs)) != to-from {
		return nil, "bad transfer range", nil
	}
	return b, "", nil
}

func (c *chain) ValidateBlock(_ context.Context, r *hostv1.ValidateBlockRequest, _ ...grpc.CallOption) (*hostv1.ValidateBlockResponse, error) {
	b, reason, err := c.validate(r.GetEncoded())
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return &hostv1.ValidateBlockResponse{Reason: reason}, nil
	}
	from, to := txRange(b.Header)
	c.n.charge(c.n.s.cost.validate(to - from))
	return &hostv1.ValidateBlockResponse{Valid: true, Block: b}, nil
}

func (c *chain) CommitBlock(_ context.Context, r *hostv1.CommitBlockRequest, _ ...grpc.CallOption) (*hostv1.CommitBlockResponse, error) {
	b, reason, err := c.validate(r.GetEncoded())
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return nil, status.Error(codes.InvalidArgument, reason)
	}
	if old := c.block(b.Hash); old != nil {
		return &hostv1.CommitBlockResponse{Block: old}, nil
	}
	c.known[string(b.Hash)] = b
	return &hostv1.CommitBlockResponse{Block: b}, nil
}

func (c *chain) SetHead(_ context.Context, r *hostv1.SetHeadRequest, _ ...grpc.CallOption) (*hostv1.SetHeadResponse, error) {
	b := c.block(r.GetHash())
	if b == nil {
		return nil, status.Error(codes.NotFound, "unknown block")
	}
	h := b.Header.Height
	if h <= c.final && !bytes.Equal(c.canon[h], b.Hash) {
		return nil, status.Error(codes.FailedPrecondition, "reverts a final block")
	}
	for x := h + 1; x <= c.head; x++ {
		delete(c.canon, x)
	}
	// the canonical chain below a new head follows its parents
	for x, cur := h, b; x > 0; x-- {
		if bytes.Equal(c.canon[x], cur.Hash) {
			break
		}
		c.canon[x] = cur.Hash
		cur = c.block(cur.Header.ParentHash)
		if cur == nil {
			break
		}
	}
	c.head = h
	return &hostv1.SetHeadResponse{Head: b}, nil
}

func (c *chain) Finalize(_ context.Context, r *hostv1.FinalizeRequest, _ ...grpc.CallOption) (*hostv1.FinalizeResponse, error) {
	b := c.block(r.GetHash())
	if b == nil || !bytes.Equal(c.canon[b.Header.Height], b.Hash) {
		return nil, status.Error(codes.FailedPrecondition, "not canonical")
	}
	if b.Header.Height <= c.final {
		return &hostv1.FinalizeResponse{}, nil
	}
	for h := c.final + 1; h <= b.Header.Height; h++ {
		c.n.s.finalized(c.n, c.block(c.canon[h]))
	}
	c.final = b.Header.Height
	c.certs[string(b.Hash)] = r.GetCertificate()
	return &hostv1.FinalizeResponse{}, nil
}

func (c *chain) ReportEvidence(context.Context, *hostv1.ReportEvidenceRequest, ...grpc.CallOption) (*hostv1.ReportEvidenceResponse, error) {
	c.n.s.stats.evidence++
	return &hostv1.ReportEvidenceResponse{}, nil
}
