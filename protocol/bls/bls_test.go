package bls

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fp"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// testRand is a deterministic randomness source, so failures reproduce.
func testRand(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.NewChaCha8(s)
}

func testKeys(t testing.TB, n int) ([]*SecretKey, []PublicKey) {
	t.Helper()
	r := testRand(uint64(n))
	sks := make([]*SecretKey, n)
	pks := make([]PublicKey, n)
	for i := range sks {
		sk, err := GenerateKey(r)
		if err != nil {
			t.Fatal(err)
		}
		sks[i], pks[i] = sk, sk.PublicKey()
	}
	return sks, pks
}

func TestSignVerify(t *testing.T) {
	sks, pks := testKeys(t, 2)
	msg := []byte("block 42 round 0 prevote")
	sig := Sign(sks[0], msg)
	other := Sign(sks[0], []byte("something else"))

	// A bit flip in the encoding either fails to decode or decodes to
	// another point; both must be rejected.
	flipped := sig.Bytes()
	flipped[SignatureSize-1] ^= 1
	// Adding another valid G2 point gives a well-formed signature that is
	// simply wrong.
	var shifted Signature
	var acc bls12381.G2Jac
	acc.FromAffine(&sig.p)
	acc.AddMixed(&other.p)
	shifted.p.FromJacobian(&acc)

	tests := []struct {
		name string
		pk   PublicKey
		msg  []byte
		sig  Signature
		ok   bool
	}{
		{"valid", pks[0], msg, sig, true},
		{"empty message", pks[0], nil, Sign(sks[0], nil), true},
		{"wrong message", pks[0], []byte("block 42 round 0 precommit"), sig, false},
		{"wrong key", pks[1], msg, sig, false},
		{"tampered point", pks[0], msg, shifted, false},
		{"negated key", negPK(pks[0]), msg, sig, false},
		{"proof of possession as signature", pks[0], pkBytes(pks[0]), ProofOfPossession(sks[0]), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.pk, tc.msg, tc.sig)
			if tc.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrVerify) {
				t.Fatalf("Verify = %v, want ErrVerify", err)
			}
		})
	}

	t.Run("tampered bytes", func(t *testing.T) {
		s, err := SignatureFromBytes(flipped[:])
		if err == nil {
			if err := Verify(pks[0], msg, s); !errors.Is(err, ErrVerify) {
				t.Fatalf("Verify of a bit-flipped signature = %v, want ErrVerify", err)
			}
		} else if !errors.Is(err, ErrSignature) {
			t.Fatalf("SignatureFromBytes = %v, want ErrSignature", err)
		}
	})
}

func TestSignDeterministic(t *testing.T) {
	sks, _ := testKeys(t, 1)
	a, b := Sign(sks[0], []byte("m")), Sign(sks[0], []byte("m"))
	if !a.Equal(b) {
		t.Fatal("two signatures of the same message differ")
	}
}

func TestVerifyRejectsIdentity(t *testing.T) {
	sks, pks := testKeys(t, 1)
	msg := []byte("m")
	sig := Sign(sks[0], msg)
	tests := []struct {
		name string
		pk   PublicKey
		sig  Signature
		also error
	}{
		{"zero public key", PublicKey{}, sig, ErrPublicKey},
		{"zero signature", pks[0], Signature{}, ErrSignature},
		{"both zero", PublicKey{}, Signature{}, ErrPublicKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, err := range []error{
				Verify(tc.pk, msg, tc.sig),
				VerifyProofOfPossession(tc.pk, tc.sig),
			} {
				if !errors.Is(err, ErrVerify) || !errors.Is(err, tc.also) {
					t.Fatalf("got %v, want ErrVerify and %v", err, tc.also)
				}
			}
		})
	}
}

