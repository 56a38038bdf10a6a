package stark

import (
	"fmt"
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// periodicAIR: x' = x + p[i mod m]·(degree-filler), a transition over one
// column with one periodic column of length m; degree d is declared so the
// composition uses c = ceFactor(d) chunks.
type periodicAIR struct {
	n, m, d int
	p       []fr.Element
	out     fr.Element
}

func (a *periodicAIR) ID() string                      { return "test/periodic/v1" }
func (a *periodicAIR) TraceWidth() int                 { return 1 }
func (a *periodicAIR) TraceLength() int                { return a.n }
func (a *periodicAIR) PublicInputs() []fr.Element      { return []fr.Element{a.out} }
func (a *periodicAIR) PeriodicColumns() [][]fr.Element { return [][]fr.Element{a.p} }
func (a *periodicAIR) ConstraintDegree() int           { return a.d }
func (a *periodicAIR) NumRowConstraints() int          { return 0 }
func (a *periodicAIR) NumTransitionConstraints() int   { return 1 }
func (a *periodicAIR) EvalBase(f Frame[fr.Element], out []fr.Element) {
	periodicEval(BaseField{}, f, out)
}
func (a *periodicAIR) EvalExt(f Frame[E4], out []E4) { periodicEval(ExtField{}, f, out) }
func (a *periodicAIR) Boundaries() []Boundary {
	var zero fr.Element
	return []Boundary{{Column: 0, Row: 0, Value: zero}, {Column: 0, Row: a.n - 1, Value: a.out}}
}

func periodicEval[T any, F Field[T]](f F, fm Frame[T], out []T) {
	out[0] = f.Sub(fm.Next[0], f.Add(fm.Cur[0], fm.Periodic[0]))
}

func TestPeriodicColumnShapes(t *testing.T) {
	const n = 64
	for _, m := range []int{1, 2, 8, n} {
		for _, d := range []int{1, 2, 3, 5} {
			t.Run(fmt.Sprintf("m=%d d=%d", m, d), func(t *testing.T) {
				p := make([]fr.Element, m)
				for i := range p {
					p[i].SetUint64(uint64(3*i + 1))
				}
				x := make([]fr.Element, n)
				for i := 1; i < n; i++ {
					x[i].Add(&x[i-1], &p[(i-1)%m])
				}
				a := &periodicAIR{n: n, m: m, d: d, p: p, out: x[n-1]}
				prm := testParams()
				proof, err := Prove(a, [][]fr.Element{x}, prm, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := Verify(a, prm, proof); err != nil {
					t.Fatal(err)
				}
				// Other periodic values (same ID) are another statement.
				q := append([]fr.Element(nil), p...)
				q[0].SetUint64(999)
				b := &periodicAIR{n: n, m: m, d: d, p: q, out: x[n-1]}
				if err := Verify(b, prm, proof); err == nil {
					t.Fatal("proof verified with other periodic values")
				}
			})
		}
	}
}
