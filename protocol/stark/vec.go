package stark

import (
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// VecWidth is how many points one vector evaluation covers: one AVX-512
// register of KoalaBear elements.
const VecWidth = 16

// Vec is a value at VecWidth points of the evaluation domain.
type Vec = *[VecWidth]fr.Element

// VecField implements Field over Vec with gnark-crypto's vector kernels, so
// an AIR's generic constraint function evaluates VecWidth points per call.
// Every operation writes a fresh slot of the field's arena; the prover
// resets the arena after each block of points. Not safe for concurrent use:
// each prover goroutine has its own.
type VecField struct {
	chunks [][][VecWidth]fr.Element
	c, i   int
}

// AIRVec is an AIR whose constraints can be evaluated VecWidth points at a
// time: EvalVec computes exactly what EvalBase computes at each point
// (write both from one generic function). The prover uses it when present.
type AIRVec interface {
	EvalVec(f *VecField, fm Frame[Vec], out []Vec)
}

const vecChunk = 512

func (v *VecField) slot() Vec {
	if v.c == len(v.chunks) {
		v.chunks = append(v.chunks, make([][VecWidth]fr.Element, vecChunk))
	}
	s := &v.chunks[v.c][v.i]
	if v.i++; v.i == vecChunk {
		v.c, v.i = v.c+1, 0
	}
	return s
}

// reset makes every slot reusable; values taken before are overwritten.
func (v *VecField) reset() { v.c, v.i = 0, 0 }

func (v *VecField) Add(a, b Vec) Vec {
	r := v.slot()
	vr := fr.Vector(r[:])
	vr.Add(a[:], b[:])
	return r
}

func (v *VecField) Sub(a, b Vec) Vec {
	r := v.slot()
	vr := fr.Vector(r[:])
	vr.Sub(a[:], b[:])
	return r
}

func (v *VecField) Mul(a, b Vec) Vec {
	r := v.slot()
	vr := fr.Vector(r[:])
	vr.Mul(a[:], b[:])
	return r
}

func (v *VecField) Square(a Vec) Vec { return v.Mul(a, a) }

func (v *VecField) MulConst(a Vec, c fr.Element) Vec {
	r := v.slot()
	vr := fr.Vector(r[:])
	vr.ScalarMul(a[:], &c)
	return r
}

func (v *VecField) AddConst(a Vec, c fr.Element) Vec {
	r := v.slot()
	for i := range r {
		r[i].Add(&a[i], &c)
	}
	return r
}

func (v *VecField) Const(c fr.Element) Vec {
	r := v.slot()
	for i := range r {
		r[i] = c
	}
	return r
}

// CheckEvalVec evaluates a's constraints at rounds×VecWidth pseudo-random
// points both ways, EvalBase one point at a time and EvalVec VecWidth at a
// time, and reports the first point where they differ: every AIRVec's tests
// should run it (random points, not a trace, so that no constraint is
// compared only where it is zero).
func CheckEvalVec(a AIR, rounds int) error {
	va, ok := a.(AIRVec)
	if !ok {
		return fmt.Errorf("%w: %s has no EvalVec", ErrAIR, a.ID())
	}
	w, np, nc := a.TraceWidth(), len(a.PeriodicColumns()), a.NumRowConstraints()+a.NumTransitionConstraints()
	var seed fr.Element
	seed.SetUint64(0x5eed)
	next := func() fr.Element {
		seed.Square(&seed)
		seed.Add(&seed, new(fr.Element).SetUint64(0x9e3779b9))
		return seed
	}
	vf := &VecField{}
	base := Frame[fr.Element]{Cur: make([]fr.Element, w), Next: make([]fr.Element, w), Periodic: make([]fr.Element, np)}
	out := make([]fr.Element, nc)
	for r := range rounds {
		vf.reset()
		fv := Frame[Vec]{Cur: make([]Vec, w), Next: make([]Vec, w), Periodic: make([]Vec, np)}
		for _, col := range [][]Vec{fv.Cur, fv.Next, fv.Periodic} {
			for c := range col {
				col[c] = vf.slot()
				for t := range VecWidth {
					col[c][t] = next()
				}
			}
		}
		vout := make([]Vec, nc)
		va.EvalVec(vf, fv, vout)
		for t := range VecWidth {
			for c := range w {
				base.Cur[c], base.Next[c] = fv.Cur[c][t], fv.Next[c][t]
			}
			for c := range np {
				base.Periodic[c] = fv.Periodic[c][t]
			}
			a.EvalBase(base, out)
			for k := range out {
				if !out[k].Equal(&vout[k][t]) {
					return fmt.Errorf("%w: %s: constraint %d at point %d of round %d: EvalBase %s, EvalVec %s",
						ErrAIR, a.ID(), k, t, r, out[k].String(), vout[k][t].String())
				}
			}
		}
	}
	return nil
}
