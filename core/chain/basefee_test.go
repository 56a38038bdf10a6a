package chain

import (
	"errors"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/block"
)

// TestForgedBaseFee: validation checks the header's base fee by pricing the
// block (no separate BaseFee call); a proposer that claims a lower or a
// higher base fee gets an invalid block, with or without transactions.
func TestForgedBaseFee(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	for _, withTx := range []bool{false, true} {
		head, _ := h.c.Head()
		if withTx {
			h.pool.queue(h.transfer(1, h.addrs[2], 10, 0))
		}
		nb, err := h.c.Build(ctx, BuildRequest{Parent: head.Hash(), TimestampMs: head.Header.TimestampMs + 1000, Proposer: h.addrs[0]})
		if err != nil {
			t.Fatal(err)
		}
		if withTx != (len(nb.Txs) == 1) {
			t.Fatalf("built %d transactions", len(nb.Txs))
		}
		for _, d := range []int64{-1, 1} {
			bad := &block.Block{Header: nb.Header, Txs: nb.Txs}
			bad.Header.BaseFee = uint64(int64(bad.Header.BaseFee) + d)
			_, err := h.c.Validate(ctx, bad.Encode())
			if !errors.Is(err, ErrInvalidBlock) || !strings.Contains(err.Error(), "base fee") {
				t.Errorf("base fee %+d (transactions %v): %v", d, withTx, err)
			}
		}
		if _, err := h.c.Validate(ctx, nb.Encode()); err != nil {
			t.Fatalf("the unaltered block: %v", err)
		}
		if _, err := h.c.Commit(ctx, nb.Encode()); err != nil {
			t.Fatal(err)
		}
		if _, err := h.c.SetHead(ctx, nb.Hash()); err != nil {
			t.Fatal(err)
		}
	}
}
