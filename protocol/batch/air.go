package batch

import (
	"math/bits"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/stark/airs"
)

// The batch/v1 trace: one row computes two compressions side by side, lane A
// for the old leaf and lane B for the new one, each a full Poseidon2
// permutation (airs.PermColumns cells). An update takes these rows:
//
//	L0..L3   leaf hashing, block b of the old (A) and new (B) leaf input
//	         (globals: L0, L1 only); A/B chain from IV(TagLeaf, len)
//	H0       A = Compress(h, oldDigest), B = Compress(A, newDigest)
//	H1       A = Compress(B(H0), indexBlock); B carries oldDigest‖newDigest
//	P0..P15  tree levels 0..15: A climbs from the old digest, B from the new
//	         one, with the same sibling and direction bit
//	Q0..Q15  tree levels 16..31
//
// then padding rows to the power of two (at least one). The permutation
// constraints hold on every row; everything else is gated by one-hot row
// selectors whose order the transition constraints fix, so every constraint
// has degree ≤ 3. See docs/stark.md for the full list.
const (
	colA   = 0
	colB   = airs.PermColumns
	colSel = 2 * airs.PermColumns
	// Row selectors (one-hot; none set on padding rows).
	sL0    = colSel + 0
	sL1    = colSel + 1
	sL2    = colSel + 2
	sL3    = colSel + 3
	sH0    = colSel + 4
	sH1    = colSel + 5
	sP     = colSel + 6
	sQ     = colSel + 7
	numSel = 8
	colKG  = colSel + numSel // the update is the globals leaf
	colAbs = colKG + 1       // the old leaf is absent
	colKAP = colAbs + 1      // (1-kG)(1-abs): an account update with an old leaf
	colIdx = colKAP + 1      // index low 16 bits, high 16 bits (2)
	colR   = colIdx + 2      // root before the update (8)
	colHc  = colR + 8        // batch-hash chaining value before the update (8)
	colNS  = colHc + 8       // new supply limbs (4), constant over the trace
	colS   = colNS + 4       // running value total, 4 limbs + top (5)
	colC   = colS + 5        // value-total carries, two {-1,0,1} parts each (8)
	colD   = colC + 8        // nonce or supply/burned carries (3)
	colBit = colD + 3        // direction bit
	colPow = colBit + 1      // 2^level within P or Q rows
	colAcc = colPow + 1      // index bits accumulated within P or Q rows
	colV   = colAcc + 1      // range-check shift registers (numV)
	colBV  = colV + numV     // their low bits (numV)
	width  = colBV + numV
	numV   = 13
	// vNonceK is the register holding the nonce step.
	vNonceK = 12
)

// Lanes of the permutation input / output within a lane block.
const (
	pin  = airs.PermInput
	pout = airs.PermOutput
)

var (
	felt      = func(v uint64) fr.Element { var e fr.Element; e.SetUint64(v); return e }
	fOne      = felt(1)
	fTwo      = felt(2)
	f2to15    = felt(1 << 15)
	f2to16    = felt(1 << 16)
	fHalf     = func() fr.Element { e := felt(2); e.Inverse(&e); return e }()
	fTagLeaf  = felt(uint64(hash.TagLeaf))
	fAcctLen  = felt(AccountLeafElements)
	fLenDiff  = felt(AccountLeafElements - GlobalsLeafElements)
	fAcctKind = felt(1)
	fGlobKind = felt(2)
)

// numRow and numTrans are the constraint counts, found by a dry run.
var numRow, numTrans = func() (int, int) {
	out := make([]fr.Element, 4096)
	z := make([]fr.Element, width)
	r := evalRow(stark.BaseField{}, z, out)
	t := evalTrans(stark.BaseField{}, z, z, out)
	return r, t
}()

// rows of one update by kind.
const (
	globalsRows = 2 + 2 + 32
	accountRows = 4 + 2 + 32
)

