package tx

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// orderL is the order of the ed25519 base point.
var orderL, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// identityKey is the encoding of the identity point: a small-order key.
var identityKey = [32]byte{1}

// badSignatures returns transactions that the signature rule rejects, by
// name, each a fresh copy.
func badSignatures() map[string]*Tx {
	flipped := signed(Transfer{To: addr(2), Amount: 1})
	flipped.Signature[5] ^= 0x10

	// S + L encodes the same scalar non-canonically.
	highS := signed(Transfer{To: addr(2), Amount: 2})
	s := new(big.Int).SetBytes(reversed(highS.Signature[32:]))
	s.Add(s, orderL)
	copy(highS.Signature[32:], reversed(s.FillBytes(make([]byte, 32))))

	// A small-order key: with A = identity, (R = [s]B, S = s) satisfies
	// the equation for any message, so anybody could spend from it.
	small := &Tx{ChainID: testChain, Nonce: 1, GasLimit: GasTransfer, MaxFeePerGas: 1, Body: Transfer{To: addr(2), Amount: 3}, PublicKey: identityKey}
	copy(small.Signature[:32], key(9).Public().(ed25519.PublicKey)) // [s]B for key 9's scalar s
	copy(small.Signature[32:], scalarOf(key(9)))

	wrongKey := signed(Transfer{To: addr(2), Amount: 4})
	copy(wrongKey.PublicKey[:], key(3).Public().(ed25519.PublicKey))

	return map[string]*Tx{"flipped bit": flipped, "non-canonical S": highS, "small-order key": small, "other key": wrongKey}
}

// scalarOf returns the clamped secret scalar of priv reduced mod L, little
// endian, the s with [s]B = priv's public key.
func scalarOf(priv ed25519.PrivateKey) []byte {
	h := sha512.Sum512(priv.Seed())
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	s := new(big.Int).SetBytes(reversed(h[:32]))
	s.Mod(s, orderL)
	return reversed(s.FillBytes(make([]byte, 32)))
}

func reversed(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

func TestSignatureRule(t *testing.T) {
	for i := range 8 {
		tx := signed(Transfer{To: addr(2), Amount: uint64(i + 1)})
		tx.Sign(key(byte(10 + i)))
		if err := tx.VerifySignature(); err != nil {
			t.Fatalf("a crypto/ed25519 signature fails the rule: %v", err)
		}
	}
	for name, tx := range badSignatures() {
		if err := tx.VerifySignature(); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: VerifySignature = %v, want ErrSignature", name, err)
		}
	}
	// The small-order key is the rule's difference from crypto/ed25519,
	// which accepts that forgery.
	small := badSignatures()["small-order key"]
	if !ed25519.Verify(small.PublicKey[:], small.SigningBytes(), small.Signature[:]) {
		t.Fatal("the small-order forgery is not a crypto/ed25519 signature: the test builds it wrong")
	}
}

// TestVerifyBatchAgrees mixes bad signatures into batches of every size
// around BatchSize and checks VerifyBatch against VerifySignature.
func TestVerifyBatchAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	good := benchTransfers(2*BatchSize + 3)
	for _, n := range []int{0, 1, 2, 3, BatchSize - 1, BatchSize, BatchSize + 1, 2*BatchSize + 3} {
		for _, nbad := range []int{0, 1, 4} {
			txs := slices.Clone(good[:n])
			for range min(nbad, n) {
				for _, b := range badSignatures() {
					txs[rng.IntN(n)] = b
					break
				}
			}
			got := VerifyBatch(txs)
			if len(got) != n {
				t.Fatalf("n=%d: %d results", n, len(got))
			}
			for i, tx := range txs {
				if want := tx.VerifySignature(); errString(got[i]) != errString(want) {
					t.Errorf("n=%d bad=%d tx %d: batch %v, alone %v", n, nbad, i, got[i], want)
				}
			}
		}
	}
}

func FuzzVerifyBatch(f *testing.F) {
	f.Add(uint8(0), []byte{1})
	f.Add(uint8(1), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80})
	f.Add(uint8(2), identityKey[:])
	base := benchTransfers(3)
	f.Fuzz(func(t *testing.T, which uint8, xor []byte) {
		txs := make([]*Tx, len(base))
		for i, b := range base {
			txs[i] = fields(b)
		}
		// Corrupt the public key (which odd) or the signature of one tx.
		tx := txs[int(which/2)%len(txs)]
		target := tx.Signature[:]
		if which%2 == 1 {
			target = tx.PublicKey[:]
		}
		for i, x := range xor {
			target[i%len(target)] ^= x
		}
		got := VerifyBatch(txs)
		for i, tx := range txs {
			if want := tx.VerifySignature(); errString(got[i]) != errString(want) {
				t.Fatalf("tx %d: batch %v, alone %v", i, got[i], want)
			}
		}
	})
}
