package chain

import (
	"errors"
	"testing"

	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/hash"
)

// TestTxCommitmentRule: a header_version 2 chain writes the transaction
// commitment into every header, survives a restart with it, and refuses a
// block whose commitment is missing, wrong or made for other transactions;
// a version 1 chain refuses a version 2 header.
func TestTxCommitmentRule(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	h.gen.HeaderVersion = block.VersionTxCommitment
	h.reopenFresh()
	gb, err := h.c.BlockByHeight(0)
	if err != nil {
		t.Fatal(err)
	}
	if gb.Header.TxCommitment == nil || *gb.Header.TxCommitment != block.TxCommitment(nil) {
		t.Fatal("genesis header has no commitment to its empty transaction list")
	}
	b := h.extend(h.transfer(1, h.addrs[2], 10, 0), h.transfer(1, h.addrs[2], 11, 1))
	if b.Header.TxCommitment == nil || !b.CheckTxCommitment() {
		t.Fatal("a built block does not commit to its transactions")
	}
	h.reopen()
	got, err := h.c.BlockByHash(b.Hash())
	if err != nil || *got.Header.TxCommitment != *b.Header.TxCommitment {
		t.Fatalf("after restart: %v", err)
	}

	// A proposer's block, altered three ways before validation.
	head, _ := h.c.Head()
	h.pool.queue(h.transfer(1, h.addrs[2], 12, 2))
	nb, err := h.c.Build(ctx, BuildRequest{Parent: head.Hash(), TimestampMs: head.Header.TimestampMs + 1000, Proposer: h.addrs[0]})
	if err != nil {
		t.Fatal(err)
	}
	other := h.transfer(1, h.addrs[2], 99, 2)
	wrong := block.TxCommitment(append(nb.Txs[:0:0], other))
	for name, edit := range map[string]func(*block.Block){
		"missing": func(b *block.Block) { b.Header.TxCommitment = nil },
		"wrong":   func(b *block.Block) { d := hash.Digest{}; d[0].SetUint64(1); b.Header.TxCommitment = &d },
		"other transactions": func(b *block.Block) {
			b.Header.TxCommitment = &wrong
		},
	} {
		bad := &block.Block{Header: nb.Header, Txs: nb.Txs}
		edit(bad)
		if _, err := h.c.Validate(ctx, bad.Encode()); !errors.Is(err, ErrInvalidBlock) {
			t.Errorf("%s commitment: %v", name, err)
		}
	}
	if _, err := h.c.Validate(ctx, nb.Encode()); err != nil {
		t.Fatalf("the unaltered block: %v", err)
	}

	// A version 1 chain refuses the version 2 header.
	v1 := newHarness(t, 3)
	defer v1.close()
	v1head, _ := v1.c.Head()
	v1.pool.queue(v1.transfer(1, v1.addrs[2], 12, 0))
	ob, err := v1.c.Build(ctx, BuildRequest{Parent: v1head.Hash(), TimestampMs: v1head.Header.TimestampMs + 1000, Proposer: v1.addrs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if ob.Header.TxCommitment != nil {
		t.Fatal("a version 1 chain wrote a commitment")
	}
	d := ob.ComputeTxCommitment()
	ob.Header.TxCommitment = &d
	if _, err := v1.c.Validate(ctx, ob.Encode()); !errors.Is(err, ErrInvalidBlock) {
		t.Fatalf("version 2 header on a version 1 chain: %v", err)
	}
}
