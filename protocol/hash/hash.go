package hash

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/field/koalabear"
	"github.com/consensys/gnark-crypto/field/koalabear/poseidon2"
)

// Width is the permutation width; Rate elements are absorbed per call.
const (
	Width          = 16
	Rate           = 8
	DigestElements = 8
	// DigestSize is the length of a Digest's canonical encoding.
	DigestSize = DigestElements * 4
	// FullRounds and PartialRounds are the pinned round numbers.
	FullRounds    = 6
	PartialRounds = 21
)

// Tag separates the uses of Hash. Values are below the field modulus.
type Tag uint32

// Domain tags. New uses must take new values; never reuse one.
const (
	TagHash       Tag = 0x54524c01 // generic Hash
	TagLeaf       Tag = 0x54524c02 // Merkle leaves (state tree, STARK rows)
	TagTranscript Tag = 0x54524c03 // Fiat–Shamir transcript initial state
	TagPoW        Tag = 0x54524c04 // proof-of-work grinding
	TagAddress    Tag = 0x54524c05 // account address from an ed25519 public key
	TagExtra      Tag = 0x54524c06 // account extra data (stake records) committed by a leaf
	TagSystem     Tag = 0x54524c07 // addresses of system accounts, from their names
	TagTxMessage  Tag = 0x54524c08 // a transaction's signing bytes (what a hash-based key signs; what a header commits to)
	TagTxs        Tag = 0x54524c09 // a header's commitment to its ordered transactions' signing digests
	TagBatch      Tag = 0x54524c10 // the batch hash of a block statement (protocol/batch)
	// The hash-based signature scheme (protocol/hashsig).
	TagSigSeed    Tag = 0x54524c20 // secret seed bytes to the key's secret digest
	TagSigParam   Tag = 0x54524c21 // the key's public parameter, from its secret digest
	TagSigSecret  Tag = 0x54524c22 // a chain's secret start, from the secret digest
	TagSigChain   Tag = 0x54524c23 // one chain step's tweak
	TagSigLeaf    Tag = 0x54524c24 // a one-time key's leaf, from its chain ends
	TagSigMsg     Tag = 0x54524c25 // the message encoding
	TagSigAddress Tag = 0x54524c26 // account address from a hash-based public key
)

// Digest is the output of the hash: 8 KoalaBear elements (~248 bits).
type Digest [DigestElements]koalabear.Element

// ErrDigestEncoding reports a malformed 32-byte digest encoding.
var ErrDigestEncoding = errors.New("hash: invalid digest encoding")

var perm = poseidon2.NewPermutation(Width, FullRounds, PartialRounds)

// Permutation exposes the pinned Poseidon2 permutation (for AIRs and tests).
func Permutation() *poseidon2.Permutation { return perm }

// RoundKeys returns the pinned round keys: rounds 0–2 and 24–26 have 16 keys,
// the 21 partial rounds one key each. The slices must not be modified.
func RoundKeys() [][]koalabear.Element {
	return poseidon2.NewParameters(Width, FullRounds, PartialRounds).RoundKeys
}

// Permute applies the Poseidon2 permutation to state in place.
func Permute(state *[Width]koalabear.Element) {
	_ = perm.Permutation(state[:]) // cannot fail: the length is Width
}

// Compress is the 2-to-1 compression P(l‖r)[8:] + r (see package doc).
func Compress(left, right Digest) Digest {
	var s [Width]koalabear.Element
	copy(s[:Rate], left[:])
	copy(s[Rate:], right[:])
	Permute(&s)
	var out Digest
	for i := range out {
		out[i].Add(&s[Rate+i], &right[i])
	}
	return out
}

// HashNode hashes an inner Merkle node from its two children.
func HashNode(left, right Digest) Digest { return Compress(left, right) }

// IV returns the chaining value a tagged hash of n elements starts from.
func IV(tag Tag, n int) Digest {
	var iv Digest
	iv[0].SetUint64(uint64(tag))
	iv[1].SetUint64(uint64(n) & 0xffffff)
	iv[2].SetUint64(uint64(n) >> 24)
	return iv
}

// Blocks returns the number of 8-element blocks a hash of n elements absorbs.
func Blocks(n int) int {
	if n == 0 {
		return 1
	}
	return (n + Rate - 1) / Rate
}

// HashWithTag hashes elems under the given domain tag.
func HashWithTag(tag Tag, elems []koalabear.Element) Digest {
	c := IV(tag, len(elems))
	nb := Blocks(len(elems))
	for b := range nb {
		var blk Digest
		if b*Rate < len(elems) {
			copy(blk[:], elems[b*Rate:min(len(elems), (b+1)*Rate)])
		}
		c = Compress(c, blk)
	}
	return c
}

// Hash hashes a variable-length sequence of field elements.
func Hash(elems []koalabear.Element) Digest { return HashWithTag(TagHash, elems) }

// HashLeaf hashes the contents of a Merkle leaf.
func HashLeaf(elems []koalabear.Element) Digest { return HashWithTag(TagLeaf, elems) }

// Bytes returns the canonical 32-byte encoding of d.
func (d Digest) Bytes() [DigestSize]byte {
	var b [DigestSize]byte
	for i := range d {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(d[i].Uint64()))
	}
	return b
}

// String returns the hex encoding.
func (d Digest) String() string {
	b := d.Bytes()
	return fmt.Sprintf("%x", b[:])
}

// Equal reports whether two digests are equal.
func (d Digest) Equal(o Digest) bool { return d == o }

// DigestFromBytes decodes a canonical 32-byte digest.
func DigestFromBytes(b []byte) (Digest, error) {
	var d Digest
	if len(b) != DigestSize {
		return d, fmt.Errorf("%w: length %d, want %d", ErrDigestEncoding, len(b), DigestSize)
	}
	for i := range d {
		v := binary.LittleEndian.Uint32(b[4*i:])
		if uint64(v) >= koalabear.Modulus().Uint64() {
			return d, fmt.Errorf("%w: element %d is %d, not below the modulus", ErrDigestEncoding, i, v)
		}
		d[i].SetUint64(uint64(v))
	}
	return d, nil
}
