package hostsvc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Chain serves the Chain host service over a chain.Chain. Each handler
// validates the request, calls the chain, and maps errors through errTable.
type Chain struct {
	hostv1.UnimplementedChainServer
	c        *chain.Chain
	evidence EvidenceFunc // nil: ReportEvidence is Unimplemented
	pool     Pool         // nil: Events sends no mempool_size
}

// Pool is what Events needs of the mempool: its size and its changes.
type Pool interface {
	Len() int
	Subscribe() (<-chan mempool.Event, func())
}

// WithPool makes Events report the mempool's size (capability
// host.chain.mempool).
func (s *Chain) WithPool(p Pool) *Chain {
	s.pool = p
	return s
}

// NewChain returns the Chain service of c.
func NewChain(c *chain.Chain) *Chain { return &Chain{c: c} }

// BlockProto converts a block to its protocol view.
func BlockProto(b *block.Block, withEncoded bool) *hostv1.Block {
	h := b.Hash()
	hd := &b.Header
	sr := hd.StateRoot.Bytes()
	p := &hostv1.Block{
		Hash: h[:],
		Header: &hostv1.Header{
			Version: uint32(hd.Version()), ChainId: hd.ChainID, Height: hd.Height, ParentHash: hd.Parent[:],
			TimestampMs: hd.TimestampMs, Proposer: hd.Proposer[:], TxRoot: hd.TxRoot[:], StateRoot: sr[:],
			DaCommitments: hd.DACommitments, BaseFee: hd.BaseFee, GasLimit: hd.GasLimit, GasUsed: hd.GasUsed,
			ConsensusData: hd.ConsensusData, ReceiptsRoot: hd.ReceiptsRoot[:],
		},
		TxCount: uint32(len(b.Txs)),
	}
	for _, pr := range hd.Proofs {
		p.Header.Proofs = append(p.Header.Proofs, &hostv1.ProofRef{Height: pr.Height, BlockHash: pr.BlockHash[:], ProofHash: pr.ProofHash[:], Prover: pr.Prover[:]})
	}
	if withEncoded {
		p.Encoded = b.Encode()
	}
	return p
}

func hashArg(b []byte, field string) (block.Hash, error) {
	var h block.Hash
	if len(b) != block.HashSize {
		return h, fmt.Errorf("%w: %s is %d bytes, want %d", errInvalid, field, len(b), block.HashSize)
	}
	copy(h[:], b)
	return h, nil
}

var finalityProto = map[chain.Finality]hostv1.Finality{
	chain.Pending:   hostv1.Finality_FINALITY_PENDING,
	chain.Canonical: hostv1.Finality_FINALITY_CANONICAL,
	chain.Final:     hostv1.Finality_FINALITY_FINAL,
	chain.Proven:    hostv1.Finality_FINALITY_PROVEN,
}

// Head implements hostv1.ChainServer.
func (s *Chain) Head(context.Context, *hostv1.HeadRequest) (*hostv1.HeadResponse, error) {
	head, final := s.c.Head()
	return &hostv1.HeadResponse{Head: BlockProto(head, false), Finalized: BlockProto(final, false)}, nil
}

// GetBlock implements hostv1.ChainServer.
func (s *Chain) GetBlock(_ context.Context, req *hostv1.GetBlockRequest) (*hostv1.GetBlockResponse, error) {
	var b *block.Block
	var err error
	switch ref := req.GetRef().GetRef().(type) {
	case *hostv1.BlockRef_Hash:
		var h block.Hash
		if h, err = hashArg(ref.Hash, "ref.hash"); err != nil {
			return nil, toStatus(err)
		}
		b, err = s.c.BlockByHash(h)
	case *hostv1.BlockRef_Height:
		b, err = s.c.BlockByHeight(ref.Height)
	default:
		return nil, toStatus(fmt.Errorf("%w: ref needs a hash or a height", errInvalid))
	}
	if err != nil {
		return nil, toStatus(err)
	}
	bp := BlockProto(b, req.GetWithEncoded())
	if bp.Certificate, err = s.c.Certificate(b.Hash()); err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.GetBlockResponse{Block: bp, Finality: finalityProto[s.c.FinalityOf(&b.Header)]}, nil
}

// ValidatorSet implements hostv1.ChainServer: the set after the canonical
// block at the height, which is the set that decides the next block.
func (s *Chain) ValidatorSet(_ context.Context, req *hostv1.ValidatorSetRequest) (*hostv1.ValidatorSetResponse, error) {
	set, err := ValidatorSetProto(s.c, req.GetHeight())
	if err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.ValidatorSetResponse{Set: set}, nil
}

