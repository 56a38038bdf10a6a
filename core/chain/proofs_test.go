package chain

import (
	"errors"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// TestProofLifecycle follows one block through the market on a real
// chain: its statement is stored, the child opens its job, the witness the
// chain builds proves it, a proof transaction settles it, Header.Proofs
// lists it, and the block reads "proven" once the carrier is final.
func TestProofLifecycle(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()

	// Without a registered prover no statement is kept and no job opens,
	// but the witness of a block can still be built for `trellis prove`.
	b1 := h.extend(h.transfer(1, h.addrs[2], 10, 0))
	if _, err := h.c.Statement(b1.Hash()); !errors.Is(err, ErrNoStatement) {
		t.Fatalf("statement without provers: %v, want ErrNoStatement", err)
	}
	if pub, _, err := h.c.Witness(1); err != nil || pub.NewRoot != b1.Header.StateRoot {
		t.Fatalf("witness without provers: %+v, %v", pub, err)
	}

	reg := tx.ProverRegister{Kind: "cpu", Throughput: 1000, Price: 1, Bond: account.DefaultMinProverBond}
	b2 := h.extend(h.sign(1, 1, reg))
	if h.account(h.addrs[1]).Prover == nil {
		t.Fatal("registration failed")
	}
	b3 := h.extend(h.transfer(2, h.addrs[0], 5, 0)) // opens the job for block 2
	want, err := h.c.Statement(b2.Hash())
	if err != nil {
		t.Fatal(err)
	}
	escrow, err := h.c.State().Account(account.EscrowIndex)
	if err != nil || escrow.Job(2) < 0 {
		t.Fatalf("no job for block 2 after block 3: %+v, %v", escrow, err)
	}
	if j := escrow.Jobs[escrow.Job(2)]; exec.Public(j.Public) != want {
		t.Fatalf("job statement %+v, stored %+v", j.Public, want)
	}
	pub, w, err := h.c.Witness(2)
	if err != nil || pub != want {
		t.Fatalf("witness of block 2: %+v (stored %+v), %v", pub, want, err)
	}
	proof, err := batch.Prove(pub, w, stark.NewCPU(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.c.FinalityOf(&b2.Header); got != Final {
		t.Fatalf("block 2 before its proof: %s", got)
	}

	body := tx.Proof{Height: 2, Proof: string(proof)}
	pt := &tx.Tx{ChainID: testChain, Nonce: 2, GasLimit: tx.BodyGas(body), MaxFeePerGas: 100, MaxPriorityFeePerGas: 2, Body: body}
	pt.Sign(h.keys[1])
	b4 := h.extend(pt)
	if len(b4.Txs) != 1 {
		t.Fatalf("block 4 left the proof out (%d transactions)", len(b4.Txs))
	}
	if len(b4.Header.Proofs) != 1 || b4.Header.Proofs[0].Height != 2 || b4.Header.Proofs[0].BlockHash != b2.Hash() ||
		b4.Header.Proofs[0].ProofHash != pt.Hash() || b4.Header.Proofs[0].Prover != h.addrs[1] {
		t.Fatalf("block 4 header proofs %+v", b4.Header.Proofs)
	}
	if got := h.c.FinalityOf(&b2.Header); got != Proven {
		t.Fatalf("block 2 after a final block carries its proof: %s", got)
	}
	if got := h.c.FinalityOf(&b3.Header); got != Final {
		t.Fatalf("block 3 has no proof yet: %s", got)
	}
	if ph, err := h.c.ProvenHeight(); err != nil || ph != 2 {
		t.Fatalf("ProvenHeight = %d, %v; want 2", ph, err)
	}
	rec, ok, err := h.c.ProofOf(2)
	if err != nil || !ok || rec.Tx != pt.Hash() || rec.Block != b4.Hash() {
		t.Fatalf("ProofOf(2) = %+v, %v, %v", rec, ok, err)
	}
	if p := h.account(h.addrs[1]).Prover; p.Proved != 1 {
		t.Fatalf("prover record after settlement: %+v", p)
	}

	// A block whose header lists proofs its transactions do not carry is
	// invalid.
	forged := *b3
	forged.Header.Proofs = b4.Header.Proofs
	if _, err := h.c.Validate(ctx, forged.Encode()); !errors.Is(err, ErrInvalidBlock) || !strings.Contains(err.Error(), "header lists 1 proofs") {
		t.Fatalf("block with a forged proof list: %v", err)
	}
	h.reopen()
	if got := h.c.FinalityOf(&b2.Header); got != Proven {
		t.Fatalf("after reopening: %s", got)
	}
}
