package stark

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// Frame is what a constraint sees at one point: the current and next trace
// rows and the values of the periodic columns.
type Frame[T any] struct {
	Cur, Next, Periodic []T
}

// Boundary pins trace cell (Row, Column) to Value.
type Boundary struct {
	Column, Row int
	Value       fr.Element
}

// AIR describes a computation as polynomial constraints over an execution
// trace of TraceLength rows and TraceWidth base-field columns.
//
// Constraints come in two kinds, evaluated together into `out`: the first
// NumRowConstraints hold on every row and may read only Cur and Periodic; the
// following NumTransitionConstraints relate Cur to Next and hold on every row
// but the last. EvalBase and EvalExt must compute the same polynomials (write
// the constraints once as a generic function over Field and call it from both).
type AIR interface {
	// ID names the statement and its version; it is bound into the transcript.
	ID() string
	TraceWidth() int
	// TraceLength is a power of two, at least 4.
	TraceLength() int
	// PublicInputs are bound into the transcript (the boundaries usually
	// derive from them).
	PublicInputs() []fr.Element
	// PeriodicColumns returns columns whose lengths are powers of two dividing
	// TraceLength; row i sees value col[i mod len(col)].
	PeriodicColumns() [][]fr.Element
	// ConstraintDegree bounds the total degree of every constraint in the
	// trace and periodic values.
	ConstraintDegree() int
	NumRowConstraints() int
	NumTransitionConstraints() int
	EvalBase(f Frame[fr.Element], out []fr.Element)
	EvalExt(f Frame[E4], out []E4)
	Boundaries() []Boundary
}

// AIR6 is an AIR that can be proven with E6 challenges: the verifier
// evaluates its constraints at an E6 point. Write it from the same generic
// function as EvalExt, over Ext6Field.
type AIR6 interface {
	AIR
	EvalExt6(f Frame[E6], out []E6)
}

// Limits on AIR shapes, so that untrusted sizes cannot exhaust memory.
const (
	MaxTraceWidth     = 1 << 12
	MaxLogTraceLength = 22
	MaxConstraints    = 1 << 14
	MaxBoundaries     = 1 << 14
)

// ErrAIR reports an AIR whose shape is invalid or unsupported.
var ErrAIR = errors.New("stark: invalid AIR")

// checkAIR validates the AIR's shape against the parameters.
func checkAIR(a AIR, p Params) error {
	n, w := a.TraceLength(), a.TraceWidth()
	if n < 4 || n&(n-1) != 0 || bits.TrailingZeros(uint(n)) > MaxLogTraceLength {
		return fmt.Errorf("%w: trace length %d is not a power of two in [4, 2^%d]", ErrAIR, n, MaxLogTraceLength)
	}
	if bits.TrailingZeros(uint(n))+p.LogBlowup > 24 {
		return fmt.Errorf("%w: LDE domain 2^%d exceeds the field's 2^24 subgroup", ErrAIR, bits.TrailingZeros(uint(n))+p.LogBlowup)
	}
	if w < 1 || w > MaxTraceWidth {
		return fmt.Errorf("%w: trace width %d not in [1, %d]", ErrAIR, w, MaxTraceWidth)
	}
	d := a.ConstraintDegree()
	if d < 1 || ceFactor(d) > 1<<p.LogBlowup {
		return fmt.Errorf("%w: constraint degree %d needs blowup ≥ %d", ErrAIR, d, ceFactor(d))
	}
	if _, ok := a.(AIR6); p.Challenges == E6Challenges && !ok {
		return fmt.Errorf("%w: %s has no E6 evaluation (EvalExt6), so it cannot be proven with E6 challenges", ErrAIR, a.ID())
	}
	r, t := a.NumRowConstraints(), a.NumTransitionConstraints()
	if r < 0 || t < 0 || r+t == 0 || r+t > MaxConstraints {
		return fmt.Errorf("%w: %d row and %d transition constraints", ErrAIR, r, t)
	}
	for i, c := range a.PeriodicColumns() {
		m := len(c)
		if m < 1 || m&(m-1) != 0 || m > n {
			return fmt.Errorf("%w: periodic column %d has length %d (want a power of two ≤ %d)", ErrAIR, i, m, n)
		}
	}
	bs := a.Boundaries()
	if len(bs) > MaxBoundaries {
		return fmt.Errorf("%w: %d boundary constraints", ErrAIR, len(bs))
	}
	for i, b := range bs {
		if b.Column < 0 || b.Column >= w || b.Row < 0 || b.Row >= n {
			return fmt.Errorf("%w: boundary %d at (row %d, column %d) is outside the %d×%d trace", ErrPublicInputs, i, b.Row, b.Column, n, w)
		}
	}
	return nil
}

// ceFactor is the size of the constraint-evaluation domain over the trace
// domain: the composition quotient has degree < (d-1)·n, so it is evaluated on
// n·ceFactor points and split into ceFactor chunks of degree < n.
func ceFactor(d int) int {
	c := 1
	for c < d-1 {
		c <<= 1
	}
	return c
}

// CheckTrace evaluates every constraint of a on the trace and reports the first
// violated one. The prover calls it so that a wrong witness fails fast with a
// clear error instead of producing a proof that does not verify.
func CheckTrace(a AIR, trace [][]fr.Element) error {
	n, w := a.TraceLength(), a.TraceWidth()
	if len(trace) != w {
		return fmt.Errorf("%w: trace has %d columns, AIR wants %d", ErrTrace, len(trace), w)
	}
	for c := range trace {
		if len(trace[c]) != n {
			return fmt.Errorf("%w: column %d has %d rows, AIR wants %d", ErrTrace, c, len(trace[c]), n)
		}
	}
	for i, b := range a.Boundaries() {
		if !trace[b.Column][b.Row].Equal(&b.Value) {
			return fmt.Errorf("%w: boundary %d (row %d, column %d)", ErrTrace, i, b.Row, b.Column)
		}
	}
	per := a.PeriodicColumns()
	nr, nt := a.NumRowConstraints(), a.NumTransitionConstraints()
	// Rows are checked in parallel chunks; the first failing row of the
	// lowest chunk is reported, so the error does not depend on scheduling.
	const chunks = 16
	errs := make([]error, chunks)
	parallelFor(chunks, runtime.GOMAXPROCS(0), func(ch int) {
		f := Frame[fr.Element]{Cur: make([]fr.Element, w), Next: make([]fr.Element, w), Periodic: make([]fr.Element, len(per))}
		out := make([]fr.Element, nr+nt)
		for i := ch * n / chunks; i < (ch+1)*n/chunks; i++ {
			for c := range w {
				f.Cur[c], f.Next[c] = trace[c][i], trace[c][(i+1)%n]
			}
			for j, p := range per {
				f.Periodic[j] = p[i%len(p)]
			}
			a.EvalBase(f, out)
			for k := range out {
				if k >= nr && i == n-1 {
					break
				}
				if !out[k].IsZero() {
					errs[ch] = fmt.Errorf("%w: constraint %d fails at row %d", ErrTrace, k, i)
					return
				}
			}
		}
	})
	return errors.Join(errs...)
}
