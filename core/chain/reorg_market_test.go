package chain

import (
	"crypto/ed25519"

	"testing"

	"github.com/trellis-chain/trellis/protocol/block"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// TestReorgWithOpenJobs: the prover market's jobs follow the head through
// reorgs, so a block builds on any fork after the head moved back.
func TestReorgWithOpenJobs(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	h.extend(h.sign(1, 0, tx.ProverRegister{Kind: "cpu", Throughput: 1000, Price: 1, Bond: account.DefaultMinProverBond}))
	base := h.extend(h.transfer(2, h.addrs[0], 5, 0))
	a1 := h.build(base.Hash(), base.Header.TimestampMs+1, h.transfer(2, h.addrs[0], 5, 1))
	a2 := h.build(a1.Hash(), a1.Header.TimestampMs+1)
	b1 := h.build(base.Hash(), base.Header.TimestampMs+2)
	for _, step := range []struct {
		name string
		to   [32]byte
	}{{"a2", a2.Hash()}, {"b1", b1.Hash()}, {"base", base.Hash()}, {"a1", a1.Hash()}, {"b1 again", b1.Hash()}} {
		if _, err := h.c.SetHead(ctx, step.to); err != nil {
			t.Fatalf("set head %s: %v", step.name, err)
		}
		head, _ := h.c.Head()
		if _, err := h.c.Build(ctx, BuildRequest{Parent: head.Hash(), TimestampMs: head.Header.TimestampMs + 10}); err != nil {
			t.Fatalf("build on %s (height %d): %v", step.name, head.Header.Height, err)
		}
	}
}

// TestStaleOverlayNotCommitted: a block validated while the head was X
// becomes the head, the head goes back to X and elsewhere, returns to X,
// and the block becomes the head again: it must land on exactly its state
// root. (Its cached tree overlay was emptied by the first commit; a
// longest-chain testnet hit this after a partition.)
func TestStaleOverlayNotCommitted(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	x := h.extend(h.transfer(1, h.addrs[2], 10, 0))
	newAcct := func(i int) account.Address { return account.FromPublicKey(key(i).Public().(ed25519.PublicKey)) }
	y := h.build(x.Hash(), x.Header.TimestampMs+1, h.transfer(1, newAcct(60), 5, 1))
	z1 := h.build(x.Hash(), x.Header.TimestampMs+2, h.transfer(2, newAcct(61), 3, 0), h.transfer(2, newAcct(62), 3, 1))
	z2 := h.build(z1.Hash(), z1.Header.TimestampMs+1, h.transfer(2, newAcct(63), 3, 2))
	for _, to := range []*block.Block{y, x, z2, x, y} {
		if _, err := h.c.SetHead(ctx, to.Hash()); err != nil {
			t.Fatalf("set head %d: %v", to.Header.Height, err)
		}
		if h.c.State().Root() != to.Header.StateRoot {
			t.Fatalf("root at %d differs from its header", to.Header.Height)
		}
	}
	h.conserved()
}
