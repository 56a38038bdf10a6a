package airs

import (
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/stark"
)

// Fibonacci proves that the n-th pair of the sequence a' = b, b' = a + b
// starting from (1, 1) ends with Result: two columns, two transition
// constraints of degree 1, three boundaries.
type Fibonacci struct {
	N      int
	Result fr.Element
}

// NewFibonacci computes the trace for n rows and the matching AIR.
func NewFibonacci(n int) (*Fibonacci, [][]fr.Element) {
	a, b := make([]fr.Element, n), make([]fr.Element, n)
	a[0].SetOne()
	b[0].SetOne()
	for i := 1; i < n; i++ {
		a[i] = b[i-1]
		b[i].Add(&a[i-1], &b[i-1])
	}
	return &Fibonacci{N: n, Result: b[n-1]}, [][]fr.Element{a, b}
}

func (f *Fibonacci) ID() string                      { return "trellis/airs/fibonacci/v1" }
func (f *Fibonacci) TraceWidth() int                 { return 2 }
func (f *Fibonacci) TraceLength() int                { return f.N }
func (f *Fibonacci) PublicInputs() []fr.Element      { return []fr.Element{f.Result} }
func (f *Fibonacci) PeriodicColumns() [][]fr.Element { return nil }
func (f *Fibonacci) ConstraintDegree() int           { return 1 }
func (f *Fibonacci) NumRowConstraints() int          { return 0 }
func (f *Fibonacci) NumTransitionConstraints() int   { return 2 }
func (f *Fibonacci) EvalBase(fm stark.Frame[fr.Element], out []fr.Element) {
	fibEval(stark.BaseField{}, fm, out)
}
func (f *Fibonacci) EvalExt(fm stark.Frame[stark.E4], out []stark.E4) {
	fibEval(stark.ExtField{}, fm, out)
}

// EvalExt6 implements stark.AIR6.
func (f *Fibonacci) EvalExt6(fm stark.Frame[stark.E6], out []stark.E6) {
	fibEval(stark.Ext6Field{}, fm, out)
}

// EvalVec implements stark.AIRVec.
func (f *Fibonacci) EvalVec(v *stark.VecField, fm stark.Frame[stark.Vec], out []stark.Vec) {
	fibEval(v, fm, out)
}
func (f *Fibonacci) Boundaries() []stark.Boundary {
	var one fr.Element
	one.SetOne()
	return []stark.Boundary{{Column: 0, Row: 0, Value: one}, {Column: 1, Row: 0, Value: one}, {Column: 1, Row: f.N - 1, Value: f.Result}}
}
func (f *Fibonacci) String() string { return fmt.Sprintf("fibonacci(%d)", f.N) }

func fibEval[T any, F stark.Field[T]](f F, fm stark.Frame[T], out []T) {
	out[0] = f.Sub(fm.Next[0], fm.Cur[1])
	out[1] = f.Sub(fm.Next[1], f.Add(fm.Cur[0], fm.Cur[1]))
}
