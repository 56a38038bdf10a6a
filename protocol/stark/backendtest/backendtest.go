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
		// f of degree < 16 on 3·<ω_32>; folding with β must give f_e + β·f_o.
		coef := make([]stark.E4, 16)
		for i := range coef {
			e := elems(4, uint64(100+i))
			coef[i].B0.A0, coef[i].B0.A1, coef[i].B1.A0, coef[i].B1.A1 = e[0], e[1], e[2], e[3]
		}
		w, _ := fr.Generator(32)
		vals := make([]stark.E4, 32)
		x := three
		for i := range vals {
			var acc stark.E4
			for k := len(coef) - 1; k >= 0; k-- {
				acc.MulByElement(&acc, &x)
				acc.Add(&acc, &coef[k])
			}
			vals[i] = acc
			x.Mul(&x, &w)
		}
		var beta stark.E4
		beta.B0.A0.SetUint64(12345)
		beta.B1.A1.SetUint64(678)
		got := b.FoldFRI(vals, three, beta)
		var y fr.Element
		y.Square(&three)
		w2, _ := fr.Generator(16)
		for i := range got {
			var acc stark.E4
			for k := 7; k >= 0; k-- {
				var t stark.E4
				t.Mul(&coef[2*k+1], &beta)
				t.Add(&t, &coef[2*k])
				acc.MulByElement(&acc, &y)
				acc.Add(&acc, &t)
			}
			if !got[i].Equal(&acc) {
				t.Fatalf("fold %d differs", i)
			}
			y.Mul(&y, &w2)
		}
	})
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
