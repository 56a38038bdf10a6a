package bls

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"strings"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// Sizes of the encodings, in bytes.
const (
	SecretKeySize = fr.Bytes                          // 32
	PublicKeySize = bls12381.SizeOfG1AffineCompressed // 48
	SignatureSize = bls12381.SizeOfG2AffineCompressed // 96
)

// Flag bits of the first byte of a compressed point (ZCash encoding).
const (
	flagCompressed = 0x80
	flagInfinity   = 0x40
)

// SecretKey is a validator's signing scalar, in [1, r). Make one with
// GenerateKey, SecretKeyFromBytes or LoadKeyFile; the zero value is not a
// usable key.
type SecretKey struct {
	s fr.Element
}

// GenerateKey draws a secret key uniformly from [1, r) using rand (pass
// crypto/rand.Reader). It reads 64 bytes and reduces them modulo r, so the
// bias is below 2^-250.
func GenerateKey(rand io.Reader) (*SecretKey, error) {
	var buf [64]byte
	defer clear(buf[:])
	for range 8 {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return nil, fmt.Errorf("%w: reading randomness: %v", ErrSecretKey, err)
		}
		n := new(big.Int).SetBytes(buf[:])
		n.Mod(n, fr.Modulus())
		sk := new(SecretKey)
		sk.s.SetBigInt(n)
		n.SetUint64(0)
		if !sk.s.IsZero() {
			return sk, nil
		}
	}
	// Eight zero draws in a row (each with probability 2^-255) means the
	// source is broken, not unlucky.
	return nil, fmt.Errorf("%w: the random source keeps yielding zero", ErrSecretKey)
}

// SecretKeyFromBytes parses a 32-byte big-endian scalar. It rejects any
// other length, zero and values not below the group order r.
func SecretKeyFromBytes(b []byte) (*SecretKey, error) {
	if len(b) != SecretKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrSecretKey, len(b), SecretKeySize)
	}
	sk := new(SecretKey)
	if err := sk.s.SetBytesCanonical(b); err != nil {
		return nil, fmt.Errorf("%w: not below the group order r", ErrSecretKey)
	}
	if sk.s.IsZero() {
		return nil, fmt.Errorf("%w: zero", ErrSecretKey)
	}
	return sk, nil
}

// Bytes returns the key as a 32-byte big-endian scalar.
func (sk *SecretKey) Bytes() [SecretKeySize]byte { return sk.s.Bytes() }

// PublicKey returns sk·g1.
func (sk *SecretKey) PublicKey() PublicKey {
	var pk PublicKey
	pk.p.ScalarMultiplicationBase(sk.scalar())
	return pk
}

// scalar returns the key as a big.Int, the form gnark's scalar
// multiplication takes.
func (sk *SecretKey) scalar() *big.Int { return sk.s.BigInt(new(big.Int)) }

// PublicKey is a point of G1 that is in the prime-order subgroup and, for
// every value this package returns, not the identity. Values are safe to
// copy and compare with Equal.
type PublicKey struct {
	p bls12381.G1Affine
}

// PublicKeyFromBytes decodes a 48-byte compressed public key received from
// outside. It rejects a wrong length, an uncompressed or malformed encoding,
// a coordinate not below the field modulus, a point not on the curve or not
// in the prime-order subgroup, and the identity. It never panics.
func PublicKeyFromBytes(b []byte) (PublicKey, error) {
	var pk PublicKey
	if err := checkFlags(b, PublicKeySize); err != nil {
		return pk, fmt.Errorf("%w: %v", ErrPublicKey, err)
	}
	dec := bls12381.NewDecoder(bytes.NewReader(b), bls12381.NoSubgroupChecks())
	if err := dec.Decode(&pk.p); err != nil {
		return PublicKey{}, fmt.Errorf("%w: not a canonical encoding of a curve point: %v", ErrPublicKey, err)
	}
	if !pk.p.IsInSubGroup() {
		return PublicKey{}, fmt.Errorf("%w: point not in the prime-order subgroup", ErrPublicKey)
	}
	return pk, nil
}

