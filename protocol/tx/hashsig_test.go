package tx

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/hashsig"
)

var (
	hsKeyOnce sync.Once
	hsKey     *hashsig.PrivateKey
)

// testHashSigKey is a small hash-based key (2^4 one-time keys) shared by
// the tests; each test signs at its own indices.
func testHashSigKey(t testing.TB) *hashsig.PrivateKey {
	hsKeyOnce.Do(func() {
		var seed [hashsig.SeedSize]byte
		seed[0] = 42
		k, err := hashsig.NewKey(seed, 4, 0)
		if err != nil {
			panic(err)
		}
		hsKey = k
	})
	return hsKey
}

// hashSigned returns a transaction with body b signed by the test key at
// index idx.
func hashSigned(t testing.TB, b Body, idx uint32) *Tx {
	k := testHashSigKey(t)
	tx := &Tx{ChainID: testChain, Nonce: 7, GasLimit: BodyGas(b) + GasHashSig, MaxFeePerGas: 100, MaxPriorityFeePerGas: 3, Body: b}
	if err := tx.SignHashSig(k.Public(), func(m hash.Digest) (*hashsig.Signature, error) { return k.SignAt(idx, m) }); err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestHashSigRoundTrip(t *testing.T) {
	k := testHashSigKey(t)
	for i, b := range bodies() {
		tx := hashSigned(t, b, uint32(i%16))
		enc := tx.Encode()
		if enc[0] != VersionHashSig {
			t.Fatalf("version %d", enc[0])
		}
		if len(enc) > tx.SizeLimit() {
			t.Fatalf("%s: %d bytes over its limit %d", b.Type(), len(enc), tx.SizeLimit())
		}
		dec, err := Decode(enc)
		if err != nil {
			t.Fatalf("%s: %v", b.Type(), err)
		}
		if !bytes.Equal(dec.Encode(), enc) || dec.Hash() != tx.Hash() {
			t.Fatal("round trip changed the encoding")
		}
		if dec.Sender() != k.Public().Address() {
			t.Fatal("sender is not the hash-based key's address")
		}
		if dec.Gas() != BodyGas(b)+GasHashSig {
			t.Fatalf("gas %d", dec.Gas())
		}
		if err := dec.CheckStateless(testChain); err != nil {
			t.Fatalf("%s: %v", b.Type(), err)
		}
	}
}

// TestHashSigForgeries: what an attacker tries with a hash-signed
// transaction in hand.
func TestHashSigForgeries(t *testing.T) {
	k := testHashSigKey(t)
	orig := hashSigned(t, Transfer{To: addr(2), Amount: 10}, 3)
	// Change a field and keep the signature: every signed field is bound.
	for name, edit := range map[string]func(*Tx){
		"amount":   func(x *Tx) { x.Body = Transfer{To: addr(2), Amount: 11} },
		"nonce":    func(x *Tx) { x.Nonce++ },
		"fee":      func(x *Tx) { x.MaxFeePerGas++ },
		"chain id": func(x *Tx) { x.ChainID = "other-chain" },
		"recipient": func(x *Tx) {
			x.Body = Transfer{To: addr(3), Amount: 10}
		},
	} {
		x := &Tx{ChainID: orig.ChainID, Nonce: orig.Nonce, GasLimit: orig.GasLimit, MaxFeePerGas: orig.MaxFeePerGas,
			MaxPriorityFeePerGas: orig.MaxPriorityFeePerGas, Body: orig.Body, HashSig: orig.HashSig}
		edit(x)
		if err := x.VerifySignature(); !errors.Is(err, ErrSignature) {
			t.Fatalf("%s changed, signature kept: %v", name, err)
		}
	}
	// Another key's signature over the same bytes does not authorize it.
	var seed [hashsig.SeedSize]byte
	other, err := hashsig.NewKey(seed, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	x := &Tx{ChainID: orig.ChainID, Nonce: orig.Nonce, GasLimit: orig.GasLimit, MaxFeePerGas: orig.MaxFeePerGas,
		MaxPriorityFeePerGas: orig.MaxPriorityFeePerGas, Body: orig.Body}
	_ = x.SignHashSig(other.Public(), func(m hash.Digest) (*hashsig.Signature, error) { return other.SignAt(3, m) })
	x.HashSig.PublicKey = k.Public() // claim the victim's key
	x.cached = false
	if err := x.VerifySignature(); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key's signature: %v", err)
	}
	// Every byte flipped: it fails to decode or to verify.
	enc := orig.Encode()
	for i := range enc {
		b := bytes.Clone(enc)
		b[i] ^= 0x01
		d, err := Decode(b)
		if err != nil {
			continue
		}
		if d.CheckStateless(testChain) == nil {
			t.Fatalf("byte %d flipped still passes", i)
		}
	}
}

func TestHashSigDecodeRejects(t *testing.T) {
	enc := hashSigned(t, Transfer{To: addr(2), Amount: 10}, 5).Encode()
	authAt := bodyOffset(testChain) + 40
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"truncated":           {enc[:len(enc)-1], ErrMalformed},
		"trailing byte":       {append(bytes.Clone(enc), 0), ErrMalformed},
		"no signature":        {enc[:authAt+hashsig.PublicKeySize], ErrMalformed},
		"lifetime 0 in key":   {func() []byte { b := bytes.Clone(enc); b[authAt] = 0; return b }(), ErrMalformed},
		"signature lifetime":  {func() []byte { b := bytes.Clone(enc); b[authAt+hashsig.PublicKeySize] = 25; return b }(), ErrMalformed},
		"oversized":           {append(bytes.Clone(enc), make([]byte, MaxSize+HashSigExtra)...), ErrTooLarge},
		"path of another key": {resign(t, enc, authAt), ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(c.b); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// resign replaces the signature with one from a key of another lifetime.
func resign(t *testing.T, enc []byte, authAt int) []byte {
	var seed [hashsig.SeedSize]byte
	k, err := hashsig.NewKey(seed, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.SignAt(0, hash.Digest{})
	if err != nil {
		t.Fatal(err)
	}
	return append(bytes.Clone(enc[:authAt+hashsig.PublicKeySize]), s.Bytes()...)
}

// TestVerifyBatchMixed: ed25519 and hash-based transactions in one batch
// get the same answers as one at a time.
func TestVerifyBatchMixed(t *testing.T) {
	good := hashSigned(t, Transfer{To: addr(2), Amount: 10}, 6)
	bad := hashSigned(t, Transfer{To: addr(2), Amount: 10}, 7)
	bad = &Tx{ChainID: bad.ChainID, Nonce: bad.Nonce + 1, GasLimit: bad.GasLimit, MaxFeePerGas: bad.MaxFeePerGas,
		MaxPriorityFeePerGas: bad.MaxPriorityFeePerGas, Body: bad.Body, HashSig: bad.HashSig}
	txs := []*Tx{signed(Transfer{To: addr(2), Amount: 1}), good, bad, signed(Transfer{To: addr(3), Amount: 2})}
	errs := VerifyBatch(txs)
	for i, want := range []bool{true, true, false, true} {
		if (errs[i] == nil) != want {
			t.Fatalf("transaction %d: %v", i, errs[i])
		}
	}
}
