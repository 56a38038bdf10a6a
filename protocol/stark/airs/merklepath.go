package airs

import (
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
)

// Column layout of MerklePath: one tree level per row.
const (
	mpCur    = 0                    // digest entering the level (8)
	mpSib    = mpCur + 8            // sibling digest (8)
	mpBit    = mpSib + 8            // 1 if cur is the right child
	mpPerm   = mpBit + 1            // the Compress permutation (PermColumns)
	mpRes    = mpPerm + PermColumns // Compress result = out[8:16] + right (8)
	mpWidth  = mpRes + 8
	mpRowCon = 1 + 16 + PermRowConstr + 8
)

// MerklePath proves that Root is the root of a Merkle tree built with
// hash.HashNode (= hash.Compress) that contains the digest Leaf, for a path
// of Depth levels whose siblings and left/right bits are private: the
// building block of state-transition statements over the ledger's sparse
// Merkle tree. Row i computes level i: with b the bit, left = cur + b·(sib −
// cur), right = sib + b·(cur − sib), res = P(left‖right)[8:16] + right, and
// row i+1's cur is res. Depth must be a power of two (≥ 4).
type MerklePath struct {
	Depth      int
	Leaf, Root hash.Digest
}

// NewMerklePath builds the trace; bits[i] says whether the running node is
// the right child at level i.
func NewMerklePath(leaf hash.Digest, siblings []hash.Digest, bits []bool) (*MerklePath, [][]fr.Element, error) {
	d := len(siblings)
	if d < 4 || d&(d-1) != 0 || len(bits) != d {
		return nil, nil, fmt.Errorf("airs: merkle path needs a power-of-two depth ≥ 4 and one bit per level (got %d siblings, %d bits)", d, len(bits))
	}
	cols := make([][]fr.Element, mpWidth)
	for c := range cols {
		cols[c] = make([]fr.Element, d)
	}
	row := make([]fr.Element, PermColumns)
	cur := leaf
	for i := range d {
		left, right := cur, siblings[i]
		if bits[i] {
			left, right = right, left
			cols[mpBit][i].SetOne()
		}
		for j := range 8 {
			cols[mpCur+j][i] = cur[j]
			cols[mpSib+j][i] = siblings[i][j]
		}
		var in [16]fr.Element
		copy(in[:8], left[:])
		copy(in[8:], right[:])
		out := FillPermutation(in, row)
		for c := range PermColumns {
			cols[mpPerm+c][i] = row[c]
		}
		for j := range 8 {
			cur[j].Add(&out[8+j], &right[j])
			cols[mpRes+j][i] = cur[j]
		}
	}
	return &MerklePath{Depth: d, Leaf: leaf, Root: cur}, cols, nil
}

func (a *MerklePath) ID() string                      { return "trellis/airs/merkle-path/v1" }
func (a *MerklePath) TraceWidth() int                 { return mpWidth }
func (a *MerklePath) TraceLength() int                { return a.Depth }
func (a *MerklePath) PeriodicColumns() [][]fr.Element { return nil }
func (a *MerklePath) ConstraintDegree() int           { return 3 }
func (a *MerklePath) NumRowConstraints() int          { return mpRowCon }
func (a *MerklePath) NumTransitionConstraints() int   { return 8 }
func (a *MerklePath) PublicInputs() []fr.Element {
	return append(append([]fr.Element(nil), a.Leaf[:]...), a.Root[:]...)
}
func (a *MerklePath) EvalBase(fm stark.Frame[fr.Element], out []fr.Element) {
	merkleEval(stark.BaseField{}, fm, out)
}
func (a *MerklePath) EvalExt(fm stark.Frame[stark.E4], out []stark.E4) {
	merkleEval(stark.ExtField{}, fm, out)
}

// EvalExt6 implements stark.AIR6.
func (a *MerklePath) EvalExt6(fm stark.Frame[stark.E6], out []stark.E6) {
	merkleEval(stark.Ext6Field{}, fm, out)
}

// EvalVec implements stark.AIRVec.
func (a *MerklePath) EvalVec(v *stark.VecField, fm stark.Frame[stark.Vec], out []stark.Vec) {
	merkleEval(v, fm, out)
}
func (a *MerklePath) Boundaries() []stark.Boundary {
	b := make([]stark.Boundary, 0, 16)
	for j := range 8 {
		b = append(b, stark.Boundary{Column: mpCur + j, Row: 0, Value: a.Leaf[j]})
	}
	for j := range 8 {
		b = append(b, stark.Boundary{Column: mpRes + j, Row: a.Depth - 1, Value: a.Root[j]})
	}
	return b
}

func merkleEval[T any, F stark.Field[T]](f F, fm stark.Frame[T], out []T) {
	c := fm.Cur
	bit := c[mpBit]
	out[0] = f.Sub(f.Mul(bit, bit), bit) // bit ∈ {0, 1}
	for j := range 8 {
		cur, sib := c[mpCur+j], c[mpSib+j]
		left := f.Add(cur, f.Mul(bit, f.Sub(sib, cur)))
		right := f.Add(sib, f.Mul(bit, f.Sub(cur, sib)))
		out[1+j] = f.Sub(c[mpPerm+PermInput+j], left)
		out[9+j] = f.Sub(c[mpPerm+PermInput+8+j], right)
	}
	EvalPermutation(f, c[mpPerm:mpPerm+PermColumns], out[17:17+PermRowConstr])
	for j := range 8 {
		// res = out[8+j] + right, with right read back from the permutation input.
		res := f.Add(c[mpPerm+PermOutput+8+j], c[mpPerm+PermInput+8+j])
		out[17+PermRowConstr+j] = f.Sub(c[mpRes+j], res)
	}
	for j := range 8 {
		out[mpRowCon+j] = f.Sub(fm.Next[mpCur+j], c[mpRes+j])
	}
}
