package stark

import (
	"errors"
	"fmt"
	"math"
)

// Extension names the field every challenge (α, z, γ, the FRI folding
// coefficients) is drawn from. The zero value is E4, the field of every
// proof made before E6 existed, so their parameters and bytes are unchanged.
type Extension uint8

const (
	// E4Challenges: |F| = p^4 ≈ 2^124. Proof encoding version 1. Its
	// proven security stops near 72 bits whatever the queries (the FRI
	// batching term), so it serves statements already on chain.
	E4Challenges Extension = iota
	// E6Challenges: |F| = p^6 ≈ 2^186. Proof encoding version 2.
	E6Challenges
)

// Degree is the extension's degree over KoalaBear.
func (x Extension) Degree() int {
	if x == E6Challenges {
		return 6
	}
	return 4
}

// Bits is log2 of the extension's size.
func (x Extension) Bits() float64 { return float64(x.Degree()) * math.Log2(2130706433) }

func (x Extension) String() string { return fmt.Sprintf("E%d", x.Degree()) }

// Params are the protocol parameters. Prover and verifier must use the same
// ones; the proof carries them and the verifier refuses any other.
type Params struct {
	LogBlowup    int // LDE blowup 2^LogBlowup (FRI rate 2^-LogBlowup)
	NumQueries   int // FRI query repetitions
	GrindingBits int // proof-of-work bits before queries are drawn
	LogFoldArity int // FRI folding factor 2^LogFoldArity (1 or 2)
	LogFinalSize int // FRI stops when the degree bound is ≤ 2^LogFinalSize
	LogMerkleCap int // commit to the 2^LogMerkleCap top nodes of each tree
	// Challenges is the extension challenges live in (zero value: E4).
	Challenges Extension
}

// DefaultParams gives ~106 bits of conjectured security (see docs/stark.md):
// blowup 8, 30 queries (3 bits each), 16 grinding bits, folding by 4.
func DefaultParams() Params {
	return Params{LogBlowup: 3, NumQueries: 30, GrindingBits: 16, LogFoldArity: 2, LogFinalSize: 5, LogMerkleCap: 4}
}

// FastProverParams trades proof size for prover time: blowup 4 halves the
// LDE, hashing, DEEP and FRI work; 44 queries (2 bits each) and 16 grinding
// bits keep ~104 bits of conjectured security; proofs are ~35% larger.
func FastProverParams() Params {
	return Params{LogBlowup: 2, NumQueries: 44, GrindingBits: 16, LogFoldArity: 2, LogFinalSize: 5, LogMerkleCap: 4}
}

// ProvenParams is the parameter set for statements that must carry at
// least 100 bits of proven soundness (docs/stark.md, "Proven security"):
// E6 challenges, blowup 4, 84 queries and 20 grinding bits give 102.8 bits
// up to the Johnson bound for every trace shape within this package's
// limits (TestProvenParams), and ≥ 160 conjectured. Blowup 4 keeps the
// prover's work that of the E4 sets; the price is in the queries (a larger
// proof and a slower verifier). Blowup 8 with 56 queries reaches 103.2
// bits with ~25 % smaller proofs for about 1.8× the prover's work.
func ProvenParams() Params {
	return Params{LogBlowup: 2, NumQueries: 84, GrindingBits: 20, LogFoldArity: 2, LogFinalSize: 5, LogMerkleCap: 6, Challenges: E6Challenges}
}

// ErrParams reports invalid or mismatched parameters.
var ErrParams = errors.New("stark: invalid parameters")

// Validate checks ranges that keep the protocol well defined.
func (p Params) Validate() error {
	switch {
	case p.LogBlowup < 1 || p.LogBlowup > 6:
		return fmt.Errorf("%w: LogBlowup %d not in [1, 6]", ErrParams, p.LogBlowup)
	case p.NumQueries < 1 || p.NumQueries > 255:
		return fmt.Errorf("%w: NumQueries %d not in [1, 255]", ErrParams, p.NumQueries)
	case p.GrindingBits < 0 || p.GrindingBits > 30:
		return fmt.Errorf("%w: GrindingBits %d not in [0, 30]", ErrParams, p.GrindingBits)
	case p.LogFoldArity < 1 || p.LogFoldArity > 2:
		return fmt.Errorf("%w: LogFoldArity %d not 1 or 2", ErrParams, p.LogFoldArity)
	case p.LogFinalSize < p.LogFoldArity || p.LogFinalSize > 10:
		return fmt.Errorf("%w: LogFinalSize %d not in [LogFoldArity, 10]", ErrParams, p.LogFinalSize)
	case p.LogMerkleCap < 0 || p.LogMerkleCap > 8:
		return fmt.Errorf("%w: LogMerkleCap %d not in [0, 8]", ErrParams, p.LogMerkleCap)
	case p.Challenges > E6Challenges:
		return fmt.Errorf("%w: unknown challenge extension %d", ErrParams, p.Challenges)
	}
	return nil
}

// ConjecturedSecurity returns the conjectured bits of security under the
// ethSTARK/“toy problem” conjecture: each query contributes LogBlowup bits,
// grinding adds GrindingBits, capped by the challenge field's size minus the
// log of the LDE domain size (DEEP-ALI and FRI commit-phase errors).
func (p Params) ConjecturedSecurity(logTraceLength int) int {
	q := p.NumQueries*p.LogBlowup + p.GrindingBits
	field := int(p.Challenges.Bits()) - (logTraceLength + p.LogBlowup)
	return min(q, field)
}

// numFRILayers returns how many committed FRI layers a trace of 2^logN rows
// gets, and the number of final-polynomial coefficients.
func (p Params) numFRILayers(logN int) (layers, finalLen int) {
	d := logN
	for d > p.LogFinalSize {
		d -= p.LogFoldArity
		layers++
	}
	return layers, 1 << max(d, 0)
}
