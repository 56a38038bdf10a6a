package tx

import (
	"encoding/binary"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
)

// The signed content of a transaction as KoalaBear elements: what a
// hash-based key signs and what a header's transaction commitment chains
// (SigningDigest). It is structured, not packed bytes, so that a block
// statement reads every field directly: an integer is its four 16-bit limbs,
// least significant first (a statement range-checks limbs anyway); an
// address is its 8 digest elements; bytes are packed two to an element,
// little-endian, after their length. Layout:
//
//	version, type, chain id (len, bytes), nonce ×4, gas limit ×4,
//	max fee per gas ×4, max priority fee per gas ×4, body, key
//
// Bodies: transfer: to ×8, amount ×4; bond: amount ×4, BLS key (48 bytes)
// and proof of possession (96 bytes) as bytes; unbond and delegate:
// validator ×8, amount ×4; slash: evidence as bytes; prover_register: kind
// as bytes, throughput ×4, price ×4, bond ×4; prover_exit: nothing; proof:
// height ×4 and the digest ×8 of the proof bytes (Hash of them as bytes):
// a statement binds a proof without hashing its half megabyte, and proofs
// inside proofs are not checked by any statement yet. Key: an ed25519 key
// as bytes; a hash-based key as its log lifetime, parameter ×8, root ×8.
// Every part has a fixed size or a length first, so the layout decodes one
// way; the version and type come first, so versions and types never
// collide. The hash's IV carries the total length.

// SigningElements returns the signed content as field elements.
func (t *Tx) SigningElements() []fr.Element {
	e := make([]fr.Element, 0, 64)
	e = append(e, fr.NewElement(uint64(t.version())), fr.NewElement(uint64(t.Type())))
	e = appendBytes(e, []byte(t.ChainID))
	for _, v := range []uint64{t.Nonce, t.GasLimit, t.MaxFeePerGas, t.MaxPriorityFeePerGas} {
		e = appendU64(e, v)
	}
	switch b := t.Body.(type) {
	case Transfer:
		e = appendU64(appendAddress(e, b.To), b.Amount)
	case Bond:
		e = appendU64(e, b.Amount)
		e = appendBytes(e, b.BLSPublicKey[:])
		e = appendBytes(e, b.ProofOfPossession[:])
	case Unbond:
		e = appendU64(appendAddress(e, b.Validator), b.Amount)
	case Delegate:
		e = appendU64(appendAddress(e, b.Validator), b.Amount)
	case Slash:
		e = appendBytes(e, []byte(b.Evidence))
	case ProverRegister:
		e = appendBytes(e, []byte(b.Kind))
		e = appendU64(appendU64(appendU64(e, b.Throughput), b.Price), b.Bond)
	case ProverExit:
	case Proof:
		d := hash.Hash(appendBytes(nil, []byte(b.Proof)))
		e = append(appendU64(e, b.Height), d[:]...)
	}
	if t.HashSig != nil {
		p := t.HashSig.PublicKey
		e = append(e, fr.NewElement(uint64(p.LogLifetime)))
		e = append(e, p.Param[:]...)
		return append(e, p.Root[:]...)
	}
	return appendBytes(e, t.PublicKey[:])
}

// SigningDigest is the Poseidon2 digest of the signed content
// (SigningElements under hash.TagTxMessage): what a hash-based key signs,
// and what a header's transaction commitment chains (protocol/block).
func (t *Tx) SigningDigest() hash.Digest {
	return hash.HashWithTag(hash.TagTxMessage, t.SigningElements())
}

// appendU64 appends v's four 16-bit limbs, least significant first.
func appendU64(e []fr.Element, v uint64) []fr.Element {
	for i := range 4 {
		e = append(e, fr.NewElement(v>>(16*i)&0xffff))
	}
	return e
}

// appendAddress appends an address's 8 digest elements: its little-endian
// 32-bit words, which are canonical in every address a decoded
// transaction holds (an invalid one, built in code, reduces instead of
// panicking; it can never be in a valid block).
func appendAddress(e []fr.Element, a account.Address) []fr.Element {
	for i := range 8 {
		e = append(e, fr.NewElement(uint64(binary.LittleEndian.Uint32(a[4*i:]))))
	}
	return e
}

// appendBytes appends len(b), then b packed two bytes to an element.
func appendBytes(e []fr.Element, b []byte) []fr.Element {
	return packBytes(append(e, fr.NewElement(uint64(len(b)))), b)
}

// packBytes appends b two bytes to an element, little-endian; an odd last
// byte alone.
func packBytes(e []fr.Element, b []byte) []fr.Element {
	for i := 0; i < len(b); i += 2 {
		v := uint64(b[i])
		if i+1 < len(b) {
			v |= uint64(b[i+1]) << 8
		}
		e = append(e, fr.NewElement(v))
	}
	return e
}
