package stark

import (
	"unsafe"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
	"github.com/consensys/gnark-crypto/field/koalabear/extensions"
)

// E4 is the degree-4 extension of KoalaBear (~124 bits): the challenge field
// of proofs with E4Challenges (encoding version 1).
type E4 = extensions.E4

// E6 is the degree-6 extension of KoalaBear (~186 bits), built as a cubic
// extension of E2: the challenge field of proofs with E6Challenges
// (encoding version 2).
type E6 = extensions.E6

// extElem is what the prover and verifier need of a challenge field. E4 and
// E6 satisfy it; the code that draws and combines challenges is written once
// over it.
type extElem[E any] interface {
	*E
	Set(x *E) *E
	SetOne() *E
	Add(x, y *E) *E
	Sub(x, y *E) *E
	Mul(x, y *E) *E
	Square(x *E) *E
	Neg(x *E) *E
	Inverse(x *E) *E
	MulByElement(x *E, y *fr.Element) *E
	Equal(x *E) bool
	String() string
}

// degree is the number of base-field coordinates of E.
func degree[E any]() int {
	var e E
	return int(unsafe.Sizeof(e) / unsafe.Sizeof(fr.Element{}))
}

// coords views e's coordinates in the fixed order used for hashing and
// encoding: B0.A0, B0.A1, B1.A0, B1.A1 (and B2.A0, B2.A1 for E6). Both
// extensions are nested structs of base elements, laid out in that order
// with no padding (TestCoordsLayout checks it).
func coords[E any](e *E) []fr.Element {
	return unsafe.Slice((*fr.Element)(unsafe.Pointer(e)), degree[E]())
}

// lift embeds a base element.
func lift[E any](c fr.Element) E {
	var e E
	coords(&e)[0] = c
	return e
}

// addBase adds a base element to e.
func addBase[E any](e *E, c fr.Element) {
	x := coords(e)
	x[0].Add(&x[0], &c)
}

// Ext is an extension-field value as a proof holds it: the coordinates of
// the proof's challenge field (4 for E4, 6 for E6), the rest zero.
type Ext [6]fr.Element

func toExt[E any](e *E) Ext {
	var x Ext
	copy(x[:], coords(e))
	return x
}

func fromExt[E any](x *Ext) E {
	var e E
	copy(coords(&e), x[:])
	return e
}

func toExts[E any](es []E) []Ext {
	out := make([]Ext, len(es))
	for i := range es {
		out[i] = toExt(&es[i])
	}
	return out
}

func fromExts[E any](xs []Ext) []E {
	out := make([]E, len(xs))
	for i := range xs {
		out[i] = fromExt[E](&xs[i])
	}
	return out
}

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

// Ext6Field implements Field over E6. It and ExtField are written out, not
// one generic type: the verifier's constraint evaluation inlines their
// methods (a generic version made batch/v1 verification ~10 % slower).
type Ext6Field struct{ _ [0]E6 }

func (Ext6Field) Add(a, b E6) E6                 { a.Add(&a, &b); return a }
func (Ext6Field) Sub(a, b E6) E6                 { a.Sub(&a, &b); return a }
func (Ext6Field) Mul(a, b E6) E6                 { a.Mul(&a, &b); return a }
func (Ext6Field) Square(a E6) E6                 { a.Square(&a); return a }
func (Ext6Field) MulConst(a E6, c fr.Element) E6 { a.MulByElement(&a, &c); return a }
func (Ext6Field) AddConst(a E6, c fr.Element) E6 { a.B0.A0.Add(&a.B0.A0, &c); return a }
func (Ext6Field) Const(c fr.Element) E6          { var e E6; e.B0.A0 = c; return e }

// ExtField implements Field over E4.
type ExtField struct{ _ [0]E4 }

func (ExtField) Add(a, b E4) E4                 { a.Add(&a, &b); return a }
func (ExtField) Sub(a, b E4) E4                 { a.Sub(&a, &b); return a }
func (ExtField) Mul(a, b E4) E4                 { a.Mul(&a, &b); return a }
func (ExtField) Square(a E4) E4                 { a.Square(&a); return a }
func (ExtField) MulConst(a E4, c fr.Element) E4 { a.MulByElement(&a, &c); return a }
func (ExtField) AddConst(a E4, c fr.Element) E4 { a.B0.A0.Add(&a.B0.A0, &c); return a }
func (ExtField) Const(c fr.Element) E4          { var e E4; e.B0.A0 = c; return e }

func extPow[E any, P extElem[E]](x E, k uint64) E {
	var r E
	P(&r).SetOne()
	for k > 0 {
		if k&1 == 1 {
			P(&r).Mul(&r, &x)
		}
		P(&x).Square(&x)
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

// evalBaseAt evaluates a polynomial with base-field coefficients at an
// extension point.
func evalBaseAt[E any, P extElem[E]](coeffs []fr.Element, x E) E {
	var acc E
	for i := len(coeffs) - 1; i >= 0; i-- {
		P(&acc).Mul(&acc, &x)
		addBase(&acc, coeffs[i])
	}
	return acc
}

// evalExtAt evaluates a polynomial with extension coefficients.
func evalExtAt[E any, P extElem[E]](coeffs []E, x E) E {
	var acc E
	for i := len(coeffs) - 1; i >= 0; i-- {
		P(&acc).Mul(&acc, &x)
		P(&acc).Add(&acc, &coeffs[i])
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
