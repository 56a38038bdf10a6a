package hashsig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
)

func testKey(t testing.TB, seedByte byte, h int) *PrivateKey {
	t.Helper()
	var seed [SeedSize]byte
	for i := range seed {
		seed[i] = seedByte + byte(i)
	}
	k, err := NewKey(seed, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func msgOf(s string) hash.Digest {
	in := make([]fr.Element, len(s))
	for i := range s {
		in[i].SetUint64(uint64(s[i]))
	}
	return hash.Hash(in)
}

func TestSignVerify(t *testing.T) {
	for _, h := range []int{MinLogLifetime, 5, 8} {
		k := testKey(t, 1, h)
		for _, idx := range []uint32{0, 1, uint32(k.Lifetime()/2 + 1), uint32(k.Lifetime() - 1)} {
			m := msgOf(fmt.Sprintf("message %d", idx))
			sig, err := k.SignAt(idx, m)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(k.Public(), m, sig); err != nil {
				t.Fatalf("h=%d index %d: %v", h, idx, err)
			}
			// Positions sum to the target: the verifier walks exactly
			// VerifySteps steps.
			x, ok := encode(k.pub.Param, sig.Rho, idx, m)
			sum := 0
			for _, v := range x {
				sum += int(v)
			}
			if !ok || sum != TargetSum {
				t.Fatalf("encoding sums to %d", sum)
			}
			// The encoded form round-trips.
			back, err := ParseSignature(sig.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(k.Public(), m, back); err != nil {
				t.Fatal(err)
			}
			if len(sig.Bytes()) != SignatureSize(h) {
				t.Fatalf("signature of %d bytes, SignatureSize says %d", len(sig.Bytes()), SignatureSize(h))
			}
		}
	}
}

// TestKeyDeterministic: a seed gives one key whatever the parallelism, and
// the batched key generation agrees with one-at-a-time chain walks.
func TestKeyDeterministic(t *testing.T) {
	var seed [SeedSize]byte
	seed[3] = 9
	var ref *PrivateKey
	for _, w := range []int{1, 3, 0} {
		k, err := NewKey(seed, 6, w)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = k
		} else if k.Public() != ref.Public() {
			t.Fatalf("%d workers give another key", w)
		}
	}
	const idx = 37
	var ends [Chains]hash.Digest
	for i := range ends {
		ends[i] = walk(hash.Compress(ref.secret, secretBlock(idx, i)), ref.pub.Param, idx, i, 0, ChainLen-1)
	}
	if leaf := hash.HashWithTag(hash.TagSigLeaf, leafInput(ref.pub.Param, idx, ends[:])); leaf != ref.levels[0][idx] {
		t.Fatal("batched leaf differs from the scalar one")
	}
}

// TestVectors pins the scheme: a change to any parameter, tag or layout
// changes these and must be a new scheme.
func TestVectors(t *testing.T) {
	k := testKey(t, 7, 4)
	sig, err := k.SignAt(5, msgOf("trellis"))
	if err != nil {
		t.Fatal(err)
	}
	pk := sha256.Sum256(k.Public().Bytes())
	sg := sha256.Sum256(sig.Bytes())
	got := hex.EncodeToString(pk[:8]) + " " + hex.EncodeToString(sg[:8]) + " " + k.Public().Address().String()[:18]
	const want = "56d8f17fb120f779 b53b4a1df72d42ad 0xcb0b7e0ed11b2a76"
	if got != want {
		t.Fatalf("vectors changed: %s", got)
	}
}

// TestForgeries is what an attacker tries with one valid signature.
func TestForgeries(t *testing.T) {
	k := testKey(t, 2, 5)
	other := testKey(t, 3, 5)
	m := msgOf("pay 10 to bob")
	sig, err := k.SignAt(9, m)
	if err != nil {
		t.Fatal(err)
	}
	clone := func() *Signature {
		s, err := ParseSignature(sig.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	bump := func(d *hash.Digest, i int) { d[i].Add(&d[i], new(fr.Element).SetOne()) }
	cases := []struct {
		name string
		pub  PublicKey
		msg  hash.Digest
		sig  func() *Signature
	}{
		{"other message", k.Public(), msgOf("pay 1000 to bob"), clone},
		{"other key", other.Public(), m, clone},
		{"other index", k.Public(), m, func() *Signature { s := clone(); s.Index = 10; return s }},
		{"other randomizer", k.Public(), m, func() *Signature { s := clone(); s.Rho++; return s }},
		{"randomizer too large", k.Public(), m, func() *Signature { s := clone(); s.Rho = MaxRho; return s }},
		{"index beyond the tree", k.Public(), m, func() *Signature { s := clone(); s.Index = 32; return s }},
		{"short path", k.Public(), m, func() *Signature { s := clone(); s.Path = s.Path[1:]; return s }},
		{"other lifetime", PublicKey{LogLifetime: 6, Param: k.pub.Param, Root: k.pub.Root}, m, clone},
		{"nil", k.Public(), m, func() *Signature { return nil }},
	}
	for i := range Chains {
		cases = append(cases, struct {
			name string
			pub  PublicKey
			msg  hash.Digest
			sig  func() *Signature
		}{fmt.Sprintf("chain %d", i), k.Public(), m, func() *Signature { s := clone(); bump(&s.Chains[i], i%8); return s }})
	}
	for l := range sig.Path {
		cases = append(cases, struct {
			name string
			pub  PublicKey
			msg  hash.Digest
			sig  func() *Signature
		}{fmt.Sprintf("path %d", l), k.Public(), m, func() *Signature { s := clone(); bump(&s.Path[l], l%8); return s }})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify(c.pub, c.msg, c.sig()); err == nil {
				t.Fatal("forgery verified")
			}
		})
	}
	if err := Verify(k.Public(), m, sig); err != nil {
		t.Fatal(err)
	}
}

// TestFlippedBytes flips every byte of an encoded signature: each either
// fails to decode or fails to verify.
func TestFlippedBytes(t *testing.T) {
	k := testKey(t, 4, 3)
	m := msgOf("x")
	sig, err := k.SignAt(2, m)
	if err != nil {
		t.Fatal(err)
	}
	enc := sig.Bytes()
	for i := range enc {
		for _, mask := range []byte{1, 0x80} {
			b := bytes.Clone(enc)
			b[i] ^= mask
			s, err := ParseSignature(b)
			if err != nil {
				if !errors.Is(err, ErrEncoding) {
					t.Fatalf("byte %d: %v", i, err)
				}
				continue
			}
			if Verify(k.Public(), m, s) == nil {
				t.Fatalf("byte %d flipped by %#x still verifies", i, mask)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := NewKey([SeedSize]byte{}, MaxLogLifetime+1, 0); !errors.Is(err, ErrParams) {
		t.Fatalf("lifetime: %v", err)
	}
	k := testKey(t, 5, 3)
	if _, err := k.SignAt(8, msgOf("x")); !errors.Is(err, ErrParams) {
		t.Fatalf("index: %v", err)
	}
	pk := k.Public().Bytes()
	for name, b := range map[string][]byte{
		"short":    pk[:len(pk)-1],
		"lifetime": append([]byte{0}, pk[1:]...),
		"root":     append(bytes.Clone(pk[:len(pk)-4]), 0xff, 0xff, 0xff, 0xff),
	} {
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrEncoding) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	back, err := ParsePublicKey(pk)
	if err != nil || back != k.Public() {
		t.Fatalf("public key round trip: %v", err)
	}
	if k.Public().Address() == account.FromPublicKey(pk[1:33]) {
		t.Fatal("a hash-based key's address equals an ed25519 key's")
	}
}

// TestLoadKey: a key rebuilt from its seed and cache signs exactly as the
// fully derived key does; a cache of another key or an altered one is
// refused.
func TestLoadKey(t *testing.T) {
	for _, h := range []int{5, 10} {
		var seed [SeedSize]byte
		seed[1] = byte(h)
		full, err := NewKey(seed, h, 0)
		if err != nil {
			t.Fatal(err)
		}
		cache := full.Cache()
		if len(cache) != CacheLen(h) {
			t.Fatalf("cache of %d nodes, CacheLen %d", len(cache), CacheLen(h))
		}
		loaded, err := LoadKey(seed, full.Public(), cache, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, idx := range []uint32{0, 3, uint32(full.Lifetime()) - 1, uint32(full.Lifetime()) / 3} {
			m := msgOf(fmt.Sprint(idx))
			a, err := full.SignAt(idx, m)
			if err != nil {
				t.Fatal(err)
			}
			b, err := loaded.SignAt(idx, m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatalf("h=%d index %d: the loaded key signs differently", h, idx)
			}
		}
		bad := slices.Clone(cache)
		bad[len(bad)-1][0].SetUint64(1)
		if _, err := LoadKey(seed, full.Public(), bad, 0); !errors.Is(err, ErrParams) {
			t.Fatalf("altered cache: %v", err)
		}
		seed[0]++
		if _, err := LoadKey(seed, full.Public(), cache, 0); !errors.Is(err, ErrParams) {
			t.Fatalf("other seed: %v", err)
		}
	}
}

// TestVerifyMany gives, item by item, Verify's answer: valid signatures of
// keys of two lifetimes mixed with every forgery of TestForgeries' kind.
func TestVerifyMany(t *testing.T) {
	k4, k6 := testKey(t, 11, 4), testKey(t, 12, 6)
	var items []Item
	for i := range 12 {
		k := k4
		if i%3 == 0 {
			k = k6
		}
		m := msgOf(fmt.Sprint("m", i))
		sig, err := k.SignAt(uint32(i), m)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, Item{Key: k.Public(), Msg: m, Sig: sig})
	}
	bump := func(d *hash.Digest) { d[2].Add(&d[2], new(fr.Element).SetOne()) }
	clone := func(s *Signature) *Signature { c, _ := ParseSignature(s.Bytes()); return c }
	bad := []Item{
		{Key: items[1].Key, Msg: msgOf("other"), Sig: items[1].Sig},
		{Key: k6.Public(), Msg: items[1].Msg, Sig: items[1].Sig},
		{Key: items[2].Key, Msg: items[2].Msg, Sig: func() *Signature { s := clone(items[2].Sig); bump(&s.Chains[40]); return s }()},
		{Key: items[4].Key, Msg: items[4].Msg, Sig: func() *Signature { s := clone(items[4].Sig); bump(&s.Path[3]); return s }()},
		{Key: items[5].Key, Msg: items[5].Msg, Sig: func() *Signature { s := clone(items[5].Sig); s.Index ^= 1; return s }()},
		{Key: items[7].Key, Msg: items[7].Msg, Sig: func() *Signature { s := clone(items[7].Sig); s.Rho++; return s }()},
		{Key: items[8].Key, Msg: items[8].Msg, Sig: nil},
		{Key: items[8].Key, Msg: items[8].Msg, Sig: func() *Signature { s := clone(items[8].Sig); s.Path = s.Path[1:]; return s }()},
	}
	all := append(append([]Item(nil), items...), bad...)
	for _, w := range []int{1, 0} {
		errs := VerifyMany(all, w)
		for i, it := range all {
			want := Verify(it.Key, it.Msg, it.Sig)
			if (errs[i] == nil) != (want == nil) {
				t.Fatalf("item %d: VerifyMany %v, Verify %v", i, errs[i], want)
			}
			if i < len(items) && errs[i] != nil {
				t.Fatalf("valid item %d: %v", i, errs[i])
			}
			if i >= len(items) && !errors.Is(errs[i], ErrSignature) {
				t.Fatalf("forged item %d: %v", i, errs[i])
			}
		}
	}
	if len(VerifyMany(nil, 0)) != 0 {
		t.Fatal("no items, some answers")
	}
}
