package stark

import (
	fr "github.com/consensys/gnark-crypto/field/koalabear"
	"github.com/consensys/gnark-crypto/field/koalabear/extensions"
)

// E4 is the degree-4 extension of KoalaBear (~124 bits) that all challenges
// live in.
type E4 = extensions.E4

// Field is the arithmetic an AIR's constraints are written against, so one
// generic function serves both the prover (base field, over the LDE) and the
// verifier (E4, at the out-of-domain point).
type Field[T any] interface {
	Add(a, b T) T
	Sub(a, b T) T
	Mul(a, b T) T
	Square(a T) T
	// MulConst multiplies by a base-field constant.
	MulConst(a T, c fr.Element) T
	// AddConst adds a base-field constant.
	AddConst(a T, c fr.Element) T
	// Const lifts a base-field constant.
	Const(c fr.Element) T
}

// BaseField implements Field over KoalaBear. The zero-length array gives it a
// distinct shape so generic code is specialised (direct, inlinable calls).
type BaseField struct{ _ [0]fr.Element }

func (BaseField) Add(a, b fr.Element) fr.Element      { a.Add(&a, &b); return a }
func (BaseField) Sub(a, b fr.Element) fr.Element      { a.Sub(&a, &b); return a }
func (BaseField) Mul(a, b fr.Element) fr.Element      { a.Mul(&a, &b); return a }
func (BaseField) Square(a fr.Element) fr.Element      { a.Square(&a); return a }
func (BaseField) MulConst(a, c fr.Element) fr.Element { a.Mul(&a, &c); return a }
func (BaseField) AddConst(a, c fr.Element) fr.Element { a.Add(&a, &c); return a }
func (BaseField) Const(c fr.Element) fr.Element       { return c }

// ExtField implements Field over E4.
type ExtField struct{ _ [0]E4 }

func (ExtField) Add(a, b E4) E4                 { a.Add(&a, &b); return a }
func (ExtField) Sub(a, b E4) E4                 { a.Sub(&a, &b); return a }
func (ExtField) Mul(a, b E4) E4                 { a.Mul(&a, &b); return a }
func (ExtField) Square(a E4) E4                 { a.Square(&a); return a }
func (ExtField) MulConst(a E4, c fr.Element) E4 { a.MulByElement(&a, &c); return a }
func (ExtField) AddConst(a E4, c fr.Element) E4 { a.B0.A0.Add(&a.B0.A0, &c); return a }
func (ExtField) Const(c fr.Element) E4          { var e E4; e.B0.A0 = c; return e }

// e4Coords returns the 4 base-field coordinates of e in the fixed order used
// for hashing and encoding.
func e4Coords(e *E4) [4]fr.Element {
	return [4]fr.Element{e.B0.A0, e.B0.A1, e.B1.A0, e.B1.A1}
}

func e4FromCoords(c0, c1, c2, c3 fr.Element) E4 {
	var e E4
	e.B0.A0, e.B0.A1, e.B1.A0, e.B1.A1 = c0, c1, c2, c3
	return e
}

// e4Basis returns the t-th basis element (coordinate t set to one).
func e4Basis(t int) E4 {
	var c [4]fr.Element
	c[t].SetOne()
	return e4FromCoords(c[0], c[1], c[2], c[3])
}

func e4Pow(x E4, k uint64) E4 {
	var r E4
	r.SetOne()
	for k > 0 {
		if k&1 == 1 {
			r.Mul(&r, &x)
		}
		x.Square(&x)
		k >>= 1
	}
	return r
}

func frPow(x fr.Element, k uint64) fr.Element {
	var r fr.Element
	r.SetOne()
	for k > 0 {
		if k&1 == 1 {
			r.Mul(&r, &x)
		}
		x.Square(&x)
		k >>= 1
	}
	return r
}

// evalBaseAt evaluates a polynomial with base-field coefficients at an E4 point.
func evalBaseAt(coeffs []fr.Element, x E4) E4 {
	var acc E4
	for i := len(coeffs) - 1; i >= 0; i-- {
		acc.Mul(&acc, &x)
		acc.B0.A0.Add(&acc.B0.A0, &coeffs[i])
	}
	return acc
}

// evalExtAt evaluates a polynomial with E4 coefficients at an E4 point.
func evalExtAt(coeffs []E4, x E4) E4 {
	var acc E4
	for i := len(coeffs) - 1; i >= 0; i-- {
		acc.Mul(&acc, &x)
		acc.Add(&acc, &coeffs[i])
	}
	return acc
}

// rootOfUnity returns the generator of the subgroup of order n (a power of two
// up to 2^24), consistent across sizes: rootOfUnity(n) = rootOfUnity(2n)².
func rootOfUnity(n int) fr.Element {
	g, err := fr.Generator(uint64(n))
	if err != nil {
		panic("stark: domain too large") // sizes are validated before use
	}
	return g
}

// cosetShift is the LDE coset offset: the multiplicative generator 3, which
// lies in no subgroup of power-of-two order.
func cosetShift() fr.Element {
	var s fr.Element
	s.SetUint64(3)
	return s
}