func TestProofOfPossession(t *testing.T) {
	sks, pks := testKeys(t, 2)
	pop := ProofOfPossession(sks[0])
	if err := VerifyProofOfPossession(pks[0], pop); err != nil {
		t.Fatalf("VerifyProofOfPossession: %v", err)
	}
	tests := []struct {
		name string
		pk   PublicKey
		pop  Signature
	}{
		// Same message (the key's bytes), message tag: domain separation
		// must reject it.
		{"message signature on the key", pks[0], Sign(sks[0], pkBytes(pks[0]))},
		{"another key's proof", pks[1], pop},
		{"proof of another key", pks[0], ProofOfPossession(sks[1])},
		{"signature on nothing", pks[0], Sign(sks[0], nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyProofOfPossession(tc.pk, tc.pop); !errors.Is(err, ErrVerify) {
				t.Fatalf("VerifyProofOfPossession = %v, want ErrVerify", err)
			}
		})
	}
}

// TestRogueKey shows the attack proofs of possession exist for: a key made
// from an honest key lets its maker forge a same-message aggregate alone,
// and that key cannot come with a valid proof of possession.
func TestRogueKey(t *testing.T) {
	sks, pks := testKeys(t, 2)
	honest, attacker := pks[0], sks[1]
	// rogue = x·g1 − honest; the attacker knows x but not rogue's secret.
	xpk := attacker.PublicKey()
	var acc bls12381.G1Jac
	acc.FromAffine(&xpk.p)
	var negHonest bls12381.G1Affine
	negHonest.Neg(&honest.p)
	acc.AddMixed(&negHonest)
	var rogue PublicKey
	rogue.p.FromJacobian(&acc)

	msg := []byte("finalize a block the honest validator never saw")
	forged := Sign(attacker, msg)
	if err := VerifyAggregate([]PublicKey{honest, rogue}, msg, forged); err != nil {
		t.Fatalf("the forged aggregate should verify over keys without checked proofs (that is the attack): %v", err)
	}
	// The attacker's best guess at a proof for rogue, signing rogue's bytes
	// with x, fails: only keys with verified proofs may be aggregated.
	rb := rogue.Bytes()
	guess := sign(attacker, rb[:], dstPoP)
	if err := VerifyProofOfPossession(rogue, guess); !errors.Is(err, ErrVerify) {
		t.Fatalf("VerifyProofOfPossession(rogue) = %v, want ErrVerify", err)
	}
}

func TestAggregate(t *testing.T) {
	msg := []byte("commit height 7")
	for _, n := range []int{1, 4, 100} {
		sks, pks := testKeys(t, n)
		sigs := make([]Signature, n)
		for i, sk := range sks {
			sigs[i] = Sign(sk, msg)
		}
		agg, err := AggregateSignatures(sigs)
		if err != nil {
			t.Fatalf("n=%d: AggregateSignatures: %v", n, err)
		}
		if err := VerifyAggregate(pks, msg, agg); err != nil {
			t.Fatalf("n=%d: VerifyAggregate: %v", n, err)
		}
		// The aggregate's encoding survives a round trip through bytes, as
		// it would in a commit certificate.
		ab := agg.Bytes()
		agg2, err := SignatureFromBytes(ab[:])
		if err != nil || VerifyAggregate(pks, msg, agg2) != nil {
			t.Fatalf("n=%d: aggregate does not survive encoding: %v", n, err)
		}

		// One signer signs something else.
		bad := append([]Signature(nil), sigs...)
		bad[n/2] = Sign(sks[n/2], []byte("commit height 8"))
		aggBad, err := AggregateSignatures(bad)
		if err != nil {
			t.Fatalf("n=%d: AggregateSignatures: %v", n, err)
		}
		if err := VerifyAggregate(pks, msg, aggBad); !errors.Is(err, ErrVerify) {
			t.Fatalf("n=%d: VerifyAggregate with one wrong message = %v, want ErrVerify", n, err)
		}
		if n > 1 {
			// A signer is claimed but did not sign.
			aggShort, err := AggregateSignatures(sigs[1:])
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyAggregate(pks, msg, aggShort); !errors.Is(err, ErrVerify) {
				t.Fatalf("n=%d: VerifyAggregate missing one signature = %v, want ErrVerify", n, err)
			}
			// A key is left out of the set.
			if err := VerifyAggregate(pks[1:], msg, agg); !errors.Is(err, ErrVerify) {
				t.Fatalf("n=%d: VerifyAggregate missing one key = %v, want ErrVerify", n, err)
			}
		}
	}
}

