package account

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	a := addr(1)
	hex := a.String()[2:]
	good := []struct {
		name, in string
		want     Address
	}{
		{"0x prefix", "0x" + hex, a},
		{"no prefix", hex, a},
		{"0X prefix", "0X" + hex, a},
		{"upper case digits", "0x" + strings.ToUpper(hex), a},
		{"zero", "0x" + strings.Repeat("0", 64), Address{}},
		{"largest element", "0x" + strings.Repeat("0000007f", 8), Address{0, 0, 0, 0x7f, 0, 0, 0, 0x7f, 0, 0, 0, 0x7f, 0, 0, 0, 0x7f, 0, 0, 0, 0x7f, 0, 0, 0, 0x7f, 0, 0, 0, 0x7f, 0, 0, 0, 0x7f}},
	}
	for _, c := range good {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseAddress(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	bad := []struct {
		name, in, msg string
	}{
		{"empty", "", "have 0 digits"},
		{"prefix only", "0x", "have 0 digits"},
		{"one digit short", "0x" + hex[:63], "have 63 digits"},
		{"one digit long", "0x" + hex + "0", "have 65 digits"},
		{"twice the length", hex + hex, "have 128 digits"},
		{"non-hex digit", "0x" + hex[:63] + "g", "invalid byte"},
		{"space", " 0x" + hex[1:], "invalid"},
		{"double prefix", "0x0X" + hex, "digits"},
		{"double 0x prefix", "0x0x" + hex, "digits"},
		{"element = modulus", "0x0100007f" + hex[8:], "not below the modulus"},
		{"element = 0xffffffff", "0x" + hex[:56] + "ffffffff", "not below the modulus"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseAddress(c.in)
			if err == nil {
				t.Fatalf("accepted as %s", got)
			}
			if !errors.Is(err, ErrAddress) {
				t.Errorf("error %q does not wrap ErrAddress", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

func TestAddressText(t *testing.T) {
	a := addr(3)
	s := a.String()
	if len(s) != 66 || s[:2] != "0x" || strings.ToLower(s) != s {
		t.Fatalf("String() = %q", s)
	}
	b, err := json.Marshal(map[string]Address{"a": a})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]Address
	if err := json.Unmarshal(b, &m); err != nil || m["a"] != a {
		t.Fatalf("JSON round trip: %v, %v", m, err)
	}
	var x Address
	if err := x.UnmarshalText([]byte("0x1234")); !errors.Is(err, ErrAddress) {
		t.Fatalf("UnmarshalText of a short address: %v", err)
	}
}

func TestAddressFromBytes(t *testing.T) {
	a := addr(4)
	got, err := AddressFromBytes(a[:])
	if err != nil || got != a {
		t.Fatalf("AddressFromBytes: %v, %v", got, err)
	}
	for _, b := range [][]byte{nil, a[:31], append(a[:], 0)} {
		if _, err := AddressFromBytes(b); !errors.Is(err, ErrAddress) {
			t.Errorf("AddressFromBytes of %d bytes: %v", len(b), err)
		}
	}
}

func TestFromPublicKey(t *testing.T) {
	pub := key(1).Public().(ed25519.PublicKey)
	a := FromPublicKey(pub)
	if a != FromPublicKey(append(ed25519.PublicKey(nil), pub...)) {
		t.Fatal("not deterministic")
	}
	if a.IsZero() {
		t.Fatal("zero address")
	}
	if _, err := AddressFromBytes(a[:]); err != nil {
		t.Fatalf("derived address is malformed: %v", err)
	}
	seen := map[Address]byte{}
	for b := range byte(16) {
		x := addr(b)
		if prev, dup := seen[x]; dup {
			t.Fatalf("keys %d and %d share address %s", prev, b, x)
		}
		seen[x] = b
	}
	// Every bit of the key matters.
	for i := range 32 {
		p := append(ed25519.PublicKey(nil), pub...)
		p[i] ^= 0x80
		if FromPublicKey(p) == a {
			t.Fatalf("flipping byte %d of the key keeps the address", i)
		}
	}
}

func TestSystemAddress(t *testing.T) {
	if TreasuryAddress != SystemAddress("trellis/treasury") || EscrowAddress != SystemAddress("trellis/prover-escrow") {
		t.Fatal("system addresses are not the hashes of their names")
	}
	if TreasuryAddress == EscrowAddress {
		t.Fatal("treasury and escrow share an address")
	}
	if TreasuryAddress.IsZero() || EscrowAddress.IsZero() {
		t.Fatal("a system address is zero")
	}
	if SystemAddress("trellis/treasury") != TreasuryAddress {
		t.Fatal("not deterministic")
	}
	if SystemAddress("") == SystemAddress("\x00") {
		t.Fatal("names of different lengths collide")
	}
	for _, s := range []Address{TreasuryAddress, EscrowAddress} {
		if _, err := AddressFromBytes(s[:]); err != nil {
			t.Fatalf("system address %s is malformed: %v", s, err)
		}
	}
	// A system address is no key's address: the tags differ. Check the
	// name read as a key does not land on it.
	var pk [32]byte
	copy(pk[:], "trellis/treasury")
	if FromPublicKey(pk[:]) == TreasuryAddress {
		t.Fatal("a public key hashes to the treasury address")
	}
}
