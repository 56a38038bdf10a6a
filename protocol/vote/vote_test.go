package vote

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/trellis-chain/trellis/protocol/bls"
)

func hash(b byte) []byte { return bytes.Repeat([]byte{b}, HashSize) }

func signed(t testing.TB, sk *bls.SecretKey, m Message) []byte {
	s := bls.Sign(sk, m.SignBytes())
	b := s.Bytes()
	return b[:]
}

func TestSignBytesDistinct(t *testing.T) {
	base := Message{ChainID: "c", Height: 1, Round: 0, Step: StepPrevote, BlockHash: hash(1)}
	variants := []Message{
		{ChainID: "d", Height: 1, Step: StepPrevote, BlockHash: hash(1)},
		{ChainID: "c", Height: 2, Step: StepPrevote, BlockHash: hash(1)},
		{ChainID: "c", Height: 1, Round: 1, Step: StepPrevote, BlockHash: hash(1)},
		{ChainID: "c", Height: 1, Step: StepPrecommit, BlockHash: hash(1)},
		{ChainID: "c", Height: 1, Step: StepPrevote, BlockHash: hash(2)},
		{ChainID: "c", Height: 1, Step: StepPrevote},
		{ChainID: "c", Height: 1, Step: StepPrevote, BlockHash: hash(1), Extra: []byte{0}},
	}
	for i, v := range variants {
		if bytes.Equal(v.SignBytes(), base.SignBytes()) {
			t.Errorf("variant %d signs the same bytes as the base", i)
		}
	}
}

func TestCheck(t *testing.T) {
	for name, m := range map[string]Message{
		"no chain":      {Step: StepPrevote},
		"bad step":      {ChainID: "c", Step: 5},
		"block no hash": {ChainID: "c", Step: StepBlock, Extra: make([]byte, 8)},
		"block round":   {ChainID: "c", Step: StepBlock, Round: 1, BlockHash: hash(1), Extra: make([]byte, 8)},
		"block extra":   {ChainID: "c", Step: StepBlock, BlockHash: hash(1), Extra: make([]byte, 4)},
		"short hash":    {ChainID: "c", Step: StepPrevote, BlockHash: []byte{1}},
		"nil proposal":  {ChainID: "c", Step: StepProposal},
		"extra too big": {ChainID: "c", Step: StepPrevote, Extra: make([]byte, MaxExtra+1)},
	} {
		if err := m.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func TestEvidence(t *testing.T) {
	sk, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := Message{ChainID: "c", Height: 7, Round: 2, Step: StepPrecommit, BlockHash: hash(1)}
	b := Message{ChainID: "c", Height: 7, Round: 2, Step: StepPrecommit, BlockHash: hash(2)}
	e1, err := NewEvidence([32]byte{9}, a, signed(t, sk, a), b, signed(t, sk, b))
	if err != nil {
		t.Fatal(err)
	}
	e2, err := NewEvidence([32]byte{9}, b, signed(t, sk, b), a, signed(t, sk, a))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e1.Encode(), e2.Encode()) {
		t.Fatal("the same offence has two encodings")
	}
	if err := e1.Verify("c", sk.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := e1.Verify("other", sk.PublicKey()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wrong chain: %v", err)
	}
	other, _ := bls.GenerateKey(rand.Reader)
	if err := e1.Verify("c", other.PublicKey()); !errors.Is(err, bls.ErrVerify) {
		t.Fatalf("wrong key: %v", err)
	}
	d, err := DecodeEvidence(e1.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Encode(), e1.Encode()) || d.Verify("c", sk.PublicKey()) != nil {
		t.Fatal("decoded evidence differs")
	}
	if _, err := NewEvidence([32]byte{9}, a, signed(t, sk, a), a, signed(t, sk, a)); !errors.Is(err, ErrNoConflict) {
		t.Fatalf("same message: %v", err)
	}
	c := b
	c.Round = 3
	if _, err := NewEvidence([32]byte{9}, a, signed(t, sk, a), c, signed(t, sk, c)); !errors.Is(err, ErrNoConflict) {
		t.Fatalf("other round: %v", err)
	}
	enc := e1.Encode()
	for _, bad := range [][]byte{nil, enc[:10], enc[:len(enc)-1], append(append([]byte{}, enc...), 0), append([]byte{2}, enc[1:]...)} {
		if _, err := DecodeEvidence(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("decode of %d bytes: %v", len(bad), err)
		}
	}
}

// TestBlockEvidence: two blocks signed for one slot are evidence even at
// different heights, and the offence is at the lower height.
func TestBlockEvidence(t *testing.T) {
	sk, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	height := func(h byte) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, h} }
	a := Message{ChainID: "c", Height: 1000, Step: StepBlock, BlockHash: hash(1), Extra: height(40)}
	b := Message{ChainID: "c", Height: 1000, Step: StepBlock, BlockHash: hash(2), Extra: height(37)}
	e, err := NewEvidence([32]byte{9}, a, signed(t, sk, a), b, signed(t, sk, b))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Verify("c", sk.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if e.Height() != 37 {
		t.Fatalf("offence height %d, want 37", e.Height())
	}
	c := b
	c.Height = 1001 // another slot: no offence
	if _, err := NewEvidence([32]byte{9}, a, signed(t, sk, a), c, signed(t, sk, c)); !errors.Is(err, ErrNoConflict) {
		t.Fatalf("other slot: %v", err)
	}
}

func FuzzDecodeEvidence(f *testing.F) {
	a := Message{ChainID: "c", Height: 7, Step: StepPrevote, BlockHash: hash(1)}
	b := Message{ChainID: "c", Height: 7, Step: StepPrevote}
	e, err := NewEvidence([32]byte{1}, a, make([]byte, 96), b, make([]byte, 96))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(e.Encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEvidence(data)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Encode(), data) {
			t.Fatal("decode then encode changed the bytes")
		}
	})
}
