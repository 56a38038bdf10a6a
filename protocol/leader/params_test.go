package leader

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
)

func TestParams(t *testing.T) {
	if err := Defaults.Check(); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeParams(Defaults.Encode())
	if err != nil || got != Defaults {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if Defaults.MinEpochSlots() != 3000 || Defaults.NonceCutoff(2) != 2*3000+3000-1200 {
		t.Fatalf("10k/f = %d, cutoff of epoch 2 = %d", Defaults.MinEpochSlots(), Defaults.NonceCutoff(2))
	}
	for name, p := range map[string]Params{
		"slot too short": {SlotMs: 1, EpochSlots: 1500, Active: Coefficient{1, 5}, K: 30},
		"k zero":         {SlotMs: 200, EpochSlots: 1500, Active: Coefficient{1, 5}},
		"epoch short":    {SlotMs: 200, EpochSlots: 1499, Active: Coefficient{1, 5}, K: 30},
		"f too big":      {SlotMs: 200, EpochSlots: 1500, Active: Coefficient{3, 5}, K: 30},
		"tie too long":   {SlotMs: 200, EpochSlots: 1500, Active: Coefficient{1, 5}, K: 30, TieSlots: 1501},
		"lag within k":   {SlotMs: 200, EpochSlots: 1500, Active: Coefficient{1, 5}, K: 30, MaxProofLag: 30},
	} {
		if err := p.Check(); !errors.Is(err, ErrParams) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := DecodeParams(p.Encode()); !errors.Is(err, ErrParams) {
			t.Errorf("%s decoded: %v", name, err)
		}
	}
	enc := Defaults.Encode()
	for _, bad := range [][]byte{nil, enc[:10], append(bytes.Clone(enc), 0), append([]byte{2}, enc[1:]...)} {
		if _, err := DecodeParams(bad); !errors.Is(err, ErrParams) {
			t.Errorf("decode of %d bytes: %v", len(bad), err)
		}
	}
}

// TestBlockSignature: the signature binds every header field, the slot and
// the leader proof, and verifies only under the leader's key.
func TestBlockSignature(t *testing.T) {
	sk, _ := bls.GenerateKey(rand.Reader)
	other, _ := bls.GenerateKey(rand.Reader)
	h := block.Header{ChainID: "c", Height: 9, TimestampMs: 1000}
	d := BlockData{Slot: 44}
	d.Proof[0] = 7
	sign := func(h block.Header, d BlockData) block.Header {
		m := BlockMessage(h.ChainID, d.Slot, h.Height, UnsignedHash(h, d))
		d.Sig = bls.Sign(sk, m.SignBytes()).Bytes()
		h.ConsensusData = d.Encode()
		return h
	}
	signed := sign(h, d)
	got, err := VerifyBlockSig(&signed, sk.PublicKey())
	if err != nil || got.Slot != 44 || got.Proof != d.Proof {
		t.Fatalf("verify: %+v %v", got, err)
	}
	if _, err := VerifyBlockSig(&signed, other.PublicKey()); !errors.Is(err, ErrBlock) {
		t.Fatalf("other key: %v", err)
	}
	for name, edit := range map[string]func(*block.Header){
		"height":    func(h *block.Header) { h.Height++ },
		"timestamp": func(h *block.Header) { h.TimestampMs++ },
		"slot":      func(h *block.Header) { h.ConsensusData[8]++ },
		"proof":     func(h *block.Header) { h.ConsensusData[9]++ },
		"sig":       func(h *block.Header) { h.ConsensusData[BlockDataSize-1]++ },
		"short":     func(h *block.Header) { h.ConsensusData = h.ConsensusData[:BlockDataSize-1] },
	} {
		c := signed
		c.ConsensusData = bytes.Clone(signed.ConsensusData)
		edit(&c)
		if _, err := VerifyBlockSig(&c, sk.PublicKey()); !errors.Is(err, ErrBlock) {
			t.Errorf("%s edited: %v", name, err)
		}
	}
	m := BlockMessage("c", 44, 9, UnsignedHash(h, d))
	if err := m.Check(); err != nil || m.Step != vote.StepBlock || m.BlockHeight() != 9 {
		t.Fatalf("block message %+v: %v", m, err)
	}
}

func FuzzDecodeBlockData(f *testing.F) {
	d := BlockData{Slot: 3}
	f.Add(d.Encode())
	f.Add(Defaults.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := DecodeBlockData(b); err == nil && !bytes.Equal(d.Encode(), b) {
			t.Fatal("block data: decode then encode changed the bytes")
		}
		if p, err := DecodeParams(b); err == nil && !bytes.Equal(p.Encode(), b) {
			t.Fatal("params: decode then encode changed the bytes")
		}
	})
}
