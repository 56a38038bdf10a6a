package hostsvc

import (
	"context"
	"fmt"

	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Signer serves the Signer host service: plugins ask for signatures of
// structured requests; the host builds the signed bytes itself, with its
// own chain id, and the signer's slashing protection refuses a second,
// different message for one height, round and step.
type Signer struct {
	hostv1.UnimplementedSignerServer
	s       *signer.Signer
	chainID string
}

// NewSigner returns the Signer service of s for chainID.
func NewSigner(s *signer.Signer, chainID string) *Signer { return &Signer{s: s, chainID: chainID} }

// EvidenceFunc submits verified-to-decode double-sign evidence for
// slashing and returns the slashing transaction's hash, or the zero hash
// when the offence was already reported or punished (see
// Services.Evidence).
type EvidenceFunc func(ctx context.Context, e *vote.Evidence) (tx.Hash, error)

// PublicKeys implements hostv1.SignerServer.
func (s *Signer) PublicKeys(context.Context, *hostv1.PublicKeysRequest) (*hostv1.PublicKeysResponse, error) {
	k := s.s.PublicKeys()
	return &hostv1.PublicKeysResponse{Address: k.Address[:], BlsPublicKey: k.BLSPublicKey[:],
		ProofOfPossession: k.ProofOfPossession[:], Ed25519PublicKey: k.Ed25519}, nil
}

var stepOf = map[hostv1.SignConsensusRequest_Step]vote.Step{
	hostv1.SignConsensusRequest_STEP_PROPOSAL:  vote.StepProposal,
	hostv1.SignConsensusRequest_STEP_PREVOTE:   vote.StepPrevote,
	hostv1.SignConsensusRequest_STEP_PRECOMMIT: vote.StepPrecommit,
	hostv1.SignConsensusRequest_STEP_BLOCK:     vote.StepBlock,
}

// SignConsensus implements hostv1.SignerServer. A refused signature is
// FailedPrecondition: the plugin asked for a conflicting or stale message.
func (s *Signer) SignConsensus(_ context.Context, req *hostv1.SignConsensusRequest) (*hostv1.SignConsensusResponse, error) {
	step, ok := stepOf[req.GetStep()]
	if !ok {
		return nil, toStatus(fmt.Errorf("%w: step %v", errInvalid, req.GetStep()))
	}
	if n := len(req.GetBlockHash()); n != 0 && n != vote.HashSize {
		return nil, toStatus(fmt.Errorf("%w: block_hash is %d bytes, want 0 or %d", errInvalid, n, vote.HashSize))
	}
	if n := len(req.GetExtra()); n > vote.MaxExtra {
		return nil, toStatus(fmt.Errorf("%w: extra is %d bytes, at most %d", errInvalid, n, vote.MaxExtra))
	}
	m := vote.Message{ChainID: s.chainID, Height: req.GetHeight(), Round: req.GetRound(), Step: step,
		BlockHash: req.GetBlockHash(), Extra: req.GetExtra()}
	sig, sb, err := s.s.SignConsensus(m)
	if err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.SignConsensusResponse{Signature: sig[:], SignBytes: sb}, nil
}

// SignLeaderProof implements hostv1.SignerServer.
func (s *Signer) SignLeaderProof(_ context.Context, req *hostv1.SignLeaderProofRequest) (*hostv1.SignLeaderProofResponse, error) {
	sig, err := s.s.SignLeaderProof(req.GetEpochSeed(), req.GetSlot())
	if err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.SignLeaderProofResponse{Signature: sig[:]}, nil
}
