package backendtest

import (
	"bytes"
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
)

func elems(n int, seed uint64) []fr.Element {
	v := make([]fr.Element, n)
	for i := range v {
		v[i].SetUint64(seed*1_000_003 + uint64(i)*7919 + uint64(i*i))
	}
	return v
}

// evalAt evaluates a polynomial with base coefficients at x.
func evalAt(c []fr.Element, x fr.Element) fr.Element {
	var acc fr.Element
	for i := len(c) - 1; i >= 0; i-- {
		acc.Mul(&acc, &x).Add(&acc, &c[i])
	}
	return acc
}

// Run checks every kernel of b. It is cheap (small sizes) except for the final
// end-to-end comparison of proof bytes with the CPU backend.
func Run(t *testing.T, b stark.Backend) {
	t.Helper()
	var three fr.Element
	three.SetUint64(3)
	var one fr.Element
	one.SetOne()

	t.Run("Evaluate", func(t *testing.T) {
		coeffs := [][]fr.Element{elems(8, 1), elems(16, 2), elems(1, 3)}
		out := b.Evaluate(coeffs, 64, three)
		w, _ := fr.Generator(64)
		for c := range coeffs {
			x := three
			for i := range 64 {
				if want := evalAt(coeffs[c], x); !out[c][i].Equal(&want) {
					t.Fatalf("column %d point %d: got %s want %s", c, i, out[c][i].String(), want.String())
				}
				x.Mul(&x, &w)
			}
		}
	})
	t.Run("Interpolate", func(t *testing.T) {
		for _, shift := range []fr.Element{one, three} {
			coeffs := elems(32, 4)
			evals := b.Evaluate([][]fr.Element{coeffs}, 32, shift)
			b.Interpolate(evals, shift)
			for i := range coeffs {
				if !evals[0][i].Equal(&coeffs[i]) {
					t.Fatalf("shift %s: coefficient %d not recovered", shift.String(), i)
				}
			}
		}
	})
	t.Run("HashRows", func(t *testing.T) {
		cols := [][]fr.Element{elems(40, 5), elems(40, 6), elems(40, 7)}
		got := b.HashRows(cols)
		for r := range 40 {
			if want := hash.HashLeaf([]fr.Element{cols[0][r], cols[1][r], cols[2][r]}); got[r] != want {
				t.Fatalf("row %d differs", r)
			}
		}
	})
	t.Run("CompressLevel", func(t *testing.T) {
		in := make([]hash.Digest, 64)
		for i := range in {
			copy(in[i][:], elems(8, uint64(i)))
		}
		got := b.CompressLevel(in)
		for i := range got {
			if got[i] != hash.Compress(in[2*i], in[2*i+1]) {
				t.Fatalf("node %d differs", i)
			}
		}
	})
	t.Run("FoldFRI", func(t *testing.T) {
		checkFold(t, b.FoldFRI, func(e *stark.E4, c []fr.Element) {
			e.B0.A0, e.B0.A1, e.B1.A0, e.B1.A1 = c[0], c[1], c[2], c[3]
		})
	})
	t.Run("FoldFRI6", func(t *testing.T) {
		checkFold(t, b.FoldFRI6, func(e *stark.E6, c []fr.Element) {
			e.B0.A0, e.B0.A1, e.B1.A0, e.B1.A1, e.B2.A0, e.B2.A1 = c[0], c[1], c[2], c[3], c[4], c[5]
		})
	})
}

// ext is the extension arithmetic the fold check needs (E4 and E6).
type ext[E any] interface {
	*E
	Add(x, y *E) *E
	Mul(x, y *E) *E
	MulByElement(x *E, y *fr.Element) *E
	Equal(x *E) bool
}

// checkFold: f of degree < 16 on 3·<ω_32>; folding with β must give
// f_e + β·f_o on the squares.
func checkFold[E any, P ext[E]](t *testing.T, fold func([]E, fr.Element, E) []E, set func(*E, []fr.Element)) {
	t.Helper()
	var three fr.Element
	three.SetUint64(3)
	coef := make([]E, 16)
	for i := range coef {
		set(&coef[i], elems(6, uint64(100+i)))
	}
	w, _ := fr.Generator(32)
	vals := make([]E, 32)
	x := three
	for i := range vals {
		var acc E
		for k := len(coef) - 1; k >= 0; k-- {
			P(&acc).MulByElement(&acc, &x)
			P(&acc).Add(&acc, &coef[k])
		}
		vals[i] = acc
		x.Mul(&x, &w)
	}
	var beta E
	set(&beta, elems(6, 12345))
	got := fold(vals, three, beta)
	var y fr.Element
	y.Square(&three)
	w2, _ := fr.Generator(16)
	for i := range got {
		var acc E
		for k := 7; k >= 0; k-- {
			var t E
			P(&t).Mul(&coef[2*k+1], &beta)
			P(&t).Add(&t, &coef[2*k])
			P(&acc).MulByElement(&acc, &y)
			P(&acc).Add(&acc, &t)
		}
		if !P(&got[i]).Equal(&acc) {
			t.Fatalf("fold %d differs", i)
		}
		y.Mul(&y, &w2)
	}
}

// CompareProofs proves the same statement with b and with the CPU backend
// and fails unless the encodings are identical.
func CompareProofs(t *testing.T, b stark.Backend, a stark.AIR, trace [][]fr.Element, p stark.Params) {
	t.Helper()
	ref, err := stark.Prove(a, trace, p, stark.NewCPU(1))
	if err != nil {
		t.Fatal(err)
	}
	got, err := stark.Prove(a, trace, p, b)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := ref.MarshalBinary()
	gb, _ := got.MarshalBinary()
	if !bytes.Equal(rb, gb) {
		t.Fatal("proof bytes differ from the CPU backend")
	}
}
