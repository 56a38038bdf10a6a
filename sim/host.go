package sim

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	coresigner "github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// signer is a node's host signer: its BLS key, refusing a second,
// different message for a slot it signed, as the host's does.
type signer struct {
	hostv1.SignerClient
	n       *node
	sk      *bls.SecretKey
	addr    account.Address
	chainID string
	signed  map[[3]uint64][]byte
}

func (s *signer) PublicKeys(context.Context, *hostv1.PublicKeysRequest, ...grpc.CallOption) (*hostv1.PublicKeysResponse, error) {
	pk := s.sk.PublicKey().Bytes()
	return &hostv1.PublicKeysResponse{Address: s.addr[:], BlsPublicKey: pk[:]}, nil
}

func (s *signer) SignConsensus(_ context.Context, r *hostv1.SignConsensusRequest, _ ...grpc.CallOption) (*hostv1.SignConsensusResponse, error) {
	m := vote.Message{ChainID: s.chainID, Height: r.GetHeight(), Round: r.GetRound(), Step: vote.Step(r.GetStep()), BlockHash: r.GetBlockHash(), Extra: r.GetExtra()}
	if err := m.Check(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	sb := m.SignBytes()
	k := [3]uint64{m.Height, uint64(m.Round), uint64(m.Step)}
	if prev, ok := s.signed[k]; ok && !bytes.Equal(prev, sb) {
		return nil, status.Error(codes.FailedPrecondition, fmt.Sprintf("already signed another message at %v", k))
	}
	s.signed[k] = sb
	s.n.charge(s.n.s.cost.Sign)
	sig := s.n.s.sigs.sign(s.sk, s.addr, sb)
	return &hostv1.SignConsensusResponse{Signature: sig[:], SignBytes: sb}, nil
}

func (s *signer) SignLeaderProof(_ context.Context, r *hostv1.SignLeaderProofRequest, _ ...grpc.CallOption) (*hostv1.SignLeaderProofResponse, error) {
	msg, err := coresigner.LeaderMessage(r.GetEpochSeed(), r.GetSlot())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.n.charge(s.n.s.cost.Sign)
	sig := s.n.s.sigs.sign(s.sk, s.addr, msg)
	return &hostv1.SignLeaderProofResponse{Signature: sig[:]}, nil
}

// sigCache signs each (key, message) once for the whole simulation: BLS
// signing is deterministic, so a node signing what it signed before (a
// resend) gets the same bytes; the modelled cost is charged every time.
type sigCache struct {
	m map[string][bls.SignatureSize]byte
}

func (c *sigCache) sign(sk *bls.SecretKey, a account.Address, sb []byte) [bls.SignatureSize]byte {
	k := string(a[:]) + string(sb)
	if s, ok := c.m[k]; ok {
		return s
	}
	s := bls.Sign(sk, sb).Bytes()
	c.m[k] = s
	return s
}

// store is a node's key-value namespace, in memory.
type store struct{ m map[string][]byte }

func (s *store) Get(_ context.Context, k []byte) ([]byte, error) {
	v, ok := s.m[string(k)]
	if !ok {
		return nil, sdk.ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (s *store) Batch(_ context.Context, ops []sdk.Op) error {
	for _, o := range ops {
		if o.Delete {
			delete(s.m, string(o.Key))
		} else {
			s.m[string(o.Key)] = bytes.Clone(o.Value)
		}
	}
	return nil
}

func (s *store) Scan(_ context.Context, prefix, startAfter []byte, limit int) ([]sdk.KV, bool, error) {
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, string(prefix)) && k > string(startAfter) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	more := limit > 0 && len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	out := make([]sdk.KV, len(keys))
	for i, k := range keys {
		out[i] = sdk.KV{Key: []byte(k), Value: bytes.Clone(s.m[k])}
	}
	return out, more, nil
}