// ValidatorSetProto is the validator set after the canonical block at
// height, as plugins see it.
func ValidatorSetProto(c *chain.Chain, height uint64) (*hostv1.ValidatorSet, error) {
	vs, total, _, err := c.ValidatorSet(height)
	if err != nil {
		return nil, err
	}
	set := &hostv1.ValidatorSet{Height: height, TotalStake: total}
	for _, v := range vs {
		a := v.Account
		set.Validators = append(set.Validators, &hostv1.Validator{
			Address: a.Address[:], BlsPublicKey: a.Validator.BLSPublicKey[:], ProofOfPossession: a.Validator.ProofOfPossession[:],
			Stake: v.Stake, Delegated: a.Validator.Delegated,
		})
	}
	return set, nil
}

// BuildBlock implements hostv1.ChainServer.
func (s *Chain) BuildBlock(ctx context.Context, req *hostv1.BuildBlockRequest) (*hostv1.BuildBlockResponse, error) {
	parent, err := hashArg(req.GetParentHash(), "parent_hash")
	if err != nil {
		return nil, toStatus(err)
	}
	br := chain.BuildRequest{Parent: parent, TimestampMs: req.GetTimestampMs(), MaxGas: req.GetMaxGas(), ConsensusData: req.GetConsensusData()}
	if p := req.GetProposer(); len(p) > 0 {
		if br.Proposer, err = account.AddressFromBytes(p); err != nil {
			return nil, toStatus(fmt.Errorf("%w: proposer: %v", errInvalid, err))
		}
	}
	if len(req.GetProofs()) > block.MaxProofs {
		return nil, toStatus(fmt.Errorf("%w: %d proofs, at most %d", errInvalid, len(req.GetProofs()), block.MaxProofs))
	}
	for i, pr := range req.GetProofs() {
		ref := block.ProofRef{Height: pr.GetHeight()}
		if len(pr.GetBlockHash()) != block.HashSize || len(pr.GetProofHash()) != 32 {
			return nil, toStatus(fmt.Errorf("%w: proofs[%d]: block_hash and proof_hash must be 32 bytes", errInvalid, i))
		}
		copy(ref.BlockHash[:], pr.GetBlockHash())
		copy(ref.ProofHash[:], pr.GetProofHash())
		if ref.Prover, err = account.AddressFromBytes(pr.GetProver()); err != nil {
			return nil, toStatus(fmt.Errorf("%w: proofs[%d].prover: %v", errInvalid, i, err))
		}
		br.Proofs = append(br.Proofs, ref)
	}
	b, err := s.c.Build(ctx, br)
	if err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.BuildBlockResponse{Block: BlockProto(b, true)}, nil
}

// ValidateBlock implements hostv1.ChainServer. A block that breaks a rule
// is a normal answer (valid false, with the reason); a block whose parent
// is unknown is NotFound, so the plugin can fetch the parent first.
func (s *Chain) ValidateBlock(ctx context.Context, req *hostv1.ValidateBlockRequest) (*hostv1.ValidateBlockResponse, error) {
	if len(req.GetEncoded()) > block.MaxSize {
		return nil, toStatus(fmt.Errorf("%w: block of %d bytes, at most %d", errTooLarge, len(req.GetEncoded()), block.MaxSize))
	}
	b, err := s.c.Validate(ctx, req.GetEncoded())
	var ie *chain.InvalidError
	switch {
	case errors.As(err, &ie):
		return &hostv1.ValidateBlockResponse{Valid: false, Reason: ie.Error()}, nil
	case err != nil:
		return nil, toStatus(err)
	}
	return &hostv1.ValidateBlockResponse{Valid: true, Block: BlockProto(b, false)}, nil
}

// CommitBlock implements hostv1.ChainServer.
func (s *Chain) CommitBlock(ctx context.Context, req *hostv1.CommitBlockRequest) (*hostv1.CommitBlockResponse, error) {
	if len(req.GetEncoded()) > block.MaxSize {
		return nil, toStatus(fmt.Errorf("%w: block of %d bytes, at most %d", errTooLarge, len(req.GetEncoded()), block.MaxSize))
	}
	b, err := s.c.Commit(ctx, req.GetEncoded())
	if err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.CommitBlockResponse{Block: BlockProto(b, false)}, nil
}

// SetHead implements hostv1.ChainServer.
func (s *Chain) SetHead(ctx context.Context, req *hostv1.SetHeadRequest) (*hostv1.SetHeadResponse, error) {
	h, err := hashArg(req.GetHash(), "hash")
	if err != nil {
		return nil, toStatus(err)
	}
	reverted, err := s.c.SetHead(ctx, h)
	if err != nil {
		return nil, toStatus(err)
	}
	head, _ := s.c.Head()
	resp := &hostv1.SetHeadResponse{Head: BlockProto(head, false)}
	for _, r := range reverted {
		resp.Reverted = append(resp.Reverted, r[:])
	}
	return resp, nil
}

