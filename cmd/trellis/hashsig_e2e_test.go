package main

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// TestE2EHashSigTransfer: a real node (solo sequencer, fee plugin) takes
// transfers signed by a hash-based key the wallet created, executes them and
// reports the scheme and one-time index of each.
func TestE2EHashSigTransfer(t *testing.T) {
	b, dir, cfg, url := ledgerNode(t)
	n := startRun(t, b, dir, cfg)
	c := dialNode(t, url, n)
	ctx := context.Background()

	pqHome := t.TempDir()
	t.Setenv(envPassphrase, "pq passphrase")
	out, errOut, code := trellisCLI(t, b.trellis, dir, "keys", "new", "pq", "-scheme", "hashsig", "-lifetime", "8", "-home", pqHome)
	if code != 0 {
		t.Fatalf("keys new: exit %d\n%s%s", code, out, errOut)
	}
	m := addrRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no address in %q", out)
	}
	pq, err := account.ParseAddress(m[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envPassphrase, "")
	if out, errOut, code := trellisCLI(t, b.trellis, dir, "tx", "transfer", "-home", dir, "-from", "dev", "-to", pq.String(), "-amount", "1000000000000", "-node", url); code != 0 || !strings.Contains(out, "result:    ok") {
		t.Fatalf("funding: exit %d\n%s%s\nnode:\n%s", code, out, errOut, n.stderr)
	}
	var seed [32]byte
	seed[0] = 9
	to := account.FromPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	t.Setenv(envPassphrase, "pq passphrase")
	for i, amt := range []string{"777", "223"} {
		out, errOut, code := trellisCLI(t, b.trellis, dir, "tx", "transfer", "-home", pqHome, "-from", "pq", "-to", to.String(), "-amount", amt, "-node", url)
		if code != 0 || !strings.Contains(out, "result:    ok") {
			t.Fatalf("hash-signed transfer %d: exit %d\n%s%s\nnode:\n%s", i, code, out, errOut, n.stderr)
		}
		h, err := tx.ParseHash(txHashRe.FindStringSubmatch(out)[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Transaction(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if got.Scheme != "hashsig" || got.HashSigIndex == nil || *got.HashSigIndex != uint32(i) || got.From != pq {
			t.Fatalf("transaction %d as the node reports it: scheme %q index %v from %s", i, got.Scheme, got.HashSigIndex, got.From)
		}
		r, err := c.Receipt(ctx, h)
		if err != nil || r.GasUsed != tx.GasTransfer+tx.GasHashSig {
			t.Fatalf("receipt %+v: %v", r, err)
		}
	}
	if bal, err := c.Balance(ctx, to); err != nil || bal != 1000 {
		t.Fatalf("recipient balance %d, %v; want 1000", bal, err)
	}
}
