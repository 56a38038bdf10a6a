package airs

import (
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
)

// Layout of one Poseidon2 permutation in PermColumns consecutive columns of
// one row: the 16 input elements, the 16 S-box outputs of each of the first 3
// full rounds, the S-box output of each of the 21 partial rounds, the 16
// S-box outputs of each of the last 3 full rounds, the 16 output elements.
// Every S-box output is a column, so every constraint has degree 3; the
// linear layers are recomputed from those columns inside the constraints.
// One permutation per row keeps the trace 149 cells per permutation instead
// of 16 cells × 32 rows, which is what makes the prover fast; the round keys
// are therefore constants of the constraints rather than periodic columns.
const (
	half          = hash.FullRounds / 2
	PermInput     = 0
	permFull1     = PermInput + hash.Width
	permPartial   = permFull1 + half*hash.Width
	permFull2     = permPartial + hash.PartialRounds
	PermOutput    = permFull2 + half*hash.Width
	PermColumns   = PermOutput + hash.Width  // 149
	PermRowConstr = PermColumns - hash.Width // 133 S-box and output constraints
)

var (
	roundKeys = hash.RoundKeys()
	diag      = internalDiag()
)

// internalDiag is the diagonal of gnark-crypto's width-16 internal matrix
// (M_I = 1 + diag): [-2, 1, 2, 1/2, 3, 4, -1/2, -3, -4, 2^-8, 2^-3, 2^-24,
// -2^-8, -2^-3, -2^-4, -2^-24].
func internalDiag() [16]fr.Element {
	var d [16]fr.Element
	small := []int64{-2, 1, 2, 0, 3, 4, 0, -3, -4}
	for i, v := range small {
		if v < 0 {
			d[i].SetUint64(uint64(-v))
			d[i].Neg(&d[i])
		} else {
			d[i].SetUint64(uint64(v))
		}
	}
	inv2 := func(k int, neg bool) fr.Element {
		var e fr.Element
		e.SetUint64(1 << k)
		e.Inverse(&e)
		if neg {
			e.Neg(&e)
		}
		return e
	}
	d[3], d[6] = inv2(1, false), inv2(1, true)
	d[9], d[10], d[11] = inv2(8, false), inv2(3, false), inv2(24, false)
	d[12], d[13], d[14], d[15] = inv2(8, true), inv2(3, true), inv2(4, true), inv2(24, true)
	return d
}

func matExternal[T any, F stark.Field[T]](f F, s *[16]T) {
	if b, ok := any(s).(*[16]fr.Element); ok {
		matExternalBase(b)
		return
	}
	for i := 0; i < 16; i += 4 {
		t01 := f.Add(s[i], s[i+1])
		t23 := f.Add(s[i+2], s[i+3])
		t0123 := f.Add(t01, t23)
		t01123 := f.Add(t0123, s[i+1])
		t01233 := f.Add(t0123, s[i+3])
		s[i+3] = f.Add(f.Add(s[i], s[i]), t01233)
		s[i+1] = f.Add(f.Add(s[i+2], s[i+2]), t01123)
		s[i] = f.Add(t01, t01123)
		s[i+2] = f.Add(t23, t01233)
	}
	var sum [4]T
	for k := range 4 {
		sum[k] = f.Add(f.Add(s[k], s[4+k]), f.Add(s[8+k], s[12+k]))
	}
	for i := range 16 {
		s[i] = f.Add(s[i], sum[i%4])
	}
}

func matInternal[T any, F stark.Field[T]](f F, s *[16]T) {
	if b, ok := any(s).(*[16]fr.Element); ok {
		matInternalBase(b)
		return
	}
	sum := s[0]
	for i := 1; i < 16; i++ {
		sum = f.Add(sum, s[i])
	}
	for i := range 16 {
		s[i] = f.Add(sum, f.MulConst(s[i], diag[i]))
	}
}