// traceLength returns the trace length for a statement of u updates (the
// globals leaf and u-1 accounts, plus at least one padding row).
func traceLength(u int) int {
	rows := globalsRows + accountRows*(u-1) + 1
	return 1 << bits.Len(uint(rows-1))
}

type air struct {
	pub Public
	n   int
}

func newAIR(pub Public) *air { return &air{pub: pub, n: traceLength(int(pub.Updates))} }

func (a *air) ID() string                      { return "trellis/" + Statement }
func (a *air) TraceWidth() int                 { return width }
func (a *air) TraceLength() int                { return a.n }
func (a *air) PeriodicColumns() [][]fr.Element { return nil }
func (a *air) ConstraintDegree() int           { return 3 }
func (a *air) NumRowConstraints() int          { return numRow }
func (a *air) NumTransitionConstraints() int   { return numTrans }
func (a *air) PublicInputs() []fr.Element {
	e := make([]fr.Element, 0, 25)
	e = append(e, a.pub.OldRoot[:]...)
	e = append(e, a.pub.NewRoot[:]...)
	e = append(e, a.pub.BatchHash[:]...)
	return append(e, felt(uint64(a.pub.Updates)))
}

func (a *air) Boundaries() []stark.Boundary {
	last := a.n - 1
	iv := batchIV(int(a.pub.Updates))
	b := []stark.Boundary{{Column: sL0, Row: 0, Value: fOne}, {Column: colKG, Row: 0, Value: fOne}}
	for j := range 8 {
		b = append(b, stark.Boundary{Column: colR + j, Row: 0, Value: a.pub.OldRoot[j]},
			stark.Boundary{Column: colHc + j, Row: 0, Value: iv[j]})
	}
	for j := range 8 {
		b = append(b, stark.Boundary{Column: colR + j, Row: last, Value: a.pub.NewRoot[j]},
			stark.Boundary{Column: colHc + j, Row: last, Value: a.pub.BatchHash[j]})
	}
	for s := range numSel {
		b = append(b, stark.Boundary{Column: colSel + s, Row: last})
	}
	return b
}

func (a *air) EvalBase(fm stark.Frame[fr.Element], out []fr.Element) {
	k := evalRow(stark.BaseField{}, fm.Cur, out)
	evalTrans(stark.BaseField{}, fm.Cur, fm.Next, out[k:])
}

func (a *air) EvalExt(fm stark.Frame[stark.E4], out []stark.E4) {
	k := evalRow(stark.ExtField{}, fm.Cur, out)
	evalTrans(stark.ExtField{}, fm.Cur, fm.Next, out[k:])
}

// EvalVec implements stark.AIRVec: the prover evaluates 16 points a call.
func (a *air) EvalVec(v *stark.VecField, fm stark.Frame[stark.Vec], out []stark.Vec) {
	k := evalRow(v, fm.Cur, out)
	evalTrans(v, fm.Cur, fm.Next, out[k:])
}

// EvalExt6 implements stark.AIR6 (measurements of this statement under E6
// challenges; batch/v1 proofs themselves use E4).
func (a *air) EvalExt6(fm stark.Frame[stark.E6], out []stark.E6) {
	k := evalRow(stark.Ext6Field{}, fm.Cur, out)
	evalTrans(stark.Ext6Field{}, fm.Cur, fm.Next, out[k:])
}

// res returns lane j of Compress in the lane block at col: out[8+j] + in[8+j].
func res[T any, F stark.Field[T]](f F, c []T, col, j int) T {
	return f.Add(c[col+pout+8+j], c[col+pin+8+j])
}

