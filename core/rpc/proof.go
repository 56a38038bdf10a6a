package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// ProofBackend is what a node that keeps block witnesses and proofs adds to
// Backend. The server finds it by type assertion on the Backend, as it
// finds NetBackend: a node without it answers trellis_getWitness and
// trellis_getProof with CodeMethodNotFound saying why.
type ProofBackend interface {
	// Witness returns the batch/v1 public inputs and the encoded witness
	// (batch.Witness.Encode) of the block at height on the canonical chain;
	// ErrNotFound if there is no such block or the node no longer keeps
	// what the witness is built from.
	Witness(ctx context.Context, height uint64) (batch.Public, []byte, error)
	// Proof returns the proof recorded on chain for the block at height;
	// ErrNotFound if none is recorded yet.
	Proof(ctx context.Context, height uint64) (*ProofRecord, error)
}

// ProofRecord is a block's proof as the chain recorded it.
type ProofRecord struct {
	File *batch.File
	// Prover is the account credited with the proof.
	Prover account.Address
	// TxHash is the transaction that carried the proof, if it came in one.
	TxHash *tx.Hash
}

// Size bounds of the proof methods: the largest witness batch/v1 admits
// (batch.MaxUpdates account updates with both leaves and 32 siblings, about
// 1.2 KiB each, ~21 MiB) and the largest proof protocol/stark decodes.
const (
	MaxWitnessBytes = 5 + batch.MaxUpdates*(4+2+2*4*batch.AccountLeafElements+state.Depth*hash.DigestSize)
	MaxProofBytes   = stark.MaxProofSize
)

// WitnessResult is the answer of trellis_getWitness: everything a prover
// needs to prove the block, and nothing it must trust.
type WitnessResult struct {
	Height uint64 `json:"height"`
	// Public is the canonical public-input encoding (batch.Public.Encode).
	Public Bytes `json:"public"`
	// OldRoot, NewRoot and BatchHash repeat Public for people reading it.
	OldRoot   Root   `json:"oldRoot"`
	NewRoot   Root   `json:"newRoot"`
	BatchHash Root   `json:"batchHash"`
	Updates   uint32 `json:"updates"`
	// Witness is the canonical witness encoding, in standard base64: it
	// is the largest answer of the API, and base64 is 2/3 of hex.
	Witness []byte `json:"witness"`
}

// ProofResult is the answer of trellis_getProof.
type ProofResult struct {
	Height    uint64 `json:"height"`
	Public    Bytes  `json:"public"`
	OldRoot   Root   `json:"oldRoot"`
	NewRoot   Root   `json:"newRoot"`
	BatchHash Root   `json:"batchHash"`
	Updates   uint32 `json:"updates"`
	// Proof is the STARK proof bytes, standard base64.
	Proof  []byte          `json:"proof"`
	Prover account.Address `json:"prover"`
	TxHash *tx.Hash        `json:"txHash,omitempty"`
}

func (s *Server) proofBackend(method string) (ProofBackend, error) {
	pb, ok := s.b.(ProofBackend)
	if !ok {
		return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("method %q is unavailable: this node keeps no block witnesses or proofs", method)}
	}
	return pb, nil
}

// proofHeight reads the one parameter of the proof methods: a block height
// that is a JSON number. Genesis has no proof: it is the starting state.
func (p params) proofHeight(i int) (uint64, error) {
	const name = "height"
	if i >= len(p) {
		return 0, &ParamError{Index: i, Name: name, Err: errors.New("missing")}
	}
	if kindOf(p[i]) != "a number" {
		return 0, &ParamError{Index: i, Name: name, Err: fmt.Errorf("want a block height (a JSON number), got %s", kindOf(p[i]))}
	}
	h, err := height(p[i], i, name)
	if err != nil {
		return 0, err
	}
	if h == 0 {
		return 0, &ParamError{Index: i, Name: name, Err: errors.New("block 0 is the genesis state and has no proof: want a height of at least 1")}
	}
	return h, nil
}

func rootOf(d hash.Digest) Root { return Root(d.Bytes()) }

// getWitness is trellis_getWitness(height).
func getWitness(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	pb, err := s.proofBackend("trellis_getWitness")
	if err != nil {
		return nil, err
	}
	h, err := p.proofHeight(0)
	if err != nil {
		return nil, err
	}
	pub, w, err := pb.Witness(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("witness of block %d: %w", h, err)
	}
	if len(w) == 0 {
		return nil, fmt.Errorf("witness of block %d: %w", h, errNoResult)
	}
	if len(w) > MaxWitnessBytes {
		return nil, fmt.Errorf("witness of block %d: %d bytes exceed the API's limit of %d", h, len(w), MaxWitnessBytes)
	}
	return &WitnessResult{Height: h, Public: pub.Encode(), OldRoot: rootOf(pub.OldRoot), NewRoot: rootOf(pub.NewRoot),
		BatchHash: rootOf(pub.BatchHash), Updates: pub.Updates, Witness: w}, nil
}