func TestAggregateDegenerate(t *testing.T) {
	sks, pks := testKeys(t, 1)
	sig := Sign(sks[0], []byte("m"))
	var negSig Signature
	negSig.p.Neg(&sig.p)
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"no signatures", func() error { _, err := AggregateSignatures(nil); return err }, ErrSignature},
		{"signatures cancel", func() error { _, err := AggregateSignatures([]Signature{sig, negSig}); return err }, ErrSignature},
		{"no keys", func() error { _, err := AggregatePublicKeys(nil); return err }, ErrPublicKey},
		{"keys cancel", func() error { _, err := AggregatePublicKeys([]PublicKey{pks[0], negPK(pks[0])}); return err }, ErrPublicKey},
		{"verify with no keys", func() error { return VerifyAggregate(nil, []byte("m"), sig) }, ErrVerify},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAggregateOfOneIsIdentityMap(t *testing.T) {
	sks, pks := testKeys(t, 1)
	sig := Sign(sks[0], []byte("m"))
	agg, err := AggregateSignatures([]Signature{sig})
	if err != nil || !agg.Equal(sig) {
		t.Fatalf("aggregate of one signature differs from it (err %v)", err)
	}
	apk, err := AggregatePublicKeys(pks)
	if err != nil || !apk.Equal(pks[0]) {
		t.Fatalf("aggregate of one key differs from it (err %v)", err)
	}
}

