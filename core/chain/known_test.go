package chain

import (
	"errors"
	"testing"

	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// knowingPool is a listPool that says which transactions it holds.
type knowingPool struct {
	listPool
	known map[tx.Hash]bool
}

func (p *knowingPool) Has(h tx.Hash) bool { return p.known[h] }

func TestCheckSignaturesSkipsWhatThePoolHolds(t *testing.T) {
	h := newHarness(t, 2)
	defer h.close()
	good := h.transfer(0, h.addrs[1], 5, 0)
	enc := append([]byte{}, h.transfer(1, h.addrs[0], 5, 0).Encode()...)
	enc[len(enc)-1] ^= 1 // the signature ends the encoding
	bad, err := tx.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}

	if checked, err := h.c.checkSignatures([]*tx.Tx{good, bad}); checked || err != nil {
		t.Fatalf("a pool without Has: checked=%v err=%v, want the executor to check", checked, err)
	}
	kp := &knowingPool{known: map[tx.Hash]bool{good.Hash(): true}}
	h.c.SetPool(kp)
	_, err = h.c.checkSignatures([]*tx.Tx{good, bad})
	var te *exec.TxError
	if !errors.As(err, &te) || te.Index != 1 || !errors.Is(err, tx.ErrSignature) {
		t.Fatalf("bad signature outside the pool: %v", err)
	}
	if checked, err := h.c.checkSignatures([]*tx.Tx{good}); !checked || err != nil {
		t.Fatalf("all known: checked=%v err=%v", checked, err)
	}
}

func TestRecentBlocksRing(t *testing.T) {
	r := newRecentBlocks()
	var blocks []*block.Block
	for i := range recentBlocksSize + 5 {
		b := &block.Block{Header: block.Header{ChainID: "c", Height: uint64(i + 1)}}
		blocks = append(blocks, b)
		r.add(b)
		r.add(b) // a repeat changes nothing
	}
	for i, b := range blocks {
		got := r.get(b.Hash())
		if evicted := i < 5; evicted != (got == nil) {
			t.Fatalf("block %d: cached=%v, want evicted=%v", i, got != nil, evicted)
		}
	}
	if len(r.byKey) != recentBlocksSize {
		t.Fatalf("%d cached, want %d", len(r.byKey), recentBlocksSize)
	}
}
