package stark

import (
	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Transcript is the Fiat–Shamir transcript shared by prover and verifier: a
// duplex sponge over the pinned Poseidon2 permutation (width 16, rate 8,
// capacity 8). Every challenge of the protocol is drawn from it.
//
// Absorbed elements are buffered; before a squeeze they are added into the
// rate in blocks of up to 8, each block also adding its length to the first
// capacity element, then permuted. Squeezes read the rate and permute again
// when it is used up.
type Transcript struct {
	state   [hash.Width]fr.Element
	pending []fr.Element
	out     []fr.Element
}

// NewTranscript starts a transcript under a protocol label.
func NewTranscript(label string) *Transcript {
	t := &Transcript{}
	iv := hash.IV(hash.TagTranscript, len(label))
	copy(t.state[hash.Rate:], iv[:])
	t.AbsorbBytes([]byte(label))
	return t
}

// Absorb appends field elements.
func (t *Transcript) Absorb(elems ...fr.Element) {
	t.out = t.out[:0]
	t.pending = append(t.pending, elems...)
}

// AbsorbUint64 appends v as three 24-bit limbs.
func (t *Transcript) AbsorbUint64(v uint64) {
	var e [3]fr.Element
	e[0].SetUint64(v & 0xffffff)
	e[1].SetUint64((v >> 24) & 0xffffff)
	e[2].SetUint64(v >> 48)
	t.Absorb(e[:]...)
}

// AbsorbBytes appends the length, then the bytes packed 3 per element.
func (t *Transcript) AbsorbBytes(b []byte) {
	t.AbsorbUint64(uint64(len(b)))
	for i := 0; i < len(b); i += 3 {
		var v uint64
		for j := i; j < min(i+3, len(b)); j++ {
			v |= uint64(b[j]) << (8 * (j - i))
		}
		var e fr.Element
		e.SetUint64(v)
		t.Absorb(e)
	}
}

// AbsorbDigest appends a digest.
func (t *Transcript) AbsorbDigest(d hash.Digest) { t.Absorb(d[:]...) }

// AbsorbDigests appends a sequence of digests (its length is fixed by the
// parameters, so it is not absorbed).
func (t *Transcript) AbsorbDigests(ds []hash.Digest) {
	for _, d := range ds {
		t.AbsorbDigest(d)
	}
}

// AbsorbE4 appends extension elements coordinate by coordinate.
func (t *Transcript) AbsorbE4(es ...E4) { absorbExt(t, es) }

// absorbExt appends extension elements of either degree coordinate by
// coordinate.
func absorbExt[E any](t *Transcript, es []E) {
	for i := range es {
		t.Absorb(coords(&es[i])...)
	}
}

func (t *Transcript) duplex(block []fr.Element) {
	for i := range block {
		t.state[i].Add(&t.state[i], &block[i])
	}
	var l fr.Element
	l.SetUint64(uint64(len(block)))
	t.state[hash.Rate].Add(&t.state[hash.Rate], &l)
	hash.Permute(&t.state)
}

// Sample draws one base-field element.
func (t *Transcript) Sample() fr.Element {
	if len(t.pending) > 0 {
		for i := 0; i < len(t.pending); i += hash.Rate {
			t.duplex(t.pending[i:min(i+hash.Rate, len(t.pending))])
		}
		t.pending = t.pending[:0]
		t.out = append(t.out[:0], t.state[:hash.Rate]...)
	} else if len(t.out) == 0 {
		t.duplex(nil)
		t.out = append(t.out[:0], t.state[:hash.Rate]...)
	}
	e := t.out[0]
	t.out = t.out[1:]
	return e
}

// SampleE4 draws an extension element.
func (t *Transcript) SampleE4() E4 { return sampleExt[E4](t) }

// sampleExt draws an element of either extension, one coordinate after
// another.
func sampleExt[E any](t *Transcript) E {
	var e E
	x := coords(&e)
	for i := range x {
		x[i] = t.Sample()
	}
	return e
}

// SampleDigest draws 8 elements.
func (t *Transcript) SampleDigest() hash.Digest {
	var d hash.Digest
	for i := range d {
		d[i] = t.Sample()
	}
	return d
}

// SampleIndex draws an index in [0, 2^logN) from the low bits of one element
// (bias below 2^(logN-31), negligible for logN ≤ 24).
func (t *Transcript) SampleIndex(logN int) int {
	e := t.Sample()
	return int(e.Uint64() & (1<<logN - 1))
}