func TestSecretKeyFromBytes(t *testing.T) {
	r := fr.Modulus()
	be := func(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"one", be(big.NewInt(1)), true},
		{"r-1", be(new(big.Int).Sub(r, big.NewInt(1))), true},
		{"zero", make([]byte, 32), false},
		{"r", be(r), false},
		{"r+1", be(new(big.Int).Add(r, big.NewInt(1))), false},
		{"all ones", bytes.Repeat([]byte{0xff}, 32), false},
		{"empty", nil, false},
		{"31 bytes", make([]byte, 31), false},
		{"33 bytes", append([]byte{0}, be(big.NewInt(1))...), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sk, err := SecretKeyFromBytes(tc.in)
			if !tc.ok {
				if !errors.Is(err, ErrSecretKey) {
					t.Fatalf("got %v, want ErrSecretKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b := sk.Bytes(); !bytes.Equal(b[:], tc.in) {
				t.Fatalf("Bytes() = %x, want %x", b, tc.in)
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey(testRand(1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey(testRand(2))
	if err != nil {
		t.Fatal(err)
	}
	if a.Bytes() == b.Bytes() {
		t.Fatal("two keys from different seeds are equal")
	}
	ab := a.Bytes()
	a2, err := SecretKeyFromBytes(ab[:])
	if err != nil || a2.Bytes() != ab {
		t.Fatalf("generated key does not round-trip: %v", err)
	}
	if _, err := GenerateKey(strings.NewReader("short")); !errors.Is(err, ErrSecretKey) {
		t.Fatalf("GenerateKey(short reader) = %v, want ErrSecretKey", err)
	}
	if _, err := GenerateKey(zeroReader{}); !errors.Is(err, ErrSecretKey) {
		t.Fatalf("GenerateKey(zero reader) = %v, want ErrSecretKey", err)
	}
}

// Bad encodings built from points the tests construct.

func pkBytes(pk PublicKey) []byte { b := pk.Bytes(); return b[:] }

func negPK(pk PublicKey) PublicKey {
	var n PublicKey
	n.p.Neg(&pk.p)
	return n
}

// g1Point finds a point of E(Fp) with a small x, inside or outside the
// subgroup as asked; offCurve instead returns an x with no point.
func g1X(t testing.TB, inSubgroup, offCurve bool) []byte {
	t.Helper()
	var b fp.Element
	b.SetUint64(4)
	for x := uint64(0); x < 1000; x++ {
		var p bls12381.G1Affine
		p.X.SetUint64(x)
		var y2 fp.Element
		y2.Square(&p.X).Mul(&y2, &p.X).Add(&y2, &b)
		if p.Y.Sqrt(&y2) == nil {
			if offCurve {
				out := p.X.Bytes()
				out[0] |= flagCompressed
				return out[:]
			}
			continue
		}
		if !offCurve && p.IsInSubGroup() == inSubgroup {
			out := p.Bytes()
			return out[:]
		}
	}
	t.Fatal("no suitable x below 1000")
	return nil
}

func g2X(t testing.TB, offCurve bool) []byte {
	t.Helper()
	for x := uint64(0); x < 1000; x++ {
		var p bls12381.G2Affine
		p.X.A0.SetUint64(x)
		p.X.A1.SetUint64(1)
		b := p.X
		b.A0.SetUint64(4)
		b.A1.SetUint64(4)
		y2 := p.X
		y2.Square(&p.X).Mul(&y2, &p.X).Add(&y2, &b)
		if y2.Legendre() == -1 {
			if offCurve {
				out := p.Bytes() // encodes X and the flags only
				return out[:]
			}
			continue
		}
		if offCurve {
			continue
		}
		p.Y.Sqrt(&y2)
		if !p.IsOnCurve() {
			t.Fatal("constructed G2 point is not on the curve")
		}
		if !p.IsInSubGroup() {
			out := p.Bytes()
			return out[:]
		}
	}
	t.Fatal("no suitable x below 1000")
	return nil
}

// withFlags replaces the three flag bits of an encoding.
func withFlags(b []byte, flags byte) []byte {
	out := append([]byte(nil), b...)
	out[0] = out[0]&0x1f | flags
	return out
}

func fieldModulusBytes() []byte {
	return fp.Modulus().FillBytes(make([]byte, fp.Bytes))
}

func infinity(n int) []byte {
	b := make([]byte, n)
	b[0] = flagCompressed | flagInfinity
	return b
}

func TestPublicKeyFromBytes(t *testing.T) {
	_, pks := testKeys(t, 1)
	valid := pkBytes(pks[0])
	xIsP := withFlags(fieldModulusBytes(), flagCompressed)
	tests := []struct {
		name string
		in   []byte
		want string // a fragment of the error; "" for success
	}{
		{"valid", valid, ""},
		{"other sign", withFlags(valid, valid[0]&0xe0^0x20), ""},
		{"empty", nil, "0 bytes"},
		{"47 bytes", valid[:47], "47 bytes"},
		{"49 bytes", append(append([]byte(nil), valid...), 0), "49 bytes"},
		{"96 bytes uncompressed", make([]byte, 96), "96 bytes"},
		{"compression flag clear", withFlags(valid, 0), "compression flag"},
		{"infinity", infinity(PublicKeySize), "identity"},
		{"infinity with sign bit", withFlags(infinity(PublicKeySize), 0xe0), "identity"},
		{"infinity with garbage", withFlags(valid, 0xc0), "identity"},
		{"x equals p", xIsP, "curve point"},
		{"x all ones", withFlags(bytes.Repeat([]byte{0xff}, 48), flagCompressed), "curve point"},
		{"not on the curve", g1X(t, false, true), "curve point"},
		{"not in the subgroup", g1X(t, false, false), "subgroup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pk, err := PublicKeyFromBytes(tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(pkBytes(pk), tc.in) {
					t.Fatalf("round trip: %x, want %x", pk.Bytes(), tc.in)
				}
				return
			}
			if !errors.Is(err, ErrPublicKey) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrPublicKey mentioning %q", err, tc.want)
			}
		})
	}
	// The search helper must produce what it claims, or the rejections
	// above prove nothing.
	var onCurve bls12381.G1Affine
	dec := bls12381.NewDecoder(bytes.NewReader(g1X(t, false, false)), bls12381.NoSubgroupChecks())
	if err := dec.Decode(&onCurve); err != nil || !onCurve.IsOnCurve() {
		t.Fatalf("the non-subgroup test point is not on the curve: %v", err)
	}
}

func TestSignatureFromBytes(t *testing.T) {
	sks, _ := testKeys(t, 1)
	sb := Sign(sks[0], []byte("m")).Bytes()
	valid := sb[:]
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"valid", valid, ""},
		{"other sign", withFlags(valid, valid[0]&0xe0^0x20), ""},
		{"empty", nil, "0 bytes"},
		{"95 bytes", valid[:95], "95 bytes"},
		{"97 bytes", append(append([]byte(nil), valid...), 0), "97 bytes"},
		{"48 bytes", valid[:48], "48 bytes"},
		{"192 bytes uncompressed", make([]byte, 192), "192 bytes"},
		{"compression flag clear", withFlags(valid, 0), "compression flag"},
		{"infinity", infinity(SignatureSize), "identity"},
		{"infinity with sign bit", withFlags(infinity(SignatureSize), 0xe0), "identity"},
		{"x.A1 equals p", withFlags(append(fieldModulusBytes(), make([]byte, 48)...), flagCompressed), "curve point"},
		{"x.A0 equals p", withFlags(append(make([]byte, 48), fieldModulusBytes()...), flagCompressed), "curve point"},
		{"not on the curve", g2X(t, true), "curve point"},
		{"not in the subgroup", g2X(t, false), "subgroup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := SignatureFromBytes(tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b := sig.Bytes(); !bytes.Equal(b[:], tc.in) {
					t.Fatalf("round trip: %x, want %x", b, tc.in)
				}
				return
			}
			if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrSignature mentioning %q", err, tc.want)
			}
		})
	}
}

