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

// A longest-chain leader that signed two blocks for one slot is slashed
// like a double-voting validator: the evidence names the slot as its
// height and the block height in extra, and the offence is at the block
// height (a slot number far above the chain's height is no obstacle).
func TestSlashLeaderEquivocation(t *testing.T) {
	f := newFixture(t, 4)
	sk := f.offender()
	off := addrOf(1)
	const slot = 1_000_000
	a := vote.Message{ChainID: testChain, Height: slot, Step: vote.StepBlock, BlockHash: bytes.Repeat([]byte{1}, 32), Extra: []byte{0, 0, 0, 0, 0, 0, 0, 1}}
	b := a
	b.BlockHash = bytes.Repeat([]byte{2}, 32)
	sa, sb := bls.Sign(sk, a.SignBytes()).Bytes(), bls.Sign(sk, b.SignBytes()).Bytes()
	e, err := vote.NewEvidence(off, a, sa[:], b, sb[:])
	if err != nil {
		t.Fatal(err)
	}
	res := f.commit(sign(2, 0, tx.Slash{Evidence: string(e.Encode())}))
	if rc := res.Receipts[0]; rc.Status != block.StatusOK {
		t.Fatalf("slash failed: %s", rc.Reason)
	}
	if a := f.account(f.db, off); a.Validator.Slashed != 5_000 {
		t.Fatalf("slashed %d, want 5000", a.Validator.Slashed)
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

// A validator that unbonded its whole self-bond before the offence has
// nothing at stake; the report fails and can be sent again once it bonds.
func TestSlashNothingAtStake(t *testing.T) {
	f := newFixture(t, 4)
	sk := f.offender()                                 // height 1
	f.commit(sign(1, 1, tx.Unbond{Amount: slashBond})) // height 2: left before the offence
	ev := doubleSign(t, sk, addrOf(1), testChain, 3, vote.StepPrevote)
	rc := f.commit(sign(2, 0, tx.Slash{Evidence: ev})).Receipts[0] // height 3
	if rc.Status != block.StatusFailed {
		t.Fatal("slashed a validator with nothing at stake at the offence")
	}
	hasAll(t, "receipt reason", rc.Reason, []string{"nothing at stake"})
	bal := f.account(f.db, addrOf(1)).Balance
	fee := f.commit(sign(1, 2, tx.Bond{Amount: 40})).Receipts[0].FeePaid // height 4: the entry is released
	if rc := f.commit(sign(2, 1, tx.Slash{Evidence: ev})).Receipts[0]; rc.Status != block.StatusOK {
		t.Fatalf("the same evidence after a new bond: %s", rc.Reason)
	}
	if a := f.account(f.db, addrOf(1)); a.Bonded != 38 || a.Validator.Slashed != 2 || a.Balance != bal+slashBond-40-fee {
		t.Fatalf("bonded %d slashed %d balance %d: the entry that left before the offence must come back whole", a.Bonded, a.Validator.Slashed, a.Balance)
	}
}

// TestSlashReachesDelegationsAndUnbonding: what was bonded to the
// offender at the offence loses the slash fraction wherever it is now: the
// self-bond, the delegation pool (every delegator alike) and the unbonding
// entries created at the offence height or later, the offender's and its
// delegators'. An entry that left before the offence is untouched, and
// supply falls by exactly what was slashed (checked after every block).
func TestSlashReachesDelegationsAndUnbonding(t *testing.T) {
	f := newFixture(t, 5)
	sk := f.offender() // height 1: self-bond 100,000
	off := addrOf(1)
	f.commit(sign(2, 0, tx.Delegate{Validator: off, Amount: 20_000}), sign(3, 0, tx.Delegate{Validator: off, Amount: 40_000})) // 2
	f.commit(sign(3, 1, tx.Unbond{Validator: off, Amount: 10_000}))                                                            // 3: before the offence
	f.commit(sign(2, 1, tx.Unbond{Validator: off, Amount: 8_000}), sign(1, 1, tx.Unbond{Amount: 30_000}))                      // 4: the offence height
	if v := f.account(f.db, off).Validator; v.Delegated != 42_000 || v.DelegatorShares != 42_000 {
		t.Fatalf("pool %d tokens in %d shares before the slash, want 42000 in 42000", v.Delegated, v.DelegatorShares)
	}
	before, bal3 := f.db.Globals(), f.account(f.db, addrOf(3)).Balance
	res := f.commit(sign(4, 0, tx.Slash{Evidence: doubleSign(t, sk, off, testChain, 4, vote.StepPrecommit)})) // 5
	if rc := res.Receipts[0]; rc.Status != block.StatusOK {
		t.Fatalf("slash: %s", rc.Reason)
	}
	// 5% of: self-bond 70,000 (3,500), pool 42,000 (2,100), the
	// offender's entry 30,000 (1,500), delegator 2's entry 8,000 (400).
	const slashed = 3_500 + 2_100 + 1_500 + 400
	a := f.account(f.db, off)
	if a.Bonded != 66_500 || a.Validator.Delegated != 39_900 || a.Validator.DelegatorShares != 42_000 || a.Validator.Slashed != slashed {
		t.Fatalf("offender: bonded %d pool %d/%d shares slashed %d", a.Bonded, a.Validator.Delegated, a.Validator.DelegatorShares, a.Validator.Slashed)
	}
	if len(a.Unbonding) != 1 || a.Unbonding[0].Amount != 28_500 {
		t.Fatalf("offender's own unbonding: %+v, want 28500", a.Unbonding)
	}
	d2, d3 := f.account(f.db, addrOf(2)), f.account(f.db, addrOf(3))
	if len(d2.Unbonding) != 1 || d2.Unbonding[0].Amount != 7_600 {
		t.Fatalf("delegator 2's unbonding after the offence: %+v, want 7600", d2.Unbonding)
	}
	if len(d3.Unbonding) != 0 || d3.Balance != bal3+10_000 {
		t.Fatalf("delegator 3's entry from before the offence: unbonding %+v balance %d", d3.Unbonding, d3.Balance)
	}
	if got := a.Validator.Value(d2.Delegations[0].Shares); got != 11_400 {
		t.Fatalf("delegator 2's 12,000 shares are worth %d, want 11400", got)
	}
	if got := a.Validator.Value(d3.Delegations[0].Shares); got != 28_500 {
		t.Fatalf("delegator 3's 30,000 shares are worth %d, want 28500", got)
	}
	after := f.db.Globals()
	if before.Supply-after.Supply != slashed+res.Totals.Burn {
		t.Fatalf("supply fell by %d, want %d slashed + %d fee burn", before.Supply-after.Supply, slashed, res.Totals.Burn)
	}
	// A delegator withdraws what its shares are worth now, and no more.
	if rc := f.commit(sign(2, 2, tx.Unbond{Validator: off, Amount: 11_401})).Receipts[0]; rc.Status != block.StatusFailed {
		t.Fatal("withdrew more than the shares are worth")
	}
	if rc := f.commit(sign(2, 3, tx.Unbond{Validator: off, Amount: 11_400})).Receipts[0]; rc.Status != block.StatusOK {
		t.Fatalf("withdrawing the whole worth: %s", rc.Reason)
	}
	if d2 := f.account(f.db, addrOf(2)); len(d2.Delegations) != 0 {
		t.Fatalf("a delegation withdrawn whole remains: %+v", d2.Delegations)
	}
	if v := f.account(f.db, off).Validator; v.Delegated != 28_500 || v.DelegatorShares != 30_000 {
		t.Fatalf("pool after the withdrawal: %d tokens in %d shares", v.Delegated, v.DelegatorShares)
	}
	// New delegations buy shares at the slashed price: 950 tokens per 1,000 shares.
	f.commit(sign(4, 1, tx.Delegate{Validator: off, Amount: 9_500}))
	if d4 := f.account(f.db, addrOf(4)); len(d4.Delegations) != 1 || d4.Delegations[0].Shares != 10_000 {
		t.Fatalf("9,500 tokens bought %+v, want 10000 shares", d4.Delegations)
	}
}

// Evidence older than the unbonding delay is refused: the stake bonded at
// the offence may have left.
func TestSlashEvidenceTooOld(t *testing.T) {
	f := newFixture(t, 4)
	sk := f.offender() // 1
	f.commit()         // 2
	f.commit()         // 3
	ev := doubleSign(t, sk, addrOf(1), testChain, 1, vote.StepPrevote)
	rc := f.commit(sign(2, 0, tx.Slash{Evidence: ev})).Receipts[0] // 4: 3 blocks after, delay 2
	if rc.Status != block.StatusFailed {
		t.Fatal("slashed on evidence older than the unbonding delay")
	}
	hasAll(t, "receipt reason", rc.Reason, []string{"offence at height 1", "older than the unbonding delay"})
}
