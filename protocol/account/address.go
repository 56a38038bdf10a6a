package account

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// AddressSize is the length of an address in bytes.
const AddressSize = hash.DigestSize

// Address identifies an account.
type Address [AddressSize]byte

// ErrAddress reports a malformed address.
var ErrAddress = errors.New("invalid address")

// FromPublicKey derives the address of an ed25519 public key.
func FromPublicKey(pub ed25519.PublicKey) Address {
	var elems [16]koalabear.Element
	for i := range elems {
		if 2*i+1 < len(pub) {
			elems[i].SetUint64(uint64(pub[2*i]) | uint64(pub[2*i+1])<<8)
		}
	}
	return Address(hash.HashWithTag(hash.TagAddress, elems[:]).Bytes())
}

// SystemAddress is the address of a system account (treasury, escrow) that no
// key controls: the hash of its name under a tag no public key hashes under.
func SystemAddress(name string) Address {
	elems := make([]koalabear.Element, len(name))
	for i := range name {
		elems[i].SetUint64(uint64(name[i]))
	}
	return Address(hash.HashWithTag(hash.TagSystem, elems).Bytes())
}

// ParseAddress parses "0x" followed by 64 hex digits (the prefix is optional).
func ParseAddress(s string) (Address, error) {
	var a Address
	h := s
	if strings.HasPrefix(h, "0x") || strings.HasPrefix(h, "0X") {
		h = h[2:] // one prefix only: "0x0X…" is not an address
	}
	if len(h) != 2*AddressSize {
		return a, fmt.Errorf("%w %q: want 0x and %d hex digits, have %d digits", ErrAddress, s, 2*AddressSize, len(h))
	}
	if _, err := hex.Decode(a[:], []byte(h)); err != nil {
		return a, fmt.Errorf("%w %q: %v", ErrAddress, s, err)
	}
	return AddressFromBytes(a[:])
}

// AddressFromBytes checks and copies a 32-byte address.
func AddressFromBytes(b []byte) (Address, error) {
	var a Address
	if _, err := hash.DigestFromBytes(b); err != nil {
		return a, fmt.Errorf("%w: %v", ErrAddress, err)
	}
	copy(a[:], b)
	return a, nil
}

// String returns 0x and 64 lowercase hex digits.
func (a Address) String() string { return "0x" + hex.EncodeToString(a[:]) }

// IsZero reports whether a is the zero address (no account has it).
func (a Address) IsZero() bool { return a == Address{} }

// Digest returns the address as field elements. a must be well formed.
func (a Address) Digest() hash.Digest {
	d, err := hash.DigestFromBytes(a[:])
	if err != nil {
		panic(fmt.Sprintf("account: malformed address %s reached Digest: %v", a, err))
	}
	return d
}

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
