package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

func transferTo(to int, amount uint64) tx.Body {
	return tx.Transfer{To: addrOf(to), Amount: amount}
}

// signWith signs after edit changes the fee fields.
func signWith(from int, nonce uint64, body tx.Body, edit func(*tx.Tx)) *tx.Tx {
	t := &tx.Tx{ChainID: testChain, Nonce: nonce, GasLimit: tx.IntrinsicGas(body.Type()), MaxFeePerGas: testMaxFee, MaxPriorityFeePerGas: testTip, Body: body}
	edit(t)
	t.Sign(key(from))
	return t
}

func hasAll(t *testing.T, what, msg string, parts []string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s %q does not say %q", what, msg, p)
		}
	}
}

// TestRejections: every reason a transaction cannot be in a block, in
// Validate mode (the block fails with a *TxError naming the transaction)
// and in Build mode (the transaction is dropped with its reason, the others
// execute).
func TestRejections(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(f *fixture)
		txs      []*tx.Tx
		gasLimit uint64
		bad      int
		sentinel error
		msg      []string
	}{
		{
			name:     "nonce too low: replay within the block",
			txs:      []*tx.Tx{sign(1, 0, transferTo(2, 5)), sign(1, 0, transferTo(3, 6))},
			bad:      1,
			sentinel: ErrNonce,
			msg:      []string{"nonce 0 already used", "account is at 1"},
		},
		{
			name:     "nonce too low: replay of a committed transaction",
			setup:    func(f *fixture) { f.commit(sign(1, 0, transferTo(2, 5)), sign(1, 1, transferTo(2, 5))) },
			txs:      []*tx.Tx{sign(3, 0, transferTo(2, 5)), sign(1, 1, transferTo(2, 5))},
			bad:      1,
			sentinel: ErrNonce,
			msg:      []string{"nonce 1 already used", "account is at 2"},
		},
		{
			name:     "nonce gap",
			txs:      []*tx.Tx{sign(1, 0, transferTo(2, 5)), sign(1, 2, transferTo(2, 5))},
			bad:      1,
			sentinel: ErrNonce,
			msg:      []string{"nonce 2", "expects 1"},
		},
		{
			name:     "insufficient funds: amount + gas × max fee above the balance",
			txs:      []*tx.Tx{sign(2, 0, transferTo(3, testBalance-1000*testMaxFee+1))},
			bad:      0,
			sentinel: ErrInsufficientFunds,
			msg:      []string{"balance 1000000000", "may cost 1000000001"},
		},
		{
			name: "insufficient funds after an earlier transaction of the block",
			txs: []*tx.Tx{
				sign(2, 0, transferTo(3, testBalance-2*1000*testMaxFee)),
				sign(2, 1, transferTo(3, 1000*testMaxFee)),
			},
			bad:      1,
			sentinel: ErrInsufficientFunds,
			msg:      []string{"balance 100000", "may cost 200000"},
		},
		{
			name:     "unknown sender",
			txs:      []*tx.Tx{sign(1, 0, transferTo(2, 5)), sign(50, 0, transferTo(2, 5))},
			bad:      1,
			sentinel: ErrInsufficientFunds,
			msg:      []string{addrOf(50).String(), "has no account"},
		},
		{
			name:     "fee cap below base fee",
			txs:      []*tx.Tx{signWith(1, 0, transferTo(2, 5), func(t *tx.Tx) { t.MaxFeePerGas, t.MaxPriorityFeePerGas = testBaseFee-1, 0 })},
			bad:      0,
			sentinel: ErrFeeCap,
			msg:      []string{"max fee per gas 9", "base fee 10"},
		},
		{
			name:     "block gas limit reached",
			txs:      []*tx.Tx{sign(1, 0, transferTo(2, 5)), sign(2, 0, transferTo(1, 5)), sign(3, 0, transferTo(1, 5))},
			gasLimit: 2500,
			bad:      2,
			sentinel: ErrBlockFull,
			msg:      []string{"500 gas left of 2500", "uses 1000"},
		},
		{
			name: "fee plugin rejection",
			txs: []*tx.Tx{
				sign(1, 0, transferTo(2, 5)),
				signWith(2, 0, transferTo(1, 5), func(t *tx.Tx) { t.MaxPriorityFeePerGas = 2 * testMaxFee }),
				sign(3, 0, transferTo(1, 5)),
			},
			bad:      1,
			sentinel: ErrFeeRejected,
			msg:      []string{"max priority fee per gas 200 is above max fee per gas 100"},
		},
	} {
		gasLimit := tc.gasLimit
		if gasLimit == 0 {
			gasLimit = testGasLimit
		}
		t.Run(tc.name+"/validate", func(t *testing.T) {
			f := newFixture(t, 5)
			if tc.setup != nil {
				tc.setup(f)
			}
			env := envAt(f.height+1, gasLimit, f.proposer)
			_, err := Execute(context.Background(), f.db, f.params, env, tc.txs, f.pricer, Validate, true)
			var te *TxError
			if !errors.As(err, &te) {
				t.Fatalf("Execute = %v, want a *TxError", err)
			}
			if te.Index != tc.bad || te.Hash != tc.txs[tc.bad].Hash() {
				t.Fatalf("error names transaction %d (%s), want %d (%s)", te.Index, te.Hash, tc.bad, tc.txs[tc.bad].Hash())
			}
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("error %v does not wrap %v", err, tc.sentinel)
			}
			hasAll(t, "error", err.Error(), append(tc.msg, fmt.Sprintf("transaction %d", tc.bad)))
		})
		t.Run(tc.name+"/build", func(t *testing.T) {
			f := newFixture(t, 5)
			if tc.setup != nil {
				tc.setup(f)
			}
			env := envAt(f.height+1, gasLimit, f.proposer)
			res, err := Execute(context.Background(), f.db, f.params, env, tc.txs, f.pricer, Build, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Dropped) != 1 || res.Dropped[0].Tx != tc.txs[tc.bad] {
				t.Fatalf("dropped %d transactions, want only transaction %d", len(res.Dropped), tc.bad)
			}
			if !errors.Is(res.Dropped[0].Err, tc.sentinel) {
				t.Fatalf("drop reason %v does not wrap %v", res.Dropped[0].Err, tc.sentinel)
			}
			hasAll(t, "drop reason", res.Dropped[0].Err.Error(), tc.msg)
			want := slices.Delete(slices.Clone(tc.txs), tc.bad, tc.bad+1)
			if !slices.Equal(res.Txs, want) || len(res.Receipts) != len(want) {
				t.Fatalf("block holds %d transactions and %d receipts, want the %d others", len(res.Txs), len(res.Receipts), len(want))
			}
			for i, rc := range res.Receipts {
				if rc.Status != block.StatusOK || rc.TxHash != want[i].Hash() || rc.FeePaid != expectedFee(want[i]) {
					t.Fatalf("receipt %d: %+v", i, rc)
				}
			}
			// The block built is valid as it stands.
			if _, err := Execute(context.Background(), f.db, f.params, env, res.Txs, f.pricer, Validate, true); err != nil {
				t.Fatalf("the built block does not validate: %v", err)
			}
			f.apply(res)
		})
	}
}

