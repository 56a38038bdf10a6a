package batch_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/state"
)

// ledger is a real state (bbolt file, state tree) that test blocks are
// applied to.
type ledger struct {
	db *statedb.DB
}

func userAddr(i int) account.Address {
	return account.SystemAddress(fmt.Sprintf("batch-test/user/%d", i))
}

// newLedger commits a genesis with the system accounts and n funded users;
// every fifth user has stake locked (bond, delegation, unbonding).
func newLedger(t testing.TB, n int) *ledger {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := statedb.Open(st, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := statedb.NewDelta(db)
	d.SetGlobals(account.Globals{Accounts: uint32(account.TreasuryIndex)})
	for _, a := range []account.Address{account.TreasuryAddress, account.EscrowAddress} {
		if _, _, err := d.Create(a); err != nil {
			t.Fatal(err)
		}
	}
	var supply uint64
	for i := range n {
		idx, a, err := d.Create(userAddr(i))
		if err != nil {
			t.Fatal(err)
		}
		a.Balance = 1_000_000_000_000 + uint64(i)*7_777_777
		a.Nonce = uint64(i % 3)
		if i%5 == 0 {
			a.Bonded = 500_000 + uint64(i)
			a.Validator = &account.Validator{Delegated: 0}
			a.Unbonding = []account.Unbonding{{Validator: a.Address, Amount: 10, Release: 50}}
		}
		supply += a.Balance + a.Locked()
		if err := d.Put(idx, a); err != nil {
			t.Fatal(err)
		}
	}
	g := d.Globals()
	g.Supply = supply + 1<<40 // leave room: tokens already burned are not in Supply
	g.Burned = 123_456
	d.SetGlobals(g)
	// Put the rest of the supply in the treasury, so supply = Σ balance + locked.
	tr, err := d.Account(account.TreasuryIndex)
	if err != nil {
		t.Fatal(err)
	}
	tr.Balance = 1 << 40
	if err := d.Put(account.TreasuryIndex, tr); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(nil, nil, d.Changeset()); err != nil {
		t.Fatal(err)
	}
	return &ledger{db: db}
}

// xfer is a transfer from user From to address To, with a fee of which
// half is burned and half goes to the prover escrow (as the ledger does).
type xfer struct {
	From   int
	To     account.Address
	Amount uint64
	Fee    uint64
}

// block applies txs in a delta over the head and returns the changeset.
func (l *ledger) block(t testing.TB, txs []xfer) *state.Changeset {
	t.Helper()
	d := statedb.NewDelta(l.db)
	credit := func(addr account.Address, v uint64) {
		idx, a, err := d.Ensure(addr)
		if err != nil {
			t.Fatal(err)
		}
		a.Balance += v
		if err := d.Put(idx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range txs {
		idx, ok, err := d.Lookup(userAddr(x.From))
		if err != nil || !ok {
			t.Fatalf("sender %d: %v %v", x.From, ok, err)
		}
		a, err := d.Account(idx)
		if err != nil {
			t.Fatal(err)
		}
		a.Balance -= x.Amount + x.Fee
		a.Nonce++
		if err := d.Put(idx, a); err != nil {
			t.Fatal(err)
		}
		credit(x.To, x.Amount)
		burn := x.Fee / 2
		credit(account.EscrowAddress, x.Fee-burn)
		g := d.Globals()
		g.Supply -= burn
		g.Burned += burn
		d.SetGlobals(g)
	}
	return d.Changeset()
}

// prove builds the statement of cs over the head, checks it against the
// state after committing cs, and returns it.
func (l *ledger) statement(t testing.TB, cs *state.Changeset, commit bool) (batch.Public, *batch.Witness) {
	t.Helper()
	ov := state.NewOverlay(l.db.Tree())
	pub, w, err := batch.Build(ov, cs)
	if err != nil {
		t.Fatal(err)
	}
	h, err := batch.HashChanges(cs)
	if err != nil {
		t.Fatal(err)
	}
	if h != pub.BatchHash {
		t.Fatalf("HashChanges %s, Build %s", h, pub.BatchHash)
	}
	if commit {
		if err := l.db.Commit(nil, nil, cs); err != nil {
			t.Fatal(err)
		}
		if got := l.db.Root(); got != pub.NewRoot {
			t.Fatalf("Build's new root %s, state root after commit %s", pub.NewRoot, got)
		}
	}
	return pub, w
}