// Bytes returns the 48-byte compressed encoding.
func (pk PublicKey) Bytes() [PublicKeySize]byte { return pk.p.Bytes() }

// Equal reports whether pk and o are the same point.
func (pk PublicKey) Equal(o PublicKey) bool { return pk.p.Equal(&o.p) }

// String returns the compressed encoding in lower-case hex.
func (pk PublicKey) String() string {
	b := pk.Bytes()
	return hex.EncodeToString(b[:])
}

// MarshalText returns the compressed encoding in lower-case hex, the form
// genesis files use.
func (pk PublicKey) MarshalText() ([]byte, error) { return []byte(pk.String()), nil }

// UnmarshalText decodes hex (with or without a 0x prefix) through
// PublicKeyFromBytes.
func (pk *PublicKey) UnmarshalText(text []byte) error {
	b, err := decodeHex(text, PublicKeySize)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPublicKey, err)
	}
	k, err := PublicKeyFromBytes(b)
	if err != nil {
		return err
	}
	*pk = k
	return nil
}

// Signature is a point of G2 in the prime-order subgroup. Values from
// SignatureFromBytes and AggregateSignatures are never the identity.
type Signature struct {
	p bls12381.G2Affine
}

// SignatureFromBytes decodes a 96-byte compressed signature received from
// outside. It rejects a wrong length, an uncompressed or malformed encoding,
// a coordinate not below the field modulus, a point not on the curve or not
// in the prime-order subgroup, and the identity. It never panics.
func SignatureFromBytes(b []byte) (Signature, error) {
	var sig Signature
	if err := checkFlags(b, SignatureSize); err != nil {
		return sig, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	dec := bls12381.NewDecoder(bytes.NewReader(b), bls12381.NoSubgroupChecks())
	if err := dec.Decode(&sig.p); err != nil {
		return Signature{}, fmt.Errorf("%w: not a canonical encoding of a curve point: %v", ErrSignature, err)
	}
	if !sig.p.IsInSubGroup() {
		return Signature{}, fmt.Errorf("%w: point not in the prime-order subgroup", ErrSignature)
	}
	return sig, nil
}

// Bytes returns the 96-byte compressed encoding.
func (sig Signature) Bytes() [SignatureSize]byte { return sig.p.Bytes() }

// Equal reports whether sig and o are the same point.
func (sig Signature) Equal(o Signature) bool { return sig.p.Equal(&o.p) }

// String returns the compressed encoding in lower-case hex.
func (sig Signature) String() string {
	b := sig.Bytes()
	return hex.EncodeToString(b[:])
}

// MarshalText returns the compressed encoding in lower-case hex.
func (sig Signature) MarshalText() ([]byte, error) { return []byte(sig.String()), nil }

// UnmarshalText decodes hex (with or without a 0x prefix) through
// SignatureFromBytes.
func (sig *Signature) UnmarshalText(text []byte) error {
	b, err := decodeHex(text, SignatureSize)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	s, err := SignatureFromBytes(b)
	if err != nil {
		return err
	}
	*sig = s
	return nil
}

// checkFlags rejects what the compressed encoding rules out before any
// field arithmetic: a wrong length, a cleared compression bit and the
// identity (which this package never accepts, in any of its encodings).
func checkFlags(b []byte, size int) error {
	if len(b) != size {
		return fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	if b[0]&flagCompressed == 0 {
		return fmt.Errorf("compression flag not set (first byte 0x%02x); only the compressed encoding is accepted", b[0])
	}
	if b[0]&flagInfinity != 0 {
		return fmt.Errorf("the identity (point at infinity) is not a valid key or signature")
	}
	return nil
}

func decodeHex(text []byte, size int) ([]byte, error) {
	s := strings.TrimPrefix(string(text), "0x")
	if len(s) != 2*size {
		return nil, fmt.Errorf("%d hex digits, want %d", len(s), 2*size)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad hex: %v", err)
	}
	return b, nil
}