func TestStatelessChecksInValidate(t *testing.T) {
	f := newFixture(t, 3)
	bad := sign(1, 1, transferTo(2, 5))
	bad.Signature[0] ^= 1
	txs := []*tx.Tx{sign(1, 0, transferTo(2, 5)), bad}
	_, err := Execute(context.Background(), f.db, f.params, f.env(), txs, f.pricer, Validate, false)
	var te *TxError
	if !errors.As(err, &te) || te.Index != 1 || !errors.Is(err, tx.ErrSignature) {
		t.Fatalf("Execute = %v, want transaction 1 with ErrSignature", err)
	}
	wrong := signWith(1, 0, transferTo(2, 5), func(t *tx.Tx) { t.ChainID = "other" })
	_, err = Execute(context.Background(), f.db, f.params, f.env(), []*tx.Tx{wrong}, f.pricer, Validate, false)
	if !errors.As(err, &te) || te.Index != 0 || !errors.Is(err, tx.ErrChainID) {
		t.Fatalf("Execute = %v, want transaction 0 with ErrChainID", err)
	}
}

// TestFailedBodies: a body that fails leaves a failed receipt with its
// reason; the nonce advances and the fee is charged, and nothing else
// changes but the fee recipients' balances.
func TestFailedBodies(t *testing.T) {
	popErr := errors.New("pairing check failed")
	for _, tc := range []struct {
		name   string
		setup  func(f *fixture)
		from   int
		body   tx.Body
		pop    func([account.BLSPublicKeySize]byte, [account.BLSSignatureSize]byte) error
		noPoP  bool
		reason []string
	}{
		{name: "unbond above the bond", from: 0, body: tx.Unbond{Amount: testStake + 1},
			reason: []string{"bonded stake 5000 is below the amount 5001"}},
		{name: "unbond above the delegation", from: 1, body: tx.Unbond{Validator: addrOf(0), Amount: 600},
			setup:  func(f *fixture) { f.commit(sign(1, 0, tx.Delegate{Validator: addrOf(0), Amount: 500})) },
			reason: []string{"delegation to " + addrOf(0).String() + " is worth 500, below the amount 600"}},
		{name: "unbond without a delegation", from: 1, body: tx.Unbond{Validator: addrOf(0), Amount: 1},
			reason: []string{"no delegation to " + addrOf(0).String()}},
		{name: "delegate to a non-validator", from: 1, body: tx.Delegate{Validator: addrOf(2), Amount: 10},
			reason: []string{addrOf(2).String() + " is not a validator"}},
		{name: "delegate to an address without account", from: 1, body: tx.Delegate{Validator: addrOf(77), Amount: 10},
			reason: []string{addrOf(77).String() + " has no account"}},
		{name: "self-delegation", from: 0, body: tx.Delegate{Validator: addrOf(0), Amount: 10},
			reason: []string{"bonds to itself with a bond transaction"}},
		{name: "first bond without a BLS key", from: 1, body: tx.Bond{Amount: 10},
			reason: []string{"first bond registers a validator", "BLS public key"}},
		{name: "bond with a bad proof of possession", from: 1, body: tx.Bond{Amount: 10, BLSPublicKey: blsKey(1)},
			pop:    func([account.BLSPublicKeySize]byte, [account.BLSSignatureSize]byte) error { return popErr },
			reason: []string{"proof of possession does not verify: pairing check failed"}},
		{name: "registration on a chain without VerifyPoP", from: 1, body: tx.Bond{Amount: 10, BLSPublicKey: blsKey(1)}, noPoP: true,
			reason: []string{"does not accept validator registrations"}},
		{name: "changing a validator's key", from: 0, body: tx.Bond{Amount: 10, BLSPublicKey: blsKey(2)},
			reason: []string{"BLS key cannot change"}},
		{name: "too many unbonding entries", from: 0, body: tx.Unbond{Amount: 1},
			setup: func(f *fixture) {
				f.rewrite(0, func(a *account.Account) {
					for i := range account.MaxUnbonding {
						a.Unbonding = append(a.Unbonding, account.Unbonding{Validator: a.Address, Amount: 1, Release: 100 + uint64(i)})
						a.Bonded--
					}
				})
			},
			reason: []string{"at most 32 unbonding entries"}},
		{name: "delegate to too many validators", from: 1, body: tx.Delegate{Validator: addrOf(0), Amount: 1},
			setup: func(f *fixture) {
				// Shares in pools that do not exist: worth nothing, so
				// supply is unchanged; only the count matters here.
				f.rewrite(1, func(a *account.Account) {
					for i := range account.MaxDelegations {
						a.AddDelegation(account.SystemAddress(fmt.Sprintf("validator/%d", i)), 1)
					}
				})
			},
			reason: []string{"at most 64 validators"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 5)
			if tc.pop != nil {
				f.params.VerifyPoP = tc.pop
			}
			if tc.noPoP {
				f.params.VerifyPoP = nil
			}
			if tc.setup != nil {
				tc.setup(f)
			}
			sender := f.account(f.db, addrOf(tc.from))
			t0 := sign(tc.from, sender.Nonce, tc.body)
			ok := sign(3, f.account(f.db, addrOf(3)).Nonce, transferTo(4, 7)) // a good one after it
			txs := []*tx.Tx{t0, ok}
			var encs [][]byte
			for _, mode := range []Mode{Validate, Build} {
				res, err := f.exec(mode, txs...)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Dropped) != 0 || len(res.Receipts) != 2 {
					t.Fatalf("mode %d: %d receipts, %d dropped", mode, len(res.Receipts), len(res.Dropped))
				}
				rc := res.Receipts[0]
				if rc.Status != block.StatusFailed {
					t.Fatalf("receipt status %d, want failed", rc.Status)
				}
				hasAll(t, "receipt reason", rc.Reason, tc.reason)
				if rc.FeePaid != expectedFee(t0) || rc.GasUsed != t0.Gas() {
					t.Fatalf("failed transaction paid %d for %d gas, want %d for %d", rc.FeePaid, rc.GasUsed, expectedFee(t0), t0.Gas())
				}
				if res.Receipts[1].Status != block.StatusOK {
					t.Fatalf("the transaction after the failed one failed: %s", res.Receipts[1].Reason)
				}
				c := res.Delta.Changeset()
				if len(c.QueueAdd)+len(c.QueueDel) != 0 {
					t.Fatalf("a failed body changed the unbonding queue: %+v %+v", c.QueueAdd, c.QueueDel)
				}
				idx, _, _ := f.db.Lookup(addrOf(tc.from))
				ok3, _, _ := f.db.Lookup(addrOf(3))
				ok4, _, _ := f.db.Lookup(addrOf(4))
				for _, ch := range c.Changes {
					var old, nw account.Account
					if ch.Old != nil {
						old = *mustDecode(t, ch.Old)
					}
					nw = *mustDecode(t, ch.New)
					switch ch.Index {
					case idx:
						if nw.Nonce != old.Nonce+1 || nw.Balance != old.Balance-rc.FeePaid {
							t.Fatalf("sender: nonce %d → %d, balance %d → %d; want nonce +1 and the fee %d paid", old.Nonce, nw.Nonce, old.Balance, nw.Balance, rc.FeePaid)
						}
						old.Nonce, old.Balance = nw.Nonce, nw.Balance
						if !bytes.Equal(old.Encode(), nw.Encode()) {
							t.Fatal("the failed body changed the sender's record beyond nonce and fee")
						}
					case account.TreasuryIndex, account.EscrowIndex, ok3, ok4:
					default:
						if ch.Old != nil && nw.Address != f.proposer {
							t.Fatalf("account %d (%s) changed", ch.Index, nw.Address)
						}
					}
				}
				encs = append(encs, c.Encode())
			}
			if !bytes.Equal(encs[0], encs[1]) {
				t.Fatal("Validate and Build give different changesets for the same valid block")
			}
		})
	}
}

