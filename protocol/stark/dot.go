package stark

import (
	"math/bits"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
	"github.com/consensys/gnark-crypto/field/koalabear/extensions"
)

// dotAcc accumulates Σ c_k·v_k for extension coefficients c_k and base values v_k
// with one modular reduction at the end instead of one per product: the
// prover's hot loops (composition, DEEP) are such dot products. Raw
// Montgomery representations are multiplied as integers; the sum of
// products is ≡ Σ C_k·V_k·R² (mod p), and reducing it once and applying one
// Montgomery multiplication by the raw 1 (= R⁻¹) yields Σ C_k·V_k exactly.
type dotAcc struct {
	lo, hi [6]uint64
}

// dotCoeff is an extension coefficient (E4 or E6) unpacked to raw Montgomery
// limbs; an E4 coefficient leaves the last two zero.
type dotCoeff [6]uint64

func toDotCoeff[E any](e *E) dotCoeff {
	var d dotCoeff
	for i, c := range coords(e) {
		d[i] = uint64(c[0])
	}
	return d
}

func toDotCoeffs[E any](es []E) []dotCoeff {
	out := make([]dotCoeff, len(es))
	for i := range es {
		out[i] = toDotCoeff(&es[i])
	}
	return out
}

// addTo adds Σ_k cs[k]·vs[k] to a, for coefficients of degree d (4 or 6):
// the branch is taken once per call, not per product.
func (a *dotAcc) addTo(cs []dotCoeff, vs []fr.Element, d int) {
	if d == 6 {
		for k := range vs {
			a.add6(&cs[k], vs[k])
		}
		return
	}
	for k := range vs {
		a.add(&cs[k], vs[k])
	}
}

// mulAcc adds c·vals[i] to acc[i] for every i, with gnark-crypto's vector
// kernels for E4 and E6 (AVX-512 where the CPU has it; exact arithmetic,
// so the result does not depend on which path ran).
func mulAcc[E any](acc []E, vals []fr.Element, c *E) {
	switch a := any(acc).(type) {
	case []E4:
		extensions.Vector(a).MulAccByElement(vals, any(c).(*E4))
	case []E6:
		extensions.VectorE6(a).ScalarMulAccByElement(vals, any(c).(*E6))
	}
}

// add6 is add for E6 coefficients.
func (a *dotAcc) add6(c *dotCoeff, v fr.Element) {
	a.add(c, v)
	x := uint64(v[0])
	var carry uint64
	a.lo[4], carry = bits.Add64(a.lo[4], c[4]*x, 0)
	a.hi[4] += carry
	a.lo[5], carry = bits.Add64(a.lo[5], c[5]*x, 0)
	a.hi[5] += carry
}

// add is the product for E4 coefficients (coordinates 0..3).
func (a *dotAcc) add(c *dotCoeff, v fr.Element) {
	x := uint64(v[0])
	var carry uint64
	a.lo[0], carry = bits.Add64(a.lo[0], c[0]*x, 0)
	a.hi[0] += carry
	a.lo[1], carry = bits.Add64(a.lo[1], c[1]*x, 0)
	a.hi[1] += carry
	a.lo[2], carry = bits.Add64(a.lo[2], c[2]*x, 0)
	a.hi[2] += carry
	a.lo[3], carry = bits.Add64(a.lo[3], c[3]*x, 0)
	a.hi[3] += carry
}

const (
	qInvNeg = 2130706431 // −p⁻¹ mod 2^32
	k32     = 1<<25 - 2  // 2^32 mod p
)

var k64 = func() uint64 { // 2^64 mod p
	_, r := bits.Div64(1, 0, fr.Modulus().Uint64())
	return r
}()

// reduce returns the element whose Montgomery form is (hi·2^64 + lo)·2^-32:
// it folds the 128-bit sum to V' ≡ V (mod p) with V' < 2^58 (hi counts
// carries, far below 2^20; 2^32 ≡ 2^25 − 2), then Montgomery-reduces. The
// sum is ≡ Σ C·V·R², so the result represents Σ C·V.
func (a *dotAcc) reduce(i int) fr.Element {
	v := a.hi[i]*k64 + (a.lo[i]>>32)*k32 + (a.lo[i] & 0xffffffff)
	m := uint64(uint32(v) * qInvNeg)
	t := (v + m*modulus) >> 32
	if t >= modulus {
		t -= modulus
	}
	return fr.Element{uint32(t)}
}

var modulus = fr.Modulus().Uint64()

// result returns the accumulated value.
func dotResult[E any](a *dotAcc) E {
	var e E
	x := coords(&e)
	for i := range x {
		x[i] = a.reduce(i)
	}
	return e
}
