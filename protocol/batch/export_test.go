package batch

import (
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/state"
)

// Test hooks for the external tests.

// CheckTrace builds the trace of w without the Go checks of the leaf rules
// (shapes, roots and batch hash must still hold) and runs stark.CheckTrace.
func CheckTrace(pub Public, w *Witness) error {
	pp, err := prepare(pub, w, false)
	if err != nil {
		return err
	}
	a := newAIR(pub)
	return stark.CheckTrace(a, fillTrace(pp, a.n))
}

// ProveUnchecked proves w's trace without any check, so that tests can show
// the verifier rejects proofs of bad witnesses.
func ProveUnchecked(pub Public, w *Witness) ([]byte, error) {
	pp, err := prepare(pub, w, false)
	if err != nil {
		return nil, err
	}
	a := newAIR(pub)
	p, err := stark.ProveWith(a, fillTrace(pp, a.n), Params(), nil, stark.ProveOptions{SkipTraceCheck: true})
	if err != nil {
		return nil, err
	}
	return p.MarshalBinary()
}

// Rebuild recomputes every update's siblings from ov (the parent state)
// and the public inputs that match w's leaves, as Build does from records.
func Rebuild(ov *state.Overlay, w *Witness) Public {
	old, nw := leafDigests(w.Updates)
	pub := Public{OldRoot: ov.Root(), Updates: uint32(len(w.Updates))}
	for i := range w.Updates {
		u := &w.Updates[i]
		u.Siblings = ov.Proof(u.Index)
		ov.Update([]state.LeafUpdate{{Index: u.Index, Leaf: nw[i]}})
	}
	pub.NewRoot = ov.Root()
	pub.BatchHash, _ = batchHash(w.Updates, old, nw)
	return pub
}

// TraceLength is the trace length of a statement of u updates.
func TraceLength(u int) int { return traceLength(u) }

// Width is the trace width.
const Width = width

// ProveParams proves w's trace under parameters p (E4 or E6), for the
// benchmark that prices proven security on this statement.
func ProveParams(pub Public, w *Witness, p stark.Params) ([]byte, error) {
	pp, err := prepare(pub, w, true)
	if err != nil {
		return nil, err
	}
	a := newAIR(pub)
	proof, err := stark.ProveWith(a, fillTrace(pp, a.n), p, nil, stark.ProveOptions{SkipTraceCheck: true})
	if err != nil {
		return nil, err
	}
	return proof.MarshalBinary()
}

// VerifyParams verifies a proof made by ProveParams.
func VerifyParams(pub Public, proof []byte, p stark.Params) error {
	return stark.VerifyBytes(newAIR(pub), p, proof)
}

// Shape is the statement's shape for u updates.
func Shape(u int) stark.Shape { return stark.ShapeOf(newAIR(Public{Updates: uint32(u)})) }

// AIR is the statement's AIR for u updates (for stark.CheckEvalVec).
func AIR(u int) stark.AIR { return newAIR(Public{Updates: uint32(u)}) }
