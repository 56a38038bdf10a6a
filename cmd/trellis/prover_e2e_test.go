//go:build linux

package main

// End-to-end test of the proof market: a real BFT validator with the
// prover-cpu plugin proves its blocks while transfers flow, an idle prover
// that never proves is slashed at its deadlines, and a block's proof
// verifies in a separate process from its public inputs alone.

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/internal/testbin"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/testnet"
)

func TestE2EProverMarket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a validator with a prover plugin")
	}
	b := buildBinaries(t)
	testbin.Build(t, "plugins/consensus-bft/cmd/trellis-consensus-bft")
	testbin.Build(t, "plugins/prover-cpu/cmd/trellis-prover-cpu")
	tn := &e2eTestnet{t: t, bin: b.trellis, dir: filepath.Join(t.TempDir(), "tn")}
	t.Cleanup(func() { tn.cliNoFail("down", "-dir", tn.dir) })
	tn.cli("up", "-n", "1", "-consensus", "bft", "-dir", tn.dir, "-base-port", "0", "-block-interval", "200ms",
		"-load-accounts", "16", "-prover", "cpu", "-idle-provers", "1", "-job-deadline", "4", "-wait", "120s")
	st := tn.state()
	node := st.Nodes[0]
	validator, err := account.ParseAddress(node.Validator)
	if err != nil {
		t.Fatal(err)
	}
	idle := testnet.IdleProverAddress("trellis-testnet", 0)
	c := tn.client(0)
	ctx := context.Background()

	// Transactions flow while the node proves.
	out := tn.cli("load", "-dir", tn.dir, "-rate", "20", "-duration", "5s")
	// Proving runs beside consensus: the load's transfers are accepted and
	// no height is finalized twice.
	if !strings.Contains(out, "rejected 0") || !strings.Contains(out, "conflicting final blocks 0") {
		t.Fatalf("load output:\n%s", out)
	}

	var provenHeight uint64
	tn.eventually("the validator to settle proofs and the idle prover to be slashed", func() bool {
		v, err1 := c.Account(ctx, validator)
		i, err2 := c.Account(ctx, idle)
		if err1 != nil || err2 != nil || v.Prover == nil || i.Prover == nil {
			return false
		}
		return v.Prover.Proved >= 3 && i.Prover.Missed >= 1 && i.Prover.Slashed > 0
	})
	v, _ := c.Account(ctx, validator)
	i, _ := c.Account(ctx, idle)
	t.Logf("validator prover: %+v; idle prover: %+v", *v.Prover, *i.Prover)
	if i.Prover.Bond+i.Prover.Slashed != testnet.ProverBond {
		t.Errorf("idle prover bond %d + slashed %d, want the genesis bond %d", i.Prover.Bond, i.Prover.Slashed, testnet.ProverBond)
	}

	// Some final block is "proven", its proof is on chain, and a later
	// block's header lists it.
	head, err := c.BlockByTag(ctx, rpc.TagFinalized, false)
	if err != nil {
		t.Fatal(err)
	}
	var rec *rpc.ProofRecord
	for h := uint64(1); h <= head.Height && rec == nil; h++ {
		f, err := c.FinalityAt(ctx, h)
		if err != nil || f.Finality != rpc.FinalityProven {
			continue
		}
		if rec, err = c.Proof(ctx, h); err != nil {
			t.Fatalf("block %d is proven but trellis_getProof fails: %v", h, err)
		}
		provenHeight = h
	}
	if rec == nil {
		t.Fatalf("no final block up to %d is proven\n%s", head.Height, tn.logs())
	}
	if err := batch.Verify(rec.File.Public, rec.File.Proof); err != nil {
		t.Fatalf("on-chain proof of block %d: %v", provenHeight, err)
	}
	if rec.TxHash == nil {
		t.Fatal("proof record without its transaction")
	}
	carrier, err := c.Transaction(ctx, *rec.TxHash)
	if err != nil || carrier.BlockHeight == nil {
		t.Fatalf("proof transaction %s: %+v, %v", rec.TxHash, carrier, err)
	}
	cb, err := c.BlockByNumber(ctx, *carrier.BlockHeight, false)
	if err != nil {
		t.Fatal(err)
	}
	hd, err := cb.Header()
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, p := range hd.Proofs {
		listed = listed || (p.Height == provenHeight && p.ProofHash == *rec.TxHash && p.Prover == rec.Prover)
	}
	if !listed {
		t.Errorf("block %d carries the proof of %d but its header lists %+v", *carrier.BlockHeight, provenHeight, hd.Proofs)
	}

	// An operator proves a block and checks it in another process, from
	// the file's public inputs alone; and checks the on-chain proof.
	file := filepath.Join(t.TempDir(), "block.proof")
	run := func(args ...string) string {
		t.Helper()
		o, e, code := trellisCLI(t, b.trellis, t.TempDir(), args...)
		if code != 0 {
			t.Fatalf("trellis %s: exit %d\n%s%s", strings.Join(args, " "), code, o, e)
		}
		return o
	}
	h := strconv.FormatUint(provenHeight, 10)
	run("prove", "-block", h, "-node", node.RPC, "-out", file)
	if o := run("verify", "-proof", file); !strings.Contains(o, "valid") {
		t.Fatalf("verify -proof:\n%s", o)
	}
	if o := run("verify", "-block", h, "-node", node.RPC); !strings.Contains(o, "valid") {
		t.Fatalf("verify -block:\n%s", o)
	}
}
