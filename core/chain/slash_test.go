package chain

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
)

// A validator slashed for a double sign leaves the validator set for
// good, though it keeps most of its stake; the set before the slash still
// has it.
func TestSlashedValidatorLeavesTheSet(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	sk, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h.extend(h.sign(1, 0, tx.Bond{Amount: 1000, BLSPublicKey: sk.PublicKey().Bytes(), ProofOfPossession: bls.ProofOfPossession(sk).Bytes()}))
	if vs, total, _, err := h.c.ValidatorSet(1); err != nil || len(vs) != 2 || total != 6000 {
		t.Fatalf("set at 1: %v total %d err %v", vs, total, err)
	}
	a := vote.Message{ChainID: testChain, Height: 1, Step: vote.StepPrecommit, BlockHash: bytes.Repeat([]byte{1}, 32)}
	b := vote.Message{ChainID: testChain, Height: 1, Step: vote.StepPrecommit}
	sa, sb := bls.Sign(sk, a.SignBytes()).Bytes(), bls.Sign(sk, b.SignBytes()).Bytes()
	e, err := vote.NewEvidence(h.addrs[1], a, sa[:], b, sb[:])
	if err != nil {
		t.Fatal(err)
	}
	blk := h.extend(h.sign(2, 0, tx.Slash{Evidence: string(e.Encode())}))
	rc, err := h.c.Receipts(blk.Hash())
	if err != nil || len(rc) != 1 || rc[0].Status != block.StatusOK {
		t.Fatalf("slash receipts %v %v", rc, err)
	}
	h.conserved()
	if acc := h.account(h.addrs[1]); acc.Bonded != 950 || acc.Validator.Slashed != 50 {
		t.Fatalf("offender bonded %d slashed %d", acc.Bonded, acc.Validator.Slashed)
	}
	vs, total, _, err := h.c.ValidatorSet(2)
	if err != nil || len(vs) != 1 || total != 5000 || vs[0].Account.Address != h.addrs[0] {
		t.Fatalf("set after the slash: %v total %d err %v", vs, total, err)
	}
	if vs, _, _, err := h.c.ValidatorSet(1); err != nil || len(vs) != 2 {
		t.Fatalf("set at 1 after the slash: %v err %v", vs, err)
	}
	// More stake does not bring it back.
	h.extend(h.sign(1, 1, tx.Bond{Amount: 5000}))
	if vs, _, _, err := h.c.ValidatorSet(3); err != nil || len(vs) != 1 {
		t.Fatalf("set after a new bond: %v err %v", vs, err)
	}
}