func TestTextEncoding(t *testing.T) {
	sks, pks := testKeys(t, 1)
	sig := Sign(sks[0], []byte("m"))
	type doc struct {
		Key PublicKey `json:"key"`
		Sig Signature `json:"sig"`
	}
	b, err := json.Marshal(doc{pks[0], sig})
	if err != nil {
		t.Fatal(err)
	}
	var got doc
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Key.Equal(pks[0]) || !got.Sig.Equal(sig) {
		t.Fatal("JSON round trip changed the values")
	}
	var pk PublicKey
	if err := pk.UnmarshalText([]byte("0x" + pks[0].String())); err != nil || !pk.Equal(pks[0]) {
		t.Fatalf("0x-prefixed hex: %v", err)
	}
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"key: short hex", func() error { return new(PublicKey).UnmarshalText([]byte("abcd")) }, ErrPublicKey},
		{"key: not hex", func() error { return new(PublicKey).UnmarshalText(bytes.Repeat([]byte("zz"), 48)) }, ErrPublicKey},
		{"key: infinity", func() error { return new(PublicKey).UnmarshalText([]byte("c0" + strings.Repeat("00", 47))) }, ErrPublicKey},
		{"sig: short hex", func() error { return new(Signature).UnmarshalText([]byte("abcd")) }, ErrSignature},
		{"sig: not hex", func() error { return new(Signature).UnmarshalText(bytes.Repeat([]byte("zz"), 96)) }, ErrSignature},
		{"sig: infinity", func() error { return new(Signature).UnmarshalText([]byte("c0" + strings.Repeat("00", 95))) }, ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
