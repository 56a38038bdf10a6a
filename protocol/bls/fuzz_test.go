package bls

import (
	"bytes"
	"errors"
	"testing"
)

// Seeds: valid encodings (both signs), the identity, random bytes, wrong
// lengths, a cleared compression flag, an x not below p, an x off the
// curve and a point outside the subgroup.

func FuzzPublicKeyFromBytes(f *testing.F) {
	_, pks := testKeys(f, 3)
	for _, pk := range pks {
		f.Add(pkBytes(pk))
		f.Add(pkBytes(negPK(pk)))
	}
	f.Add(infinity(PublicKeySize))
	f.Add(withFlags(infinity(PublicKeySize), 0xe0))
	random := make([]byte, 2*SignatureSize)
	_, _ = testRand(99).Read(random)
	f.Add(random[:PublicKeySize])
	f.Add(withFlags(random[:PublicKeySize], flagCompressed))
	f.Add([]byte{})
	f.Add(pkBytes(pks[0])[:47])
	f.Add(append(pkBytes(pks[0]), 0))
	f.Add(withFlags(pkBytes(pks[0]), 0))
	f.Add(withFlags(fieldModulusBytes(), flagCompressed))
	f.Add(g1X(f, false, true))
	f.Add(g1X(f, false, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := PublicKeyFromBytes(b)
		if err != nil {
			if !errors.Is(err, ErrPublicKey) {
				t.Fatalf("error %v does not wrap ErrPublicKey", err)
			}
			return
		}
		// Whatever is accepted is canonical, a subgroup member and not the
		// identity.
		if got := pk.Bytes(); !bytes.Equal(got[:], b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, got)
		}
		if pk.p.IsInfinity() || !pk.p.IsInSubGroup() {
			t.Fatalf("accepted %x, which is the identity or outside the subgroup", b)
		}
	})
}

func FuzzSignatureFromBytes(f *testing.F) {
	sks, _ := testKeys(f, 2)
	for i, sk := range sks {
		s := Sign(sk, []byte{byte(i)}).Bytes()
		f.Add(s[:])
		f.Add(withFlags(s[:], s[0]&0xe0^0x20))
	}
	f.Add(infinity(SignatureSize))
	f.Add(withFlags(infinity(SignatureSize), 0xe0))
	random := make([]byte, 2*SignatureSize)
	_, _ = testRand(98).Read(random)
	f.Add(random[:SignatureSize])
	f.Add(withFlags(random[:SignatureSize], flagCompressed))
	f.Add([]byte{})
	valid := Sign(sks[0], nil).Bytes()
	f.Add(valid[:95])
	f.Add(append(valid[:], 0))
	f.Add(valid[:48])
	f.Add(withFlags(valid[:], 0))
	f.Add(withFlags(append(fieldModulusBytes(), make([]byte, 48)...), flagCompressed))
	f.Add(g2X(f, true))
	f.Add(g2X(f, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, err := SignatureFromBytes(b)
		if err != nil {
			if !errors.Is(err, ErrSignature) {
				t.Fatalf("error %v does not wrap ErrSignature", err)
			}
			return
		}
		if got := sig.Bytes(); !bytes.Equal(got[:], b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, got)
		}
		if sig.p.IsInfinity() || !sig.p.IsInSubGroup() {
			t.Fatalf("accepted %x, which is the identity or outside the subgroup", b)
		}
	})
}

func FuzzSecretKeyFromBytes(f *testing.F) {
	sks, _ := testKeys(f, 1)
	b := sks[0].Bytes()
	f.Add(b[:])
	f.Add(make([]byte, 32))
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, in []byte) {
		sk, err := SecretKeyFromBytes(in)
		if err != nil {
			if !errors.Is(err, ErrSecretKey) {
				t.Fatalf("error %v does not wrap ErrSecretKey", err)
			}
			return
		}
		if got := sk.Bytes(); !bytes.Equal(got[:], in) {
			t.Fatalf("accepted %x but re-encodes as %x", in, got)
		}
	})
}