// Finalize implements hostv1.ChainServer.
func (s *Chain) Finalize(ctx context.Context, req *hostv1.FinalizeRequest) (*hostv1.FinalizeResponse, error) {
	h, err := hashArg(req.GetHash(), "hash")
	if err != nil {
		return nil, toStatus(err)
	}
	if len(req.GetCertificate()) > block.MaxConsensusData {
		return nil, toStatus(fmt.Errorf("%w: certificate of %d bytes, at most %d", errTooLarge, len(req.GetCertificate()), block.MaxConsensusData))
	}
	if err := s.c.Finalize(ctx, h, req.GetCertificate()); err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.FinalizeResponse{}, nil
}

// Events implements hostv1.ChainServer: head changes, finality and blocks
// joining the tree, until the call ends. With a pool (WithPool) it also
// sends mempool_size when the stream starts and whenever the pool becomes
// empty or stops being empty: a consensus plugin that skips empty blocks
// waits on it, and a plugin that does not ignores a handful of events.
func (s *Chain) Events(_ *hostv1.EventsRequest, stream hostv1.Chain_EventsServer) error {
	ch, cancel := s.c.Subscribe()
	defer cancel()
	var poolEv <-chan mempool.Event
	empty := false
	if s.pool != nil {
		var stop func()
		poolEv, stop = s.pool.Subscribe()
		defer stop()
	}
	// As Network.Subscribe: the header says the stream is live, so a plugin
	// that waits for it misses no event.
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	sendSize := func() error {
		n := s.pool.Len()
		empty = n == 0
		return stream.Send(&hostv1.ChainEvent{Event: &hostv1.ChainEvent_MempoolSize{MempoolSize: uint32(min(n, 1<<31))}})
	}
	if s.pool != nil {
		if err := sendSize(); err != nil {
			return err
		}
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-poolEv:
			if !ok {
				poolEv = nil
				continue
			}
			// Events can be lost when this stream falls behind; the size
			// is read fresh, so a lost event only delays the next report.
			if (s.pool.Len() == 0) != empty {
				if err := sendSize(); err != nil {
					return err
				}
			}
		case e, ok := <-ch:
			if !ok {
				return status.Error(codes.Unavailable, "chain closed")
			}
			var ev *hostv1.ChainEvent
			switch e.Kind {
			case chain.EventHead:
				ev = &hostv1.ChainEvent{Event: &hostv1.ChainEvent_HeadChanged{HeadChanged: BlockProto(e.Block, false)}}
			case chain.EventFinal:
				bp := BlockProto(e.Block, false)
				// A plugin that did not take part in the decision (sync)
				// needs the certificate to build on the block.
				if cert, err := s.c.Certificate(e.Block.Hash()); err == nil {
					bp.Certificate = cert
				}
				ev = &hostv1.ChainEvent{Event: &hostv1.ChainEvent_Finalized{Finalized: bp}}
			case chain.EventCommitted:
				ev = &hostv1.ChainEvent{Event: &hostv1.ChainEvent_BlockReceived{BlockReceived: BlockProto(e.Block, false)}}
			default:
				continue
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

// WithEvidence makes ReportEvidence hand decoded evidence to f.
func (s *Chain) WithEvidence(f EvidenceFunc) *Chain {
	s.evidence = f
	return s
}

// ReportEvidence implements hostv1.ChainServer: it decodes the evidence,
// checks that it conflicts and is for this chain, and hands it to the
// node, which verifies it against state and submits a slashing
// transaction. An empty tx_hash means the offence was already reported or
// punished.
func (s *Chain) ReportEvidence(ctx context.Context, req *hostv1.ReportEvidenceRequest) (*hostv1.ReportEvidenceResponse, error) {
	if s.evidence == nil {
		return nil, status.Error(codes.Unimplemented, "this node does not take evidence reports")
	}
	if n := len(req.GetEvidence()); n > vote.MaxEvidenceSize {
		return nil, toStatus(fmt.Errorf("%w: evidence of %d bytes, at most %d", errTooLarge, n, vote.MaxEvidenceSize))
	}
	e, err := vote.DecodeEvidence(req.GetEvidence())
	if err != nil {
		return nil, toStatus(fmt.Errorf("%w: evidence: %w", errInvalid, err))
	}
	if id := s.c.ChainID(); e.A.ChainID != id {
		return nil, toStatus(fmt.Errorf("%w: evidence of an offence on chain %q, this chain is %q", errInvalid, e.A.ChainID, id))
	}
	h, err := s.evidence(ctx, e)
	if err != nil {
		return nil, toStatus(err)
	}
	if h == (tx.Hash{}) {
		return &hostv1.ReportEvidenceResponse{}, nil
	}
	return &hostv1.ReportEvidenceResponse{TxHash: h[:]}, nil
}
