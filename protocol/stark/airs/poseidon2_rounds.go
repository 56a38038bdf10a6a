package airs

import (
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
)

// RoundsPerPerm is the number of rows one permutation takes in
// Poseidon2Rounds: the initial linear layer, 27 rounds, and 4 rows that
// carry the output unchanged (the period must be a power of two).
const RoundsPerPerm = 32

// Poseidon2Rounds proves the same statement as Poseidon2Chain (Output =
// P^Perms(Input)) with the rounds laid out in rows: 16 state columns s and 16
// columns u = (s + rc)³, the round keys and round-type selectors as periodic
// columns of period 32. Row constraints u = (s + rc)³ hold on every row
// (degree 3); the transition s' = isInit·M_E(s) + isFull·M_E(u) +
// isPartial·M_I(u₀, s₁…s₁₅) + isCopy·s has degree 2. It shows the periodic
// machinery at work; at 1024 cells per permutation it is ~7× costlier than
// Poseidon2Chain, which is the one to build on.
type Poseidon2Rounds struct {
	Perms         int
	Input, Output [16]fr.Element
}

const (
	selInit = 16 + iota
	selFull
	selPartial
	selCopy
	numPeriodic
)

// roundsPeriodic holds rc_0..rc_15 and the four selectors, each of length 32.
var roundsPeriodic = func() [][]fr.Element {
	cols := make([][]fr.Element, numPeriodic)
	for c := range cols {
		cols[c] = make([]fr.Element, RoundsPerPerm)
	}
	for r := range RoundsPerPerm {
		k := r - 1 // round key index of the round applied at row r
		switch {
		case r == 0:
			cols[selInit][r].SetOne()
		case k < half || (k >= half+hash.PartialRounds && k < hash.FullRounds+hash.PartialRounds):
			cols[selFull][r].SetOne()
			for i := range 16 {
				cols[i][r] = roundKeys[k][i]
			}
		case k < half+hash.PartialRounds:
			cols[selPartial][r].SetOne()
			cols[0][r] = roundKeys[k][0]
		default:
			cols[selCopy][r].SetOne()
		}
	}
	return cols
}()

// NewPoseidon2Rounds builds the trace of perms chained permutations (perms a
// power of two).
func NewPoseidon2Rounds(perms int, in [16]fr.Element) (*Poseidon2Rounds, [][]fr.Element) {
	n := perms * RoundsPerPerm
	cols := make([][]fr.Element, 32)
	for c := range cols {
		cols[c] = make([]fr.Element, n)
	}
	f := stark.BaseField{}
	s := in
	for row := range n {
		r := row % RoundsPerPerm
		var u [16]fr.Element
		for i := range 16 {
			cols[i][row] = s[i]
			u[i] = f.Add(s[i], roundsPeriodic[i][r])
			u[i].Cube(&u[i])
			cols[16+i][row] = u[i]
		}
		s = roundStep(f, r, s, u)
	}
	out := in
	for range perms {
		hash.Permute(&out)
	}
	return &Poseidon2Rounds{Perms: perms, Input: in, Output: out}, cols
}

// roundStep is the honest next state (the trace builder's view of the
// transition constraint).
func roundStep(f stark.BaseField, r int, s, u [16]fr.Element) [16]fr.Element {
	switch {
	case roundsPeriodic[selInit][r].IsOne():
		matExternal(f, &s)
	case roundsPeriodic[selFull][r].IsOne():
		s = u
		matExternal(f, &s)
	case roundsPeriodic[selPartial][r].IsOne():
		s[0] = u[0]
		matInternal(f, &s)
	}
	return s
}

func (a *Poseidon2Rounds) ID() string                      { return "trellis/airs/poseidon2-rounds/v1" }
func (a *Poseidon2Rounds) TraceWidth() int                 { return 32 }
func (a *Poseidon2Rounds) TraceLength() int                { return a.Perms * RoundsPerPerm }
func (a *Poseidon2Rounds) PeriodicColumns() [][]fr.Element { return roundsPeriodic }
func (a *Poseidon2Rounds) ConstraintDegree() int           { return 3 }
func (a *Poseidon2Rounds) NumRowConstraints() int          { return 16 }
func (a *Poseidon2Rounds) NumTransitionConstraints() int   { return 16 }
func (a *Poseidon2Rounds) PublicInputs() []fr.Element {
	return append(append([]fr.Element(nil), a.Input[:]...), a.Output[:]...)
}
func (a *Poseidon2Rounds) EvalBase(fm stark.Frame[fr.Element], out []fr.Element) {
	roundsEval(stark.BaseField{}, fm, out)
}
func (a *Poseidon2Rounds) EvalExt(fm stark.Frame[stark.E4], out []stark.E4) {
	roundsEval(stark.ExtField{}, fm, out)
}

// EvalExt6 implements stark.AIR6.
func (a *Poseidon2Rounds) EvalExt6(fm stark.Frame[stark.E6], out []stark.E6) {
	roundsEval(stark.Ext6Field{}, fm, out)
}

// EvalVec implements stark.AIRVec.
func (a *Poseidon2Rounds) EvalVec(v *stark.VecField, fm stark.Frame[stark.Vec], out []stark.Vec) {
	roundsEval(v, fm, out)
}
func (a *Poseidon2Rounds) Boundaries() []stark.Boundary {
	b := make([]stark.Boundary, 0, 32)
	for i := range 16 {
		b = append(b, stark.Boundary{Column: i, Row: 0, Value: a.Input[i]})
	}
	for i := range 16 {
		b = append(b, stark.Boundary{Column: i, Row: a.TraceLength() - 1, Value: a.Output[i]})
	}
	return b
}
func (a *Poseidon2Rounds) String() string { return fmt.Sprintf("poseidon2-rounds(%d)", a.Perms) }

func roundsEval[T any, F stark.Field[T]](f F, fm stark.Frame[T], out []T) {
	var s, u, init, full, part [16]T
	p := fm.Periodic
	for i := range 16 {
		s[i], u[i] = fm.Cur[i], fm.Cur[16+i]
		x := f.Add(s[i], p[i])
		out[i] = f.Sub(u[i], f.Mul(f.Square(x), x))
	}
	init, full, part = s, u, s
	part[0] = u[0]
	matExternal(f, &init)
	matExternal(f, &full)
	matInternal(f, &part)
	for i := range 16 {
		next := f.Mul(p[selInit], init[i])
		next = f.Add(next, f.Mul(p[selFull], full[i]))
		next = f.Add(next, f.Mul(p[selPartial], part[i]))
		next = f.Add(next, f.Mul(p[selCopy], s[i]))
		out[16+i] = f.Sub(fm.Next[i], next)
	}
}