// evalRow writes the row constraints (on Cur only) and returns their number.
func evalRow[T any, F stark.Field[T]](f F, c []T, out []T) int {
	k := 0
	put := func(x T) { out[k] = x; k++ }
	one := f.Const(fOne)
	airs.EvalPermutation(f, c[colA:colA+airs.PermColumns], out[k:k+airs.PermRowConstr])
	k += airs.PermRowConstr
	airs.EvalPermutation(f, c[colB:colB+airs.PermColumns], out[k:k+airs.PermRowConstr])
	k += airs.PermRowConstr

	boolean := func(x T) T { return f.Sub(f.Square(x), x) }
	cubic := func(x T) T { return f.Sub(f.Mul(f.Square(x), x), x) } // x ∈ {-1, 0, 1}
	// Selectors one-hot or all zero (padding).
	pad := one
	for s := range numSel {
		put(boolean(c[colSel+s]))
		pad = f.Sub(pad, c[colSel+s])
	}
	put(boolean(pad))
	kG, abs, kAP := c[colKG], c[colAbs], c[colKAP]
	kA := f.Sub(one, kG)
	put(boolean(kG))
	put(boolean(abs))
	put(f.Mul(kG, abs))
	put(f.Sub(kAP, f.Mul(kA, f.Sub(one, abs))))
	for i := range 8 {
		put(cubic(c[colC+i]))
	}
	for i := range 3 {
		put(cubic(c[colD+i]))
	}
	put(boolean(c[colBit]))
	for i := range numV {
		put(boolean(c[colBV+i]))
	}
	put(boolean(c[colS+4]))

	A := func(j int) T { return c[colA+pin+j] }
	B := func(j int) T { return c[colB+pin+j] }
	l0, l1, l2 := c[sL0], c[sL1], c[sL2]
	lAny := f.Add(f.Add(l0, l1), f.Add(l2, c[sL3]))
	// L0: both lanes start from IV(TagLeaf, 29 or 11).
	ivLen := f.Sub(f.Const(fAcctLen), f.MulConst(kG, fLenDiff))
	for j := range 8 {
		var iv T
		switch j {
		case 0:
			iv = f.Const(fTagLeaf)
		case 1:
			iv = ivLen
		default:
			iv = f.Const(fr.Element{})
		}
		put(f.Mul(l0, f.Sub(A(j), iv)))
		put(f.Mul(l0, f.Sub(B(j), iv)))
	}
	// An absent old leaf hashes zero blocks.
	for j := range 8 {
		put(f.Mul(f.Mul(abs, lAny), A(8+j)))
	}
	// Zero padding of the last block (account elements 29..31, globals
	// 11..15), so both leaves are HashLeaf of exactly their elements.
	for j := 13; j < 16; j++ {
		put(f.Mul(c[sL3], A(j)))
		put(f.Mul(c[sL3], B(j)))
	}
	for j := 11; j < 16; j++ {
		put(f.Mul(f.Mul(kG, l1), A(j)))
		put(f.Mul(f.Mul(kG, l1), B(j)))
	}
	// Kinds: account 1 (old: 1, or 0 when absent), globals 2.
	kAl0 := f.Mul(kA, l0)
	kGl0 := f.Mul(kG, l0)
	put(f.Mul(kAl0, f.Sub(B(8), f.Const(fAcctKind))))
	put(f.Mul(kAl0, f.Sub(f.Add(A(8), abs), one)))
	put(f.Mul(kGl0, f.Sub(A(8), f.Const(fGlobKind))))
	put(f.Mul(kGl0, f.Sub(B(8), f.Const(fGlobKind))))
	// Address digest unchanged (elements 1..8: L0 lanes 9..15, L1 lane 8).
	for j := 9; j < 16; j++ {
		put(f.Mul(f.Mul(kAP, l0), f.Sub(B(j), A(j))))
	}
	put(f.Mul(f.Mul(kAP, l1), f.Sub(B(8), A(8))))
	// The globals leaf is at index 0.
	put(f.Mul(kG, c[colIdx]))
	put(f.Mul(kG, c[colIdx+1]))
	// Range-check registers hold the new leaf's limbs: first limb block
	// (account L1 lanes 9..15: balance, nonce 0..2; globals L0: supply,
	// burned 0..2), second (account L2 lanes 8..12: nonce 3, locked;
	// globals L1: burned 3, accounts halves, padding).
	g1 := f.Add(f.Mul(kA, l1), kGl0)
	g2 := f.Add(f.Mul(kA, l2), f.Mul(kG, l1))
	for j := range 7 {
		put(f.Mul(g1, f.Sub(c[colV+j], B(9+j))))
	}
	for j := range 5 {
		put(f.Mul(g2, f.Sub(c[colV+7+j], B(8+j))))
	}
	// Supply + burned conserved, limbs 0..2 (limb 3 is a transition).
	d := func(i int) T { return c[colD+i] }
	for i := range 3 {
		e := f.Sub(f.Add(B(9+i), B(13+i)), f.Add(A(9+i), A(13+i)))
		if i > 0 {
			e = f.Add(e, d(i-1))
		}
		put(f.Mul(kGl0, f.Sub(e, f.MulConst(d(i), f2to16))))
	}
	// The value total starts at the old supply; the new supply is kept.
	for i := range 4 {
		put(f.Mul(kGl0, f.Sub(c[colS+i], A(9+i))))
		put(f.Mul(kGl0, f.Sub(c[colNS+i], B(9+i))))
	}
	put(f.Mul(kGl0, c[colS+4]))
	// ...and ends there: on padding rows the total equals the new supply.
	for i := range 4 {
		put(f.Mul(pad, f.Sub(c[colS+i], c[colNS+i])))
	}
	put(f.Mul(pad, c[colS+4]))
	// H0: A = Compress(h, ·), B = Compress(A, ·).
	h0 := c[sH0]
	for j := range 8 {
		put(f.Mul(h0, f.Sub(A(j), c[colHc+j])))
		put(f.Mul(h0, f.Sub(B(j), res(f, c, colA, j))))
	}
	// H1: A's block is the index block.
	h1 := c[sH1]
	put(f.Mul(h1, f.Sub(A(8), c[colIdx])))
	put(f.Mul(h1, f.Sub(A(9), c[colIdx+1])))
	for j := 10; j < 16; j++ {
		put(f.Mul(h1, A(j)))
	}
	put(f.Mul(h1, c[colAcc]))
	put(f.Mul(h1, f.Sub(c[colPow], f.Const(fHalf))))
	// Path rows: A and B share the sibling (the half the bit does not pick).
	pq := f.Add(c[sP], c[sQ])
	bit := c[colBit]
	for j := range 8 {
		dl := f.Sub(A(j), B(j))
		dr := f.Sub(A(8+j), B(8+j))
		put(f.Mul(pq, f.Add(dr, f.Mul(bit, f.Sub(dl, dr)))))
	}
	return k
}