func mustDecode(t *testing.T, b []byte) *account.Account {
	t.Helper()
	a, err := account.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// rewrite edits account i's record directly, as a test setup step.
func (f *fixture) rewrite(i int, edit func(a *account.Account)) {
	f.t.Helper()
	d := statedb.NewDelta(f.db)
	idx, a, err := statedb.AccountAt(d, addrOf(i))
	if err != nil {
		f.t.Fatal(err)
	}
	edit(a)
	if err := d.Put(idx, a); err != nil {
		f.t.Fatal(err)
	}
	if err := f.db.Commit(nil, nil, d.Changeset()); err != nil {
		f.t.Fatal(err)
	}
	f.checkSupply(f.db)
}

// TestFeeSplit: the treasury, the escrow, the proposer and the burn receive
// exactly the block's totals, each fee is EIP-1559's, and each sender pays
// exactly amount + fee (the unused reservation is refunded).
func TestFeeSplit(t *testing.T) {
	for _, proposer := range []string{"proposer with an account", "new proposer", "no proposer"} {
		t.Run(proposer, func(t *testing.T) {
			f := newFixture(t, 8)
			switch proposer {
			case "proposer with an account":
				f.proposer = addrOf(7)
			case "no proposer":
				f.proposer = account.Address{}
			}
			txs := []*tx.Tx{
				sign(1, 0, transferTo(5, 1000)),
				signWith(2, 0, transferTo(6, 2000), func(t *tx.Tx) { t.MaxPriorityFeePerGas = 50 }),
				signWith(3, 0, transferTo(5, 3000), func(t *tx.Tx) { t.MaxFeePerGas, t.MaxPriorityFeePerGas = 13, 13 }), // tip capped at 3
				signWith(4, 0, tx.Delegate{Validator: addrOf(0), Amount: 4000}, func(t *tx.Tx) { t.GasLimit = 25_000 }), // gas limit above gas used
			}
			read := func(r statedb.Reader) map[string]uint64 {
				m := map[string]uint64{
					"treasury": f.account(r, account.TreasuryAddress).Balance,
					"escrow":   f.account(r, account.EscrowAddress).Balance,
					"burned":   r.Globals().Burned,
					"supply":   r.Globals().Supply,
				}
				if !f.proposer.IsZero() {
					m["proposer"] = f.account(r, f.proposer).Balance
				}
				for i := 1; i <= 6; i++ {
					m[fmt.Sprint(i)] = f.account(r, addrOf(i)).Balance
				}
				return m
			}
			before := read(f.db)
			res := f.commit(txs...)
			after := read(f.db)
			tot := res.Totals
			var paid, tips uint64
			for i, rc := range res.Receipts {
				tip := min(txs[i].MaxPriorityFeePerGas, txs[i].MaxFeePerGas-testBaseFee)
				if rc.FeePaid != expectedFee(txs[i]) || rc.Tip != txs[i].Gas()*tip {
					t.Fatalf("receipt %d: fee %d tip %d, want %d and %d", i, rc.FeePaid, rc.Tip, expectedFee(txs[i]), txs[i].Gas()*tip)
				}
				paid += rc.FeePaid
				tips += rc.Tip
			}
			if s := tot.Burn + tot.Treasury + tot.Sequencer + tot.Prover; s != paid {
				t.Fatalf("split sums to %d, the receipts paid %d", s, paid)
			}
			// The default split: half the base fee burnt, 10 % treasury,
			// 40 % prover; the whole tip to the sequencer.
			base := paid - tips
			if tot.Burn != base/2 || tot.Treasury != base/10 || tot.Prover != base*4/10 || tot.Sequencer != tips {
				t.Fatalf("totals %+v for base part %d and tips %d", tot, base, tips)
			}
			seqTo := "proposer"
			if f.proposer.IsZero() {
				seqTo = "treasury"
			}
			want := map[string]uint64{"treasury": tot.Treasury, "escrow": tot.Prover, "burned": tot.Burn}
			want[seqTo] += tot.Sequencer
			for k, v := range want {
				if after[k]-before[k] != v {
					t.Errorf("%s received %d, want %d", k, after[k]-before[k], v)
				}
			}
			if before["supply"]-after["supply"] != tot.Burn {
				t.Errorf("supply fell by %d, burn was %d", before["supply"]-after["supply"], tot.Burn)
			}
			for i, tr := range txs {
				k := fmt.Sprint(i + 1)
				if got, want := before[k]-after[k], tr.Amount()+res.Receipts[i].FeePaid; got != want {
					t.Errorf("sender %s paid %d, want amount + fee = %d", k, got, want)
				}
			}
			if after["5"]-before["5"] != 4000 || after["6"]-before["6"] != 2000 {
				t.Errorf("receivers got %d and %d, want 4000 and 2000", after["5"]-before["5"], after["6"]-before["6"])
			}
			if res.GasUsed != 3*tx.GasTransfer+tx.GasStaking {
				t.Errorf("gas used %d", res.GasUsed)
			}
		})
	}
}

// TestUnbondingRelease: unbonded stake returns to the balance at the start
// of block height + delay, not before, for self-bonds and delegations.
func TestUnbondingRelease(t *testing.T) {
	f := newFixture(t, 4)
	v, d := addrOf(0), addrOf(1)
	// Height 1: the validator unbonds 1000 (release 3); the delegator delegates 500.
	f.commit(sign(0, 0, tx.Unbond{Amount: 1000}), sign(1, 0, tx.Delegate{Validator: v, Amount: 500}))
	va := f.account(f.db, v)
	if va.Bonded != testStake-1000 || len(va.Unbonding) != 1 || va.Unbonding[0].Release != 1+testDelay || va.Validator.Delegated != 500 {
		t.Fatalf("validator after height 1: %+v %+v", va, va.Validator)
	}
	vIdx, _, _ := f.db.Lookup(v)
	dIdx, _, _ := f.db.Lookup(d)
	if due, _ := f.db.Due(3); !slices.Equal(due, []account.Index{vIdx}) {
		t.Fatalf("Due(3) = %v, want [%d]", due, vIdx)
	}
	// Height 2: the delegator unbonds 200 of 500 (release 4), twice in one
	// block: the entries merge.
	f.commit(sign(1, 1, tx.Unbond{Validator: v, Amount: 150}), sign(1, 2, tx.Unbond{Validator: v, Amount: 50}))
	da := f.account(f.db, d)
	if len(da.Unbonding) != 1 || da.Unbonding[0].Amount != 200 || da.Unbonding[0].Release != 4 || da.Delegations[0].Shares != 300 {
		t.Fatalf("delegator after height 2: %+v", da)
	}
	if f.account(f.db, v).Validator.Delegated != 300 {
		t.Fatal("the validator's delegated stake did not fall to 300")
	}
	vBal := f.account(f.db, v).Balance
	if len(f.account(f.db, v).Unbonding) != 1 {
		t.Fatal("the validator's entry was released before height 3")
	}
	// Height 3: the validator's 1000 returns.
	f.commit()
	va = f.account(f.db, v)
	if va.Balance != vBal+1000 || va.Unbonding != nil {
		t.Fatalf("at height 3 the validator has balance %d (want %d) and entries %v", va.Balance, vBal+1000, va.Unbonding)
	}
	if due, _ := f.db.Due(3); len(due) != 0 {
		t.Fatalf("Due(3) = %v after release", due)
	}
	dBal := f.account(f.db, d).Balance
	if len(f.account(f.db, d).Unbonding) != 1 {
		t.Fatal("the delegator's entry was released before height 4")
	}
	// Height 4: the delegator's 200 returns.
	f.commit()
	da = f.account(f.db, d)
	if da.Balance != dBal+200 || da.Unbonding != nil {
		t.Fatalf("at height 4 the delegator has balance %d (want %d) and entries %v", da.Balance, dBal+200, da.Unbonding)
	}
	if due, _ := f.db.Due(4); len(due) != 0 {
		t.Fatalf("Due(4) = %v after release, delegator is %d", due, dIdx)
	}
}

// TestSupplyConservation runs blocks of every kind of transaction, failed
// bodies and dropped transactions included; fixture.apply checks after
// every block that balances plus stake equal the supply and that supply
// plus burned never moves.
func TestSupplyConservation(t *testing.T) {
	f := newFixture(t, 6)
	f.params.UnbondingDelay = 1
	nonce := make([]uint64, 6)
	s := func(from int, body tx.Body) *tx.Tx {
		t := sign(from, nonce[from], body)
		nonce[from]++
		return t
	}
	blocks := [][]*tx.Tx{
		{s(1, transferTo(2, 100)), s(2, transferTo(60, 5000)), s(3, tx.Bond{Amount: 700, BLSPublicKey: blsKey(3)})},
		{s(4, tx.Delegate{Validator: addrOf(3), Amount: 300}), s(5, tx.Delegate{Validator: addrOf(0), Amount: 90}), s(1, tx.Unbond{Amount: 1})},
		{s(3, tx.Unbond{Amount: 200}), s(4, tx.Unbond{Validator: addrOf(3), Amount: 100}), s(0, tx.Unbond{Amount: 10})},
		{s(5, tx.Unbond{Validator: addrOf(0), Amount: 90}), s(3, tx.Bond{Amount: 5}), s(2, transferTo(2, 1))},
		{},
		{s(0, tx.Delegate{Validator: addrOf(3), Amount: 1}), s(4, transferTo(61, 1))},
	}
	for h, txs := range blocks {
		res := f.commit(txs...)
		if len(res.Receipts) != len(txs) {
			t.Fatalf("height %d: %d receipts for %d transactions", h+1, len(res.Receipts), len(txs))
		}
	}
	// Build mode with dropped transactions conserves too.
	res, err := f.exec(Build, s(1, transferTo(2, 5)), sign(1, 99, transferTo(2, 5)), sign(2, 0, transferTo(1, 5)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dropped) != 2 {
		t.Fatalf("%d dropped, want 2", len(res.Dropped))
	}
	f.apply(res)
	if f.account(f.db, addrOf(60)).Balance != 5000 {
		t.Fatal("the transfer to a new address did not create it")
	}
}

// TestDeterminism: the same block on the same state gives byte-identical
// changesets and receipts, in both modes, including the release of several
// accounts' unbonding at one height.
func TestDeterminism(t *testing.T) {
	f := newFixture(t, 40)
	var setup []*tx.Tx
	for i := 1; i < 30; i++ {
		setup = append(setup, sign(i, 0, tx.Delegate{Validator: addrOf(0), Amount: uint64(100 + i)}))
	}
	f.commit(setup...)
	var unb []*tx.Tx
	for i := 1; i < 30; i++ {
		unb = append(unb, sign(i, 1, tx.Unbond{Validator: addrOf(0), Amount: uint64(i)}))
	}
	f.commit(unb...)
	f.commit() // the next block (height 4) releases all 29 entries
	var txs []*tx.Tx
	for i := 1; i < 40; i++ {
		nonce := f.account(f.db, addrOf(i)).Nonce
		txs = append(txs, sign(i, nonce, transferTo(100+i%7, uint64(i))), sign(i, nonce+1, transferTo((i*7)%40, 3)))
	}
	txs = append(txs, sign(0, 0, tx.Bond{Amount: 5}), sign(5, 99, transferTo(1, 1)))
	for _, mode := range []Mode{Build, Validate} {
		if mode == Validate {
			txs = txs[:len(txs)-1] // the gapped one cannot be in a valid block
		}
		var first []byte
		for run := range 3 {
			res, err := f.exec(mode, txs...)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.Write(res.Delta.Changeset().Encode())
			for _, rc := range res.Receipts {
				b.Write(rc.Encode())
			}
			fmt.Fprint(&b, res.GasUsed, res.Totals, res.NextBaseFee, len(res.Dropped))
			if run == 0 {
				first = b.Bytes()
				continue
			}
			if !bytes.Equal(first, b.Bytes()) {
				t.Fatalf("mode %d run %d: different changeset or receipts", mode, run)
			}
		}
	}
}

// failingPricer changes the real pricer's answer to one the host must not
// accept.
type failingPricer struct {
	inner Pricer
	edit  func(*BlockPrice) error
}

func (p failingPricer) PriceBlock(ctx context.Context, parent FeeParent, gasLimit uint64, txs []TxFee) (*BlockPrice, error) {
	r, err := p.inner.PriceBlock(ctx, parent, gasLimit, txs)
	if err != nil {
		return nil, err
	}
	return r, p.edit(r)
}

func TestUnusablePricing(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*BlockPrice) error
		msg  string
	}{
		{"plugin error", func(*BlockPrice) error { return errors.New("plugin crashed") }, "plugin crashed"},
		{"too few prices", func(r *BlockPrice) error { r.Txs = r.Txs[:1]; return nil }, "priced 1 transactions, the block has 2"},
		{"other base fee", func(r *BlockPrice) error { r.BaseFee++; return nil }, "base fee 10, the fee plugin gives 11"},
		{"fee above the reservation", func(r *BlockPrice) error {
			r.Txs[1].Fee = 1000*testMaxFee + 1
			return nil
		}, "charged 100001"},
		{"split not summing to the fee", func(r *BlockPrice) error { r.Txs[0].Split.Burn++; return nil }, "split does not sum"},
		{"split wrapping around to the fee", func(r *BlockPrice) error {
			// Burn + Treasury overflows 64 bits and wraps to the fee: a
			// plugin must not mint the difference.
			s := &r.Txs[0].Split
			s.Treasury += ^uint64(0) - s.Burn + 1
			s.Burn = ^uint64(0)
			return nil
		}, "split does not sum"},
		{"tip above the fee", func(r *BlockPrice) error { r.Txs[0].Tip = r.Txs[0].Fee + 1; return nil }, "tip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 3)
			f.pricer = failingPricer{inner: f.pricer, edit: tc.edit}
			for _, mode := range []Mode{Validate, Build} {
				_, err := f.exec(mode, sign(1, 0, transferTo(2, 5)), sign(2, 0, transferTo(1, 5)))
				want := ErrPricing
				if tc.name == "other base fee" && mode == Validate {
					want = ErrBaseFee // the header's claim, which pricing contradicts
				}
				if !errors.Is(err, want) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("mode %d: Execute = %v, want %v saying %q", mode, err, want, tc.msg)
				}
			}
		})
	}
	t.Run("rejecting on every attempt", func(t *testing.T) {
		f := newFixture(t, 5)
		// The plugin rejects the last transaction of whatever it is given:
		// Build drops it and asks again, and gives up after three answers.
		f.pricer = failingPricer{inner: f.pricer, edit: func(r *BlockPrice) error {
			if n := len(r.Txs); n > 0 {
				r.Txs[n-1].Rejected, r.Txs[n-1].Reason = true, "no"
			}
			return nil
		}}
		txs := []*tx.Tx{sign(1, 0, transferTo(2, 5)), sign(2, 0, transferTo(1, 5)), sign(3, 0, transferTo(1, 5)), sign(4, 0, transferTo(1, 5))}
		_, err := f.exec(Build, txs...)
		if !errors.Is(err, ErrPricing) || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("Execute = %v, want ErrPricing after 3 attempts", err)
		}
		// Two rejections are absorbed: the third answer prices an empty block.
		res, err := f.exec(Build, txs[:2]...)
		if err != nil || len(res.Txs) != 0 || len(res.Dropped) != 2 || !errors.Is(res.Dropped[0].Err, ErrFeeRejected) {
			t.Fatalf("Execute = %v; want an empty block with both dropped for the fee plugin", err)
		}
	})
}

func TestCanceled(t *testing.T) {
	f := newFixture(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Execute(ctx, f.db, f.params, f.env(), []*tx.Tx{sign(1, 0, transferTo(2, 5))}, f.pricer, Build, true)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute = %v, want context.Canceled", err)
	}
}
