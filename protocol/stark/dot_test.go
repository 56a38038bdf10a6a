package stark

import (
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

func TestDotAccMatchesFieldArithmetic(t *testing.T) {
	for _, n := range []int{0, 1, 5, 300} {
		var acc dotAcc
		var want E4
		for k := range n {
			var c E4
			c.B0.A0.SetUint64(uint64(k*977 + 1))
			c.B0.A1.SetInt64(-int64(k + 3))
			c.B1.A0.SetUint64(fr.Modulus().Uint64() - 1)
			c.B1.A1.SetUint64(uint64(k) << 20)
			var v fr.Element
			v.SetInt64(-int64(k*31 + 7))
			dc := toDotCoeff(&c)
			acc.add(&dc, v)
			var p E4
			p.MulByElement(&c, &v)
			want.Add(&want, &p)
		}
		if got := dotResult[E4](&acc); !got.Equal(&want) {
			t.Fatalf("n=%d: lazy dot product %s, field arithmetic %s", n, got.String(), want.String())
		}
	}
}

// Worst case for the lazy reduction: many products of maximal values.
func TestDotAccMaximalValues(t *testing.T) {
	var c E4
	var v fr.Element
	pm1 := fr.Modulus().Uint64() - 1
	c.B0.A0.SetUint64(pm1)
	c.B0.A1.SetUint64(pm1)
	c.B1.A0.SetUint64(pm1)
	c.B1.A1.SetUint64(pm1)
	v.SetUint64(pm1)
	dc := toDotCoeff(&c)
	// Also the raw Montgomery forms may be large: pick an element whose
	// internal value is p-1.
	raw := fr.Element{uint32(pm1)}
	for _, x := range []fr.Element{v, raw} {
		var acc dotAcc
		var want E4
		for range MaxConstraints + MaxBoundaries {
			acc.add(&dc, x)
			var p E4
			p.MulByElement(&c, &x)
			want.Add(&want, &p)
		}
		if got := dotResult[E4](&acc); !got.Equal(&want) {
			t.Fatalf("lazy dot product %s, field arithmetic %s", got.String(), want.String())
		}
	}
}

// The E6 path of the lazy dot product, maximal values included.
func TestDotAccE6(t *testing.T) {
	pm1 := fr.Modulus().Uint64() - 1
	for _, n := range []int{1, 7, MaxConstraints + MaxBoundaries} {
		var acc dotAcc
		var want E6
		for k := range n {
			var c E6
			for j := range coords(&c) {
				coords(&c)[j].SetUint64(pm1 - uint64(k%3)*uint64(j))
			}
			var v fr.Element
			v.SetUint64(pm1 - uint64(k%5))
			dc := toDotCoeff(&c)
			acc.add6(&dc, v)
			var p E6
			p.MulByElement(&c, &v)
			want.Add(&want, &p)
		}
		if got := dotResult[E6](&acc); !got.Equal(&want) {
			t.Fatalf("n=%d: lazy dot product %s, field arithmetic %s", n, got.String(), want.String())
		}
	}
}
