package chain

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
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

// countingFees counts BaseFee calls; lie, when set, makes PriceBlock's
// next base fee disagree with BaseFee (a plugin contradicting itself).
type countingFees struct {
	Fees
	baseFees int
	lie      bool
}

func (f *countingFees) BaseFee(ctx context.Context, p exec.FeeParent) (uint64, error) {
	f.baseFees++
	return f.Fees.BaseFee(ctx, p)
}

func (f *countingFees) PriceBlock(ctx context.Context, p exec.FeeParent, gasLimit uint64, txs []exec.TxFee) (*exec.BlockPrice, error) {
	r, err := f.Fees.PriceBlock(ctx, p, gasLimit, txs)
	if err == nil && f.lie {
		r.NextBaseFee += 7
	}
	return r, err
}

// TestBuildTakesTheParentsNextBaseFee: building on a block this node
// executed asks the fee plugin for no base fee (its pricing gave the
// child's); a plugin whose two answers disagree costs a second build with
// the BaseFee call, and the block carries BaseFee's answer.
func TestBuildTakesTheParentsNextBaseFee(t *testing.T) {
	for _, lie := range []bool{false, true} {
		h := newHarness(t, 3)
		f := &countingFees{Fees: feeclient.Client{Service: fee.Local{Params: fee.DefaultParams()}}, lie: lie}
		h.fees = f
		h.reopen()
		h.extend(h.transfer(1, h.addrs[2], 10, 0)) // genesis was not executed here: one BaseFee call
		head, _ := h.c.Head()
		calls := f.baseFees
		h.pool.queue(h.transfer(1, h.addrs[2], 11, 1))
		nb, err := h.c.Build(ctx, BuildRequest{Parent: head.Hash(), TimestampMs: head.Header.TimestampMs + 1000, Proposer: h.addrs[0]})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := f.Fees.BaseFee(ctx, feeParent(&head.Header))
		if nb.Header.BaseFee != want {
			t.Fatalf("lie %v: base fee %d, want %d", lie, nb.Header.BaseFee, want)
		}
		wantCalls := 0
		if lie {
			wantCalls = 1
		}
		if got := f.baseFees - calls; got != wantCalls {
			t.Fatalf("lie %v: %d BaseFee calls, want %d", lie, got, wantCalls)
		}
		h.close()
	}
}
