package exec

import (
	"bytes"
	"crypto/rand"
	"math"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
)

const slashBond = 100_000

// offender registers account 1 as a validator with a real BLS key and a
// self-bond of slashBond, and returns the key.
func (f *fixture) offender() *bls.SecretKey {
	f.t.Helper()
	sk := newBLS(f.t)
	b := tx.Bond{Amount: slashBond, BLSPublicKey: sk.PublicKey().Bytes(), ProofOfPossession: bls.ProofOfPossession(sk).Bytes()}
	if rc := f.commit(sign(1, 0, b)).Receipts[0]; rc.Status != block.StatusOK {
		f.t.Fatalf("bond: %s", rc.Reason)
	}
	return sk
}

func newBLS(t testing.TB) *bls.SecretKey {
	t.Helper()
	sk, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// doubleSign returns evidence that sk, as validator who, signed two
// conflicting messages at one slot of chain.
func doubleSign(t *testing.T, sk *bls.SecretKey, who account.Address, chain string, height uint64, step vote.Step) string {
	t.Helper()
	a := vote.Message{ChainID: chain, Height: height, Round: 0, Step: step, BlockHash: bytes.Repeat([]byte{1}, 32)}
	b := vote.Message{ChainID: chain, Height: height, Round: 0, Step: step, BlockHash: bytes.Repeat([]byte{2}, 32)}
	sa, sb := bls.Sign(sk, a.SignBytes()).Bytes(), bls.Sign(sk, b.SignBytes()).Bytes()
	e, err := vote.NewEvidence(who, a, sa[:], b, sb[:])
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Encode())
}

func TestSlashAmount(t *testing.T) {
	for _, c := range []struct{ bonded, want uint64 }{
		{0, 0}, {1, 1}, {19, 1}, {20, 1}, {39, 1}, {40, 2}, {100_000, 5_000}, {5_000, 250},
		{math.MaxUint64, math.MaxUint64 / 20},
	} {
		if got := SlashAmount(c.bonded); got != c.want {
			t.Errorf("SlashAmount(%d) = %d, want %d", c.bonded, got, c.want)
		}
	}
}

// A valid double sign slashes 5% of the self-bond, burns it, tombstones
// the validator; a second report against it fails.
func TestSlashDoubleSign(t *testing.T) {
	f := newFixture(t, 4)
	sk := f.offender()
	off := addrOf(1)
	before := f.db.Globals()
	res := f.commit(sign(2, 0, tx.Slash{Evidence: doubleSign(t, sk, off, testChain, 1, vote.StepPrecommit)}))
	rc := res.Receipts[0]
	if rc.Status != block.StatusOK {
		t.Fatalf("slash failed: %s", rc.Reason)
	}
	a := f.account(f.db, off)
	if a.Bonded != slashBond-5_000 || a.Validator.Slashed != 5_000 {
		t.Fatalf("after the slash: bonded %d slashed %d, want %d and 5000", a.Bonded, a.Validator.Slashed, slashBond-5_000)
	}
	after := f.db.Globals()
	if after.Supply != before.Supply-5_000-res.Totals.Burn || after.Burned != before.Burned+5_000+res.Totals.Burn {
		t.Fatalf("supply %d→%d burned %d→%d, fee burn %d", before.Supply, after.Supply, before.Burned, after.Burned, res.Totals.Burn)
	}
	if rep := f.account(f.db, addrOf(2)); rep.Nonce != 1 || rep.Balance != testBalance-rc.FeePaid {
		t.Fatalf("reporter nonce %d balance %d, want 1 and %d", rep.Nonce, rep.Balance, testBalance-rc.FeePaid)
	}

	// Another offence by the same validator: it is already tombstoned.
	res = f.commit(sign(3, 0, tx.Slash{Evidence: doubleSign(t, sk, off, testChain, 2, vote.StepPrevote)}))
	if rc := res.Receipts[0]; rc.Status != block.StatusFailed || rc.FeePaid == 0 {
		t.Fatalf("second slash: status %v fee %d", rc.Status, rc.FeePaid)
	} else {
		hasAll(t, "receipt reason", rc.Reason, []string{"already slashed", off.String()})
	}
	if a := f.account(f.db, off); a.Bonded != slashBond-5_000 || a.Validator.Slashed != 5_000 {
		t.Fatalf("a second slash changed the validator: bonded %d slashed %d", a.Bonded, a.Validator.Slashed)
	}
}

