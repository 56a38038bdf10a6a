package chain

import (
	"encoding/binary"
	"testing"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// indexedHeight reads the pointer and counts the bucket's entries.
func (h *harness) indexedHeight() (height uint64, entries int) {
	h.t.Helper()
	err := h.c.db.View(func(t *store.Tx) error {
		ix := t.Bucket(store.BucketIndex)
		height = binary.BigEndian.Uint64(ix.Bucket(bucketPtrs).Get(keyIndexed))
		return ix.Bucket(bucketTxs).ForEach(func(_, _ []byte) error { entries++; return nil })
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return height, entries
}

// located checks that every transaction of blocks is found where it is.
func (h *harness) located(blocks []*block.Block) {
	h.t.Helper()
	for _, b := range blocks {
		for i, t := range b.Txs {
			loc, ok, err := h.c.TxLocation(t.Hash())
			if err != nil || !ok || loc.Block != b.Hash() || loc.Index != i {
				h.t.Fatalf("block %d tx %d: location %+v, found %v, %v", b.Header.Height, i, loc, ok, err)
			}
		}
	}
}

func TestTxIndexTiers(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	var blocks []*block.Block
	nonce := uint64(0)
	for range indexBatchBlocks + 3 {
		blocks = append(blocks, h.extend(h.transfer(1, h.addrs[2], 1, nonce), h.transfer(1, h.addrs[2], 2, nonce+1)))
		nonce += 2
		h.located(blocks)
	}
	// One batch went to the bucket; the last three blocks wait in memory.
	if height, entries := h.indexedHeight(); height != indexBatchBlocks || entries != 2*indexBatchBlocks {
		t.Fatalf("indexed to %d with %d entries, want %d and %d", height, entries, indexBatchBlocks, 2*indexBatchBlocks)
	}

	// Canonical but not final blocks are found, and forgotten when reverted.
	head, _ := h.c.Head()
	fork1 := h.build(head.Hash(), head.Header.TimestampMs+1000, h.transfer(2, h.addrs[1], 5, 0))
	fork2 := h.build(fork1.Hash(), fork1.Header.TimestampMs+1000, h.transfer(2, h.addrs[1], 5, 1))
	if _, err := h.c.SetHead(ctx, fork2.Hash()); err != nil {
		t.Fatal(err)
	}
	h.located([]*block.Block{fork1, fork2})
	if _, err := h.c.SetHead(ctx, head.Hash()); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*tx.Tx{fork1.Txs[0], fork2.Txs[0]} {
		if _, ok, _ := h.c.TxLocation(tr.Hash()); ok {
			t.Fatalf("reverted transaction %s still indexed", tr.Hash())
		}
	}

	// A restart rebuilds the memory tier from the blocks.
	h.reopen()
	h.located(blocks)
	if height, _ := h.indexedHeight(); height != indexBatchBlocks {
		t.Fatalf("indexed height %d after restart", height)
	}
	for range indexBatchBlocks {
		blocks = append(blocks, h.extend(h.transfer(1, h.addrs[2], 1, nonce)))
		nonce++
	}
	h.located(blocks)
	if height, entries := h.indexedHeight(); height != 2*indexBatchBlocks || entries != 2*indexBatchBlocks+3*2+indexBatchBlocks-3 {
		t.Fatalf("second batch: indexed to %d with %d entries", height, entries)
	}
}