// getProof is trellis_getProof(height).
func getProof(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	pb, err := s.proofBackend("trellis_getProof")
	if err != nil {
		return nil, err
	}
	h, err := p.proofHeight(0)
	if err != nil {
		return nil, err
	}
	r, err := pb.Proof(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("proof of block %d: %w", h, err)
	}
	if r == nil || r.File == nil || len(r.File.Proof) == 0 {
		return nil, fmt.Errorf("proof of block %d: %w", h, errNoResult)
	}
	if len(r.File.Proof) > MaxProofBytes {
		return nil, fmt.Errorf("proof of block %d: %d bytes exceed the API's limit of %d", h, len(r.File.Proof), MaxProofBytes)
	}
	pub := r.File.Public
	return &ProofResult{Height: h, Public: pub.Encode(), OldRoot: rootOf(pub.OldRoot), NewRoot: rootOf(pub.NewRoot),
		BatchHash: rootOf(pub.BatchHash), Updates: pub.Updates, Proof: r.File.Proof, Prover: r.Prover, TxHash: r.TxHash}, nil
}

// ErrBadProofResult reports a node's answer to a proof method that does not
// hold together: the caller must not use it.
var ErrBadProofResult = errors.New("rpc: inconsistent proof method result")

// checkPublic decodes the canonical public inputs and checks that the readable
// copies say the same.
func checkPublic(method string, raw Bytes, oldRoot, newRoot, batchHash Root, updates uint32) (batch.Public, error) {
	pub, err := batch.DecodePublic(raw)
	if err != nil {
		return batch.Public{}, fmt.Errorf("%w: %s: public inputs: %w", ErrBadProofResult, method, err)
	}
	if rootOf(pub.OldRoot) != oldRoot || rootOf(pub.NewRoot) != newRoot || rootOf(pub.BatchHash) != batchHash || pub.Updates != updates {
		return batch.Public{}, fmt.Errorf("%w: %s: the public inputs %s disagree with the roots, batch hash or update count beside them",
			ErrBadProofResult, method, raw)
	}
	return pub, nil
}

// Witness fetches the public inputs and encoded witness of the block at
// height (trellis_getWitness). The public inputs are decoded and checked;
// the witness is returned as the node sent it, for batch.DecodeWitness.
// A node without the proof methods answers an *Error with
// CodeMethodNotFound; an unknown block one that errors.Is ErrNotFound.
func (c *Client) Witness(ctx context.Context, height uint64) (batch.Public, []byte, error) {
	var r *WitnessResult
	if err := c.Call(ctx, "trellis_getWitness", &r, height); err != nil {
		return batch.Public{}, nil, err
	}
	return r.check(height)
}

func (r *WitnessResult) check(height uint64) (batch.Public, []byte, error) {
	const m = "trellis_getWitness"
	if r == nil {
		return batch.Public{}, nil, fmt.Errorf("%w: %s: null result", ErrBadProofResult, m)
	}
	if r.Height != height {
		return batch.Public{}, nil, fmt.Errorf("%w: %s: asked for block %d, got the witness of block %d", ErrBadProofResult, m, height, r.Height)
	}
	if len(r.Witness) == 0 || len(r.Witness) > MaxWitnessBytes {
		return batch.Public{}, nil, fmt.Errorf("%w: %s: witness of %d bytes, want 1 to %d", ErrBadProofResult, m, len(r.Witness), MaxWitnessBytes)
	}
	pub, err := checkPublic(m, r.Public, r.OldRoot, r.NewRoot, r.BatchHash, r.Updates)
	if err != nil {
		return batch.Public{}, nil, err
	}
	return pub, r.Witness, nil
}

// Proof fetches the proof recorded on chain for the block at height
// (trellis_getProof). It checks that the answer is well formed, not that
// the proof is valid: verify it with batch.Verify(rec.File.Public,
// rec.File.Proof). No proof yet answers an error that errors.Is
// ErrNotFound.
func (c *Client) Proof(ctx context.Context, height uint64) (*ProofRecord, error) {
	var r *ProofResult
	if err := c.Call(ctx, "trellis_getProof", &r, height); err != nil {
		return nil, err
	}
	return r.check(height)
}

func (r *ProofResult) check(height uint64) (*ProofRecord, error) {
	const m = "trellis_getProof"
	if r == nil {
		return nil, fmt.Errorf("%w: %s: null result", ErrBadProofResult, m)
	}
	if r.Height != height {
		return nil, fmt.Errorf("%w: %s: asked for block %d, got the proof of block %d", ErrBadProofResult, m, height, r.Height)
	}
	if len(r.Proof) == 0 || len(r.Proof) > MaxProofBytes {
		return nil, fmt.Errorf("%w: %s: proof of %d bytes, want 1 to %d", ErrBadProofResult, m, len(r.Proof), MaxProofBytes)
	}
	pub, err := checkPublic(m, r.Public, r.OldRoot, r.NewRoot, r.BatchHash, r.Updates)
	if err != nil {
		return nil, err
	}
	return &ProofRecord{File: &batch.File{Public: pub, Proof: bytes.Clone(r.Proof)}, Prover: r.Prover, TxHash: r.TxHash}, nil
}
