package stark

import (
	"math/bits"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// dotAcc accumulates Σ c_k·v_k for E4 coefficients c_k and base values v_k
// with one modular reduction at the end instead of one per product: the
// prover's hot loops (composition, DEEP) are such dot products. Raw
// Montgomery representations are multiplied as integers; the sum of
// products is ≡ Σ C_k·V_k·R² (mod p), and reducing it once and applying one
// Montgomery multiplication by the raw 1 (= R⁻¹) yields Σ C_k·V_k exactly.
type dotAcc struct {
	lo, hi [4]uint64
}

// dotCoeff is an E4 coefficient unpacked to raw Montgomery limbs.
type dotCoeff [4]uint64

func toDotCoeff(e *E4) dotCoeff {
	return dotCoeff{uint64(e.B0.A0[0]), uint64(e.B0.A1[0]), uint64(e.B1.A0[0]), uint64(e.B1.A1[0])}
}

func toDotCoeffs(es []E4) []dotCoeff {
	out := make([]dotCoeff, len(es))
	for i := range es {
		out[i] = toDotCoeff(&es[i])
	}
	return out
}

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

var (
	modulus   = fr.Modulus().Uint64()
	two64ModP = func() uint64 { // 2^64 mod p
		_, r := bits.Div64(1, 0, fr.Modulus().Uint64())
		return r
	}()
	rawOne = fr.Element{1} // internal value 1 represents R⁻¹
)

func (a *dotAcc) reduce(i int) fr.Element {
	// (hi·2^64 + lo) mod p; hi < p so the division cannot overflow.
	_, r := bits.Div64(a.hi[i]%modulus, a.lo[i], modulus)
	e := fr.Element{uint32(r)}
	e.Mul(&e, &rawOne)
	return e
}

// result returns the accumulated E4 value.
func (a *dotAcc) result() E4 {
	return e4FromCoords(a.reduce(0), a.reduce(1), a.reduce(2), a.reduce(3))
}