// Invalid reports stay in the block with a failed receipt naming the
// reason; the reporter pays the fee and nothing else changes.
func TestSlashFailures(t *testing.T) {
	other := newBLS(t)
	for _, tc := range []struct {
		name     string
		evidence func(f *fixture, sk *bls.SecretKey) string
		reason   []string
	}{
		{"signed by another key", func(f *fixture, _ *bls.SecretKey) string {
			return doubleSign(t, other, addrOf(1), testChain, 1, vote.StepPrevote)
		}, []string{"does not verify", addrOf(1).String()}},
		{"evidence for another chain", func(f *fixture, sk *bls.SecretKey) string {
			return doubleSign(t, sk, addrOf(1), "other-chain", 1, vote.StepPrevote)
		}, []string{"invalid evidence", `"other-chain"`}},
		{"messages that do not conflict", func(f *fixture, sk *bls.SecretKey) string {
			a := vote.Message{ChainID: testChain, Height: 1, Step: vote.StepPrevote}
			b := vote.Message{ChainID: testChain, Height: 1, Round: 1, Step: vote.StepPrevote}
			e := &vote.Evidence{Validator: addrOf(1), A: a, B: b, SigA: bls.Sign(sk, a.SignBytes()).Bytes(), SigB: bls.Sign(sk, b.SignBytes()).Bytes()}
			return string(e.Encode())
		}, []string{"do not conflict"}},
		{"offence above the block height", func(f *fixture, sk *bls.SecretKey) string {
			return doubleSign(t, sk, addrOf(1), testChain, 50, vote.StepPrevote)
		}, []string{"offence at height 50", "block height 2"}},
		{"not a validator", func(f *fixture, sk *bls.SecretKey) string {
			return doubleSign(t, sk, addrOf(3), testChain, 1, vote.StepPrevote)
		}, []string{addrOf(3).String(), "is not a validator"}},
		{"no account", func(f *fixture, sk *bls.SecretKey) string {
			return doubleSign(t, sk, addrOf(77), testChain, 1, vote.StepPrevote)
		}, []string{"has no account"}},
		{"unusable registered key", func(f *fixture, sk *bls.SecretKey) string {
			return doubleSign(t, sk, addrOf(0), testChain, 1, vote.StepPrevote) // the genesis validator's key is a placeholder
		}, []string{"registered BLS key is unusable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 4)
			sk := f.offender()
			before := f.db.Globals()
			offBefore := f.account(f.db, addrOf(1))
			slash := sign(2, 0, tx.Slash{Evidence: tc.evidence(f, sk)})
			res, err := f.exec(Validate, slash)
			if err != nil {
				t.Fatal(err)
			}
			rc := res.Receipts[0]
			if rc.Status != block.StatusFailed {
				t.Fatal("the slash succeeded")
			}
			hasAll(t, "receipt reason", rc.Reason, tc.reason)
			if rc.FeePaid != expectedFee(slash) {
				t.Fatalf("fee %d, want %d", rc.FeePaid, expectedFee(slash))
			}
			f.apply(res)
			after := f.db.Globals()
			if after.Supply+res.Totals.Burn != before.Supply {
				t.Fatalf("supply moved by more than the fee burn: %d → %d (burn %d)", before.Supply, after.Supply, res.Totals.Burn)
			}
			if a := f.account(f.db, addrOf(1)); a.Bonded != offBefore.Bonded || a.Validator.Slashed != 0 {
				t.Fatalf("the offender changed: bonded %d slashed %d", a.Bonded, a.Validator.Slashed)
			}
		})
	}
}

// A validator that unbonded its whole self-bond has nothing to slash; the
// report fails and can be sent again once it bonds.
func TestSlashWithoutSelfBond(t *testing.T) {
	f := newFixture(t, 4)
	sk := f.offender()
	f.commit(sign(1, 1, tx.Unbond{Amount: slashBond}))
	ev := doubleSign(t, sk, addrOf(1), testChain, 1, vote.StepPrevote)
	rc := f.commit(sign(2, 0, tx.Slash{Evidence: ev})).Receipts[0]
	if rc.Status != block.StatusFailed {
		t.Fatal("slashed a validator without self-bond")
	}
	hasAll(t, "receipt reason", rc.Reason, []string{"no self-bond to slash"})
	f.commit(sign(1, 2, tx.Bond{Amount: 40}))
	if rc := f.commit(sign(2, 1, tx.Slash{Evidence: ev})).Receipts[0]; rc.Status != block.StatusOK {
		t.Fatalf("the same evidence after a new bond: %s", rc.Reason)
	}
	if a := f.account(f.db, addrOf(1)); a.Bonded != 38 || a.Validator.Slashed != 2 {
		t.Fatalf("bonded %d slashed %d, want 38 and 2", a.Bonded, a.Validator.Slashed)
	}
}