// matExternalBase and matInternalBase are the base-field fast paths of the
// linear layers (the prover's hot loop): the same matrices with in-place
// arithmetic and the diagonal applied by shifts and halvings, as in
// gnark-crypto. Field arithmetic is exact, so results are identical.
func matExternalBase(s *[16]fr.Element) {
	for i := 0; i < 16; i += 4 {
		var t01, t23, t0123, t01123, t01233 fr.Element
		t01.Add(&s[i], &s[i+1])
		t23.Add(&s[i+2], &s[i+3])
		t0123.Add(&t01, &t23)
		t01123.Add(&t0123, &s[i+1])
		t01233.Add(&t0123, &s[i+3])
		s[i+3].Double(&s[i]).Add(&s[i+3], &t01233)
		s[i+1].Double(&s[i+2]).Add(&s[i+1], &t01123)
		s[i].Add(&t01, &t01123)
		s[i+2].Add(&t23, &t01233)
	}
	var sum [4]fr.Element
	for k := range 4 {
		sum[k].Add(&s[k], &s[4+k])
		sum[k].Add(&sum[k], &s[8+k])
		sum[k].Add(&sum[k], &s[12+k])
	}
	for i := range 16 {
		s[i].Add(&s[i], &sum[i%4])
	}
}

func matInternalBase(s *[16]fr.Element) {
	var sum, t fr.Element
	sum = s[0]
	for i := 1; i < 16; i++ {
		sum.Add(&sum, &s[i])
	}
	s[0].Sub(&sum, t.Double(&s[0]))
	s[1].Add(&sum, &s[1])
	s[2].Add(&sum, t.Double(&s[2]))
	t.Set(&s[3]).Halve()
	s[3].Add(&sum, &t)
	s[4].Add(&sum, t.Double(&s[4]).Add(&t, &s[4]))
	s[5].Add(&sum, t.Double(&s[5]).Double(&t))
	t.Set(&s[6]).Halve()
	s[6].Sub(&sum, &t)
	s[7].Sub(&sum, t.Double(&s[7]).Add(&t, &s[7]))
	s[8].Sub(&sum, t.Double(&s[8]).Double(&t))
	s[9].Add(&sum, t.Mul2ExpNegN(&s[9], 8))
	s[10].Add(&sum, t.Mul2ExpNegN(&s[10], 3))
	s[11].Add(&sum, t.Mul2ExpNegN(&s[11], 24))
	s[12].Sub(&sum, t.Mul2ExpNegN(&s[12], 8))
	s[13].Sub(&sum, t.Mul2ExpNegN(&s[13], 3))
	s[14].Sub(&sum, t.Mul2ExpNegN(&s[14], 4))
	s[15].Sub(&sum, t.Mul2ExpNegN(&s[15], 24))
}

// walkPermutation runs the permutation on in; at S-box number k it calls
// sbox(k, x) with the S-box input and continues with the value it returns.
// The trace filler returns x³; the constraint evaluator records the
// constraint and returns the committed column, so both share one code path.
func walkPermutation[T any, F stark.Field[T]](f F, in []T, sbox func(k int, x T) T) [16]T {
	var s [16]T
	copy(s[:], in)
	matExternal(f, &s)
	k := 0
	full := func(r int) {
		for i := range 16 {
			s[i] = sbox(k, f.AddConst(s[i], roundKeys[r][i]))
			k++
		}
		matExternal(f, &s)
	}
	for r := range half {
		full(r)
	}
	for r := half; r < half+hash.PartialRounds; r++ {
		s[0] = sbox(k, f.AddConst(s[0], roundKeys[r][0]))
		k++
		matInternal(f, &s)
	}
	for r := half + hash.PartialRounds; r < hash.FullRounds+hash.PartialRounds; r++ {
		full(r)
	}
	return s
}

// FillPermutation writes the PermColumns cells of one permutation of in into
// row (which must have room for PermColumns elements) and returns the output.
func FillPermutation(in [16]fr.Element, row []fr.Element) [16]fr.Element {
	copy(row[PermInput:], in[:])
	f := stark.BaseField{}
	out := walkPermutation(f, in[:], func(k int, x fr.Element) fr.Element {
		var y fr.Element
		y.Cube(&x)
		row[permFull1+k] = y
		return y
	})
	copy(row[PermOutput:], out[:])
	return out
}

// EvalPermutation writes the PermRowConstr constraints stating that the
// PermColumns cells in cols are one Poseidon2 permutation (degree 3).
func EvalPermutation[T any, F stark.Field[T]](f F, cols []T, out []T) {
	if bc, ok := any(cols).([]fr.Element); ok {
		evalPermutationBase(bc, any(out).([]fr.Element))
		return
	}
	s := walkPermutation(f, cols[PermInput:PermInput+16], func(k int, x T) T {
		y := cols[permFull1+k]
		out[k] = f.Sub(y, f.Mul(f.Square(x), x))
		return y
	})
	for i := range 16 {
		out[PermOutput-permFull1+i] = f.Sub(cols[PermOutput+i], s[i])
	}
}

