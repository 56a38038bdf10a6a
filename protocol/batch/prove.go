package batch

import (
	"fmt"

	"github.com/trellis-chain/trellis/protocol/stark"
)

// Params is the one parameter set batch/v1 proofs use: blowup 4 (the
// fast-prover rate: half the LDE, hashing and FRI work of blowup 8), 40
// queries and 20 grinding bits, so 40·2 + 20 = 100 bits of conjectured
// security from the queries and 123 − log2(n·4) ≥ 101 bits from the field
// for every trace up to MaxUpdates (2^21 rows); Merkle caps of 64 nodes
// (8 KB smaller proofs than 16 at 1,024 transfers). See docs/stark.md.
func Params() stark.Params {
	return stark.Params{LogBlowup: 2, NumQueries: 40, GrindingBits: 20, LogFoldArity: 2, LogFinalSize: 5, LogMerkleCap: 6}
}

// Security is the soundness of a batch/v1 proof of a block of updates
// leaf updates, computed by stark.Params.Security for the statement's
// shape and the E4 challenge field. batch/v1 gives 100 conjectured bits
// but only ~58 proven (docs/stark.md): a proof of it is evidence, not a
// proof at a security level anyone should rely on alone.
func Security(updates int) stark.Security {
	return Params().Security(stark.ShapeOf(newAIR(Public{Updates: uint32(updates)})), stark.ChallengeFieldBits)
}

// traceShare is the fraction of Prove's progress given to building the trace.
const traceShare = 0.08

// Prove checks w against pub (every constraint family, in Go: the error
// wraps ErrWitness and names the update and what mismatched), builds the
// trace and proves it with backend b (nil: the CPU backend). progress may be
// nil. The proof bytes depend only on pub and w.
func Prove(pub Public, w *Witness, b stark.Backend, progress stark.Progress) ([]byte, error) {
	report := func(stage string, f float64) {
		if progress != nil {
			progress(stage, f)
		}
	}
	report("check", 0)
	pp, err := prepare(pub, w, true)
	if err != nil {
		return nil, err
	}
	report("trace", 0.01)
	a := newAIR(pub)
	trace := fillTrace(pp, a.n)
	// The Go checks above cover every constraint family, and CheckTrace
	// over the whole trace would cost a tenth of the proof; the tests run it.
	proof, err := stark.ProveWith(a, trace, Params(), b, stark.ProveOptions{
		SkipTraceCheck: true,
		ConsumeTrace:   true,
		Progress:       func(stage string, f float64) { report(stage, traceShare+(1-traceShare)*f) },
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWitness, err)
	}
	return proof.MarshalBinary()
}

// Verify checks a batch/v1 proof of pub. The error wraps ErrPublic for
// invalid public inputs, else ErrProof and the stark reason.
func Verify(pub Public, proof []byte) error {
	if err := pub.check(); err != nil {
		return err
	}
	if err := stark.VerifyBytes(newAIR(pub), Params(), proof); err != nil {
		return fmt.Errorf("%w: %w", ErrProof, err)
	}
	return nil
}
