package chain

import (
	"errors"
	"testing"

	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// TestProofLag: on a longest-chain network with max_proof_lag 2, once the
// oldest unproven block is more than 2 blocks under the parent, a block
// without a proof cannot be built or validated; one carrying the proof can.
func TestProofLag(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	p := leader.Defaults
	p.MaxProofLag = 2
	h.gen.LongestChain = genesis.NewLongestChain(p)
	h.reopenFresh()

	b1 := h.extend(h.sign(1, 0, tx.ProverRegister{Kind: "cpu", Throughput: 1000, Price: 1, Bond: account.DefaultMinProverBond}))
	h.extend() // 2: opens the job for 1
	h.extend() // 3
	h.extend() // 4: block 1 is 3 under it
	head, _ := h.c.Head()
	_, err := h.c.Build(ctx, BuildRequest{Parent: head.Hash(), TimestampMs: head.Header.TimestampMs + 1000})
	if !errors.Is(err, ErrProofLag) {
		t.Fatalf("block 5 without a proof while block 1 is 3 under its parent: %v, want ErrProofLag", err)
	}
	pub, w, err := h.c.Witness(1)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := batch.Prove(pub, w, stark.NewCPU(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	body := tx.Proof{Height: 1, Proof: string(proof)}
	pt := &tx.Tx{ChainID: testChain, Nonce: 1, GasLimit: tx.BodyGas(body), MaxFeePerGas: 100, MaxPriorityFeePerGas: 2, Body: body}
	pt.Sign(h.keys[1])
	b5 := h.extend(pt)
	if len(b5.Header.Proofs) != 1 || b5.Header.Proofs[0].BlockHash != b1.Hash() {
		t.Fatalf("block 5 proofs %+v", b5.Header.Proofs)
	}
	// A validator refuses a block that breaks the rule: block 6 without a
	// proof while block 2 is 3 under block 5 (built here by a proposer
	// that ignores the rule: the rule is switched off for building).
	lc := h.gen.LongestChain
	h.gen.LongestChain = nil
	forged := h.build(b5.Hash(), b5.Header.TimestampMs+1000)
	h.gen.LongestChain = lc
	h.c.cache = newExecCache(16)
	if _, err := h.c.Validate(ctx, forged.Encode()); !errors.Is(err, ErrProofLag) || !errors.Is(err, ErrInvalidBlock) {
		t.Fatalf("a block breaking the proof-lag rule: %v", err)
	}
}