// evalPermutationBase is EvalPermutation over the base field without
// closures or generic dispatch: the prover evaluates it at every point of the
// constraint-evaluation domain.
func evalPermutationBase(cols, out []fr.Element) {
	var s [16]fr.Element
	copy(s[:], cols[PermInput:PermInput+16])
	matExternalBase(&s)
	k := 0
	sbox := func(x *fr.Element) {
		y := &cols[permFull1+k]
		var c fr.Element
		c.Square(x).Mul(&c, x)
		out[k].Sub(y, &c)
		*x = *y
		k++
	}
	full := func(r int) {
		for i := range 16 {
			s[i].Add(&s[i], &roundKeys[r][i])
			sbox(&s[i])
		}
		matExternalBase(&s)
	}
	for r := range half {
		full(r)
	}
	for r := half; r < half+hash.PartialRounds; r++ {
		s[0].Add(&s[0], &roundKeys[r][0])
		sbox(&s[0])
		matInternalBase(&s)
	}
	for r := half + hash.PartialRounds; r < hash.FullRounds+hash.PartialRounds; r++ {
		full(r)
	}
	for i := range 16 {
		out[PermOutput-permFull1+i].Sub(&cols[PermOutput+i], &s[i])
	}
}

// Poseidon2Chain proves Output = P^N(Input) for the protocol/hash permutation P:
// one permutation per row, each row's input the previous row's output.
type Poseidon2Chain struct {
	N             int
	Input, Output [16]fr.Element
}

// NewPoseidon2Chain builds the trace of n chained permutations of in.
func NewPoseidon2Chain(n int, in [16]fr.Element) (*Poseidon2Chain, [][]fr.Element) {
	cols := make([][]fr.Element, PermColumns)
	for c := range cols {
		cols[c] = make([]fr.Element, n)
	}
	row := make([]fr.Element, PermColumns)
	s := in
	for i := range n {
		s = FillPermutation(s, row)
		for c := range cols {
			cols[c][i] = row[c]
		}
	}
	return &Poseidon2Chain{N: n, Input: in, Output: s}, cols
}

func (a *Poseidon2Chain) ID() string                      { return "trellis/airs/poseidon2-chain/v1" }
func (a *Poseidon2Chain) TraceWidth() int                 { return PermColumns }
func (a *Poseidon2Chain) TraceLength() int                { return a.N }
func (a *Poseidon2Chain) PeriodicColumns() [][]fr.Element { return nil }
func (a *Poseidon2Chain) ConstraintDegree() int           { return 3 }
func (a *Poseidon2Chain) NumRowConstraints() int          { return PermRowConstr }
func (a *Poseidon2Chain) NumTransitionConstraints() int   { return 16 }
func (a *Poseidon2Chain) PublicInputs() []fr.Element {
	return append(append([]fr.Element(nil), a.Input[:]...), a.Output[:]...)
}
func (a *Poseidon2Chain) EvalBase(fm stark.Frame[fr.Element], out []fr.Element) {
	chainEval(stark.BaseField{}, fm, out)
}
func (a *Poseidon2Chain) EvalExt(fm stark.Frame[stark.E4], out []stark.E4) {
	chainEval(stark.ExtField{}, fm, out)
}

// EvalExt6 implements stark.AIR6.
func (a *Poseidon2Chain) EvalExt6(fm stark.Frame[stark.E6], out []stark.E6) {
	chainEval(stark.Ext6Field{}, fm, out)
}

// EvalVec implements stark.AIRVec.
func (a *Poseidon2Chain) EvalVec(v *stark.VecField, fm stark.Frame[stark.Vec], out []stark.Vec) {
	chainEval(v, fm, out)
}
func (a *Poseidon2Chain) Boundaries() []stark.Boundary {
	b := make([]stark.Boundary, 0, 32)
	for i := range 16 {
		b = append(b, stark.Boundary{Column: PermInput + i, Row: 0, Value: a.Input[i]})
	}
	for i := range 16 {
		b = append(b, stark.Boundary{Column: PermOutput + i, Row: a.N - 1, Value: a.Output[i]})
	}
	return b
}
func (a *Poseidon2Chain) String() string { return fmt.Sprintf("poseidon2-chain(%d)", a.N) }

func chainEval[T any, F stark.Field[T]](f F, fm stark.Frame[T], out []T) {
	EvalPermutation(f, fm.Cur, out[:PermRowConstr])
	for i := range 16 {
		out[PermRowConstr+i] = f.Sub(fm.Next[PermInput+i], fm.Cur[PermOutput+i])
	}
}
