package stark

import (
	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// cubeAIR is a test AIR exercising every kind of constraint: columns x and y,
// row constraint y = x³ (degree 3), transition x' = y + k[i mod 4] with k a
// periodic column, boundaries x[0] = in and x[n-1] = out.
type cubeAIR struct {
	n       int
	in, out fr.Element
}

var cubeK = func() []fr.Element {
	k := make([]fr.Element, 4)
	for i := range k {
		k[i].SetUint64(uint64(17 + 1000*i))
	}
	return k
}()

func cubeTrace(n int, in fr.Element) ([][]fr.Element, fr.Element) {
	x, y := make([]fr.Element, n), make([]fr.Element, n)
	x[0] = in
	for i := range n {
		y[i].Cube(&x[i])
		if i+1 < n {
			x[i+1].Add(&y[i], &cubeK[i%4])
		}
	}
	return [][]fr.Element{x, y}, x[n-1]
}

func (a *cubeAIR) ID() string                                     { return "test/cube/v1" }
func (a *cubeAIR) TraceWidth() int                                { return 2 }
func (a *cubeAIR) TraceLength() int                               { return a.n }
func (a *cubeAIR) PublicInputs() []fr.Element                     { return []fr.Element{a.in, a.out} }
func (a *cubeAIR) PeriodicColumns() [][]fr.Element                { return [][]fr.Element{cubeK} }
func (a *cubeAIR) ConstraintDegree() int                          { return 3 }
func (a *cubeAIR) NumRowConstraints() int                         { return 1 }
func (a *cubeAIR) NumTransitionConstraints() int                  { return 1 }
func (a *cubeAIR) EvalBase(f Frame[fr.Element], out []fr.Element) { cubeEval(BaseField{}, f, out) }
func (a *cubeAIR) EvalExt(f Frame[E4], out []E4)                  { cubeEval(ExtField{}, f, out) }
func (a *cubeAIR) EvalExt6(f Frame[E6], out []E6)                 { cubeEval(Ext6Field{}, f, out) }
func (a *cubeAIR) EvalVec(v *VecField, f Frame[Vec], out []Vec)   { cubeEval(v, f, out) }
func (a *cubeAIR) Boundaries() []Boundary {
	return []Boundary{{Column: 0, Row: 0, Value: a.in}, {Column: 0, Row: a.n - 1, Value: a.out}}
}

func cubeEval[T any, F Field[T]](f F, fr Frame[T], out []T) {
	x, y := fr.Cur[0], fr.Cur[1]
	out[0] = f.Sub(y, f.Mul(f.Square(x), x))
	out[1] = f.Sub(fr.Next[0], f.Add(y, fr.Periodic[0]))
}