// evalTrans writes the transition constraints (Cur to Next) and returns
// their number.
func evalTrans[T any, F stark.Field[T]](f F, c, nx []T, out []T) int {
	k := 0
	put := func(x T) { out[k] = x; k++ }
	one := f.Const(fOne)
	A := func(j int) T { return c[colA+pin+j] }
	B := func(j int) T { return c[colB+pin+j] }
	An := func(j int) T { return nx[colA+pin+j] }
	Bn := func(j int) T { return nx[colB+pin+j] }
	s := func(i int) T { return c[i] }
	n := func(i int) T { return nx[i] }
	kG := c[colKG]
	kA := f.Sub(one, kG)
	pad, padN := one, one
	for i := range numSel {
		pad = f.Sub(pad, c[colSel+i])
		padN = f.Sub(padN, nx[colSel+i])
	}
	// Row order.
	put(f.Mul(s(sL0), f.Sub(one, n(sL1))))
	put(f.Mul(s(sL1), f.Sub(f.Sub(one, n(sL2)), n(sH0))))
	put(f.Mul(f.Mul(s(sL1), kG), n(sL2)))
	put(f.Mul(f.Mul(s(sL1), kA), n(sH0)))
	put(f.Mul(s(sL2), f.Sub(one, n(sL3))))
	put(f.Mul(s(sL3), f.Sub(one, n(sH0))))
	put(f.Mul(s(sH0), f.Sub(one, n(sH1))))
	put(f.Mul(s(sH1), f.Sub(one, n(sP))))
	put(f.Mul(s(sP), f.Sub(f.Sub(one, n(sP)), n(sQ))))
	put(f.Mul(s(sQ), f.Add(f.Add(f.Add(n(sL1), n(sL2)), f.Add(n(sL3), n(sH0))), f.Add(n(sH1), n(sP)))))
	put(f.Mul(pad, f.Sub(one, padN)))
	put(f.Mul(f.Mul(s(sQ), n(sL0)), n(colKG)))
	// Per-update registers change only where an update starts.
	notStart := f.Sub(one, n(sL0))
	for _, col := range []int{colKG, colAbs, colIdx, colIdx + 1} {
		put(f.Mul(notStart, f.Sub(n(col), s(col))))
	}
	for i := range 4 {
		put(f.Sub(n(colNS+i), s(colNS+i)))
	}
	// Leaf chaining: L1..L3 continue from the previous row's compression.
	lnext := f.Add(f.Add(n(sL1), n(sL2)), n(sL3))
	for j := range 8 {
		put(f.Mul(lnext, f.Sub(An(j), res(f, c, colA, j))))
		put(f.Mul(lnext, f.Sub(Bn(j), res(f, c, colB, j))))
	}
	// H0 absorbs the leaf digests (old: zero if absent).
	h0n := n(sH0)
	present := f.Sub(one, s(colAbs))
	for j := range 8 {
		put(f.Mul(h0n, f.Sub(An(8+j), f.Mul(present, res(f, c, colA, j)))))
		put(f.Mul(h0n, f.Sub(Bn(8+j), res(f, c, colB, j))))
	}
	// H1 continues the chain and carries both digests to the path.
	h1n := n(sH1)
	for j := range 8 {
		put(f.Mul(h1n, f.Sub(An(j), res(f, c, colB, j))))
		put(f.Mul(h1n, f.Sub(Bn(j), A(8+j))))
		put(f.Mul(h1n, f.Sub(Bn(8+j), B(8+j))))
	}
	// The chaining value moves on after H1.
	for j := range 8 {
		h := s(colHc + j)
		put(f.Sub(f.Sub(n(colHc+j), h), f.Mul(s(sH1), f.Sub(res(f, c, colA, j), h))))
	}
	// Path: the node a path row climbs from (the half its bit picks) is
	// the previous path row's result, or the digest H1 carries.
	pqN := f.Add(n(sP), n(sQ))
	pq := f.Add(s(sP), s(sQ))
	bitN := n(colBit)
	for j := range 8 {
		curA := f.Add(An(j), f.Mul(bitN, f.Sub(An(8+j), An(j))))
		curB := f.Add(Bn(j), f.Mul(bitN, f.Sub(Bn(8+j), Bn(j))))
		wantA := f.Add(f.Mul(pq, res(f, c, colA, j)), f.Mul(s(sH1), B(j)))
		wantB := f.Add(f.Mul(pq, res(f, c, colB, j)), f.Mul(s(sH1), B(8+j)))
		put(f.Mul(pqN, f.Sub(curA, wantA)))
		put(f.Mul(pqN, f.Sub(curB, wantB)))
	}
	// The last path row: A reaches the current root, B gives the next one.
	lq := f.Mul(s(sQ), f.Sub(one, n(sQ)))
	for j := range 8 {
		r := s(colR + j)
		put(f.Mul(lq, f.Sub(res(f, c, colA, j), r)))
		put(f.Sub(f.Sub(n(colR+j), r), f.Mul(lq, f.Sub(res(f, c, colB, j), r))))
	}
	// Levels and index: pow doubles through 16 P rows (from 1, H1 holds
	// 1/2) and 16 Q rows (restarting at 1); acc sums bit·pow; the P sum is
	// the index's low half, the Q sum its high half.
	pow, acc := s(colPow), s(colAcc)
	powN, accN := n(colPow), n(colAcc)
	pq16 := f.Mul(s(sP), n(sQ))
	twoPow := f.MulConst(pow, fTwo)
	put(f.Mul(n(sP), f.Sub(powN, twoPow)))
	put(f.Mul(n(sP), f.Sub(f.Sub(accN, acc), f.Mul(bitN, powN))))
	put(f.Mul(n(sQ), f.Sub(f.Sub(powN, twoPow), f.Mul(s(sP), f.Sub(one, twoPow)))))
	put(f.Mul(n(sQ), f.Sub(f.Sub(accN, f.Mul(bitN, powN)), f.Mul(f.Sub(one, s(sP)), acc))))
	put(f.Mul(pq16, f.Sub(acc, s(colIdx))))
	put(f.Mul(pq16, f.Sub(pow, f.Const(f2to15))))
	put(f.Mul(lq, f.Sub(acc, s(colIdx+1))))
	put(f.Mul(lq, f.Sub(pow, f.Const(f2to15))))
	// Range checks: registers are constant through L and H rows, shift out
	// one bit per P row (16) and per Q row (16) and end on their last bit;
	// Q rows start with the value total's limbs.
	keep := f.Add(f.Add(f.Add(s(sL0), s(sL1)), f.Add(s(sL2), s(sL3))), f.Add(s(sH0), s(sH1)))
	shift := f.Add(f.Mul(s(sP), n(sP)), f.Mul(s(sQ), n(sQ)))
	end := f.Add(pq16, lq)
	_ = pq
	for i := range numV {
		v, vn, bv := s(colV+i), n(colV+i), s(colBV+i)
		put(f.Mul(keep, f.Sub(vn, v)))
		put(f.Mul(shift, f.Sub(f.Sub(v, f.MulConst(vn, fTwo)), bv)))
		put(f.Mul(end, f.Sub(v, bv)))
	}
	for i := range 4 {
		put(f.Mul(pq16, f.Sub(n(colV+i), s(colS+i))))
	}
	// Value total: at an account's L1→L2 step, add Δbalance + Δlocked
	// limb-wise (balance: L1 lanes 9..12, locked: L2 lanes 9..12) with
	// carries in [-2, 2]; elsewhere it stays.
	gv := f.Mul(s(sL1), kA)
	carry := func(i int) T { return f.Add(s(colC+2*i), s(colC+2*i+1)) }
	for i := range 4 {
		delta := f.Sub(f.Add(B(9+i), Bn(9+i)), f.Add(A(9+i), An(9+i)))
		if i > 0 {
			delta = f.Add(delta, carry(i-1))
		}
		delta = f.Sub(delta, f.MulConst(carry(i), f2to16))
		put(f.Sub(f.Sub(n(colS+i), s(colS+i)), f.Mul(gv, delta)))
	}
	put(f.Sub(f.Sub(n(colS+4), s(colS+4)), f.Mul(gv, carry(3))))
	// Nonce: new = old + step with step < 2^16 (register vNonceK) and
	// carries in {0, 1} (nonce 0..2: L1 lanes 13..15, nonce 3: L2 lane 8).
	d := func(i int) T { return c[colD+i] }
	step := s(colV + vNonceK)
	put(f.Mul(gv, f.Sub(f.Add(B(13), f.MulConst(d(0), f2to16)), f.Add(A(13), step))))
	put(f.Mul(gv, f.Sub(f.Add(B(14), f.MulConst(d(1), f2to16)), f.Add(A(14), d(0)))))
	put(f.Mul(gv, f.Sub(f.Add(B(15), f.MulConst(d(2), f2to16)), f.Add(A(15), d(1)))))
	put(f.Mul(gv, f.Sub(Bn(8), f.Add(An(8), d(2)))))
	// Supply + burned conserved, limb 3 (burned 3 is L1 lane 8).
	kGl0 := f.Mul(kG, s(sL0))
	put(f.Mul(kGl0, f.Add(f.Sub(f.Add(B(12), Bn(8)), f.Add(A(12), An(8))), d(2))))
	return k
}
