package hashsig

import (
	"encoding/binary"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Encoded sizes.
const (
	// PublicKeySize is 1 byte of log lifetime, the parameter and the root.
	PublicKeySize = 1 + 2*hash.DigestSize
	// sigFixed is a signature's size without its path: log lifetime,
	// index, randomizer, chains.
	sigFixed = 1 + 4 + 4 + Chains*hash.DigestSize
	// MaxSignatureSize is the largest signature (at MaxLogLifetime).
	MaxSignatureSize = sigFixed + MaxLogLifetime*hash.DigestSize
)

// SignatureSize is the encoded size of a signature of a key with
// 2^logLifetime one-time keys.
func SignatureSize(logLifetime int) int { return sigFixed + logLifetime*hash.DigestSize }

// Bytes encodes the public key: log lifetime u8 | parameter | root.
func (p PublicKey) Bytes() []byte {
	b := make([]byte, 0, PublicKeySize)
	b = append(b, byte(p.LogLifetime))
	pb, rb := p.Param.Bytes(), p.Root.Bytes()
	b = append(b, pb[:]...)
	return append(b, rb[:]...)
}

// ParsePublicKey decodes Bytes' output; it rejects any other length, a
// lifetime out of range and digests that are not canonical.
func ParsePublicKey(b []byte) (PublicKey, error) {
	var p PublicKey
	if len(b) != PublicKeySize {
		return p, fmt.Errorf("%w: public key of %d bytes, want %d", ErrEncoding, len(b), PublicKeySize)
	}
	p.LogLifetime = int(b[0])
	if err := checkLifetime(p.LogLifetime); err != nil {
		return p, fmt.Errorf("%w: %w", ErrEncoding, err)
	}
	var err error
	if p.Param, err = hash.DigestFromBytes(b[1 : 1+hash.DigestSize]); err != nil {
		return p, fmt.Errorf("%w: parameter: %w", ErrEncoding, err)
	}
	if p.Root, err = hash.DigestFromBytes(b[1+hash.DigestSize:]); err != nil {
		return p, fmt.Errorf("%w: root: %w", ErrEncoding, err)
	}
	return p, nil
}

// Bytes encodes the signature: log lifetime u8 | index u32 | rho u32 |
// chains | path (integers little-endian).
func (s *Signature) Bytes() []byte {
	b := make([]byte, 0, SignatureSize(len(s.Path)))
	b = append(b, byte(len(s.Path)))
	b = binary.LittleEndian.AppendUint32(b, s.Index)
	b = binary.LittleEndian.AppendUint32(b, s.Rho)
	for _, d := range s.Chains {
		db := d.Bytes()
		b = append(b, db[:]...)
	}
	for _, d := range s.Path {
		db := d.Bytes()
		b = append(b, db[:]...)
	}
	return b
}

// ParseSignature decodes Bytes' output. The length must be exactly what
// the leading log lifetime implies, and every digest canonical; the checks
// run before anything is allocated for the path.
func ParseSignature(b []byte) (*Signature, error) {
	if len(b) < sigFixed {
		return nil, fmt.Errorf("%w: signature of %d bytes, at least %d", ErrEncoding, len(b), sigFixed)
	}
	h := int(b[0])
	if err := checkLifetime(h); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncoding, err)
	}
	if len(b) != SignatureSize(h) {
		return nil, fmt.Errorf("%w: signature of %d bytes, a key of 2^%d one-time keys signs %d", ErrEncoding, len(b), h, SignatureSize(h))
	}
	s := &Signature{Index: binary.LittleEndian.Uint32(b[1:5]), Rho: binary.LittleEndian.Uint32(b[5:9]), Path: make([]hash.Digest, h)}
	rest := b[9:]
	next := func(what string, i int) (hash.Digest, error) {
		d, err := hash.DigestFromBytes(rest[:hash.DigestSize])
		rest = rest[hash.DigestSize:]
		if err != nil {
			return d, fmt.Errorf("%w: %s %d: %w", ErrEncoding, what, i, err)
		}
		return d, nil
	}
	var err error
	for i := range s.Chains {
		if s.Chains[i], err = next("chain", i); err != nil {
			return nil, err
		}
	}
	for i := range s.Path {
		if s.Path[i], err = next("path node", i); err != nil {
			return nil, err
		}
	}
	return s, nil
}
