package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// testMarket: a short deadline, and a starting reputation below the
// maximum so that reputation moves both ways in the tests.
func testMarket() MarketParams {
	return MarketParams{
		MinProverBond: 1000, JobDeadline: 3, MissSlashBps: 1000,
		ReputationStart: 500, ReputationUp: 10, ReputationDown: 100, ReputationMax: 1000,
	}
}

// stubVerify replaces batch.Verify for the market-logic tests: a proof is
// valid exactly when it is validProof of the statement.
func stubVerify(t *testing.T) {
	t.Helper()
	old := verifyProof
	verifyProof = func(pub batch.Public, proof []byte) error {
		if string(proof) == validProof(pub) {
			return nil
		}
		return fmt.Errorf("%w: the test proof does not match the statement", batch.ErrProof)
	}
	t.Cleanup(func() { verifyProof = old })
}

func validProof(pub batch.Public) string { return "proof:" + string(pub.Encode()) }

func testDigest(v uint64) hash.Digest {
	var d hash.Digest
	for i := range d {
		d[i].SetUint64(v*8 + uint64(i))
	}
	return d
}

// stmt is a stand-in statement of block h.
func stmt(h uint64) *batch.Public {
	return &batch.Public{OldRoot: testDigest(h), NewRoot: testDigest(h + 1), BatchHash: testDigest(1_000_000 + h), Updates: 3}
}

// mkt drives blocks through Execute with the parent's statement set, as
// the chain does.
type mkt struct {
	*fixture
}

func newMarket(t *testing.T, n int) *mkt {
	f := newFixture(t, n)
	f.params.Market = testMarket()
	stubVerify(t)
	return &mkt{f}
}

// next signs body from key(from) with the account's current nonce plus k.
func (m *mkt) next(from int, k uint64, body tx.Body) *tx.Tx {
	return sign(from, m.account(m.db, addrOf(from)).Nonce+k, body)
}

func (m *mkt) envNext() Env {
	env := m.env()
	if m.height >= 1 {
		env.ParentStatement = stmt(m.height)
	}
	return env
}

func (m *mkt) run(mode Mode, txs ...*tx.Tx) (*Result, error) {
	return Execute(context.Background(), m.db, m.params, m.envNext(), txs, m.pricer, mode, false)
}

// block executes txs (all valid) in Validate mode and commits them.
func (m *mkt) block(txs ...*tx.Tx) *Result {
	m.t.Helper()
	res, err := m.run(Validate, txs...)
	if err != nil {
		m.t.Fatal(err)
	}
	m.apply(res)
	return res
}

func (m *mkt) escrow() *account.Account {
	m.t.Helper()
	e, err := m.db.Account(account.EscrowIndex)
	if err != nil {
		m.t.Fatal(err)
	}
	return e
}

func (m *mkt) prover(i int) *account.Prover {
	m.t.Helper()
	p := m.account(m.db, addrOf(i)).Prover
	if p == nil {
		m.t.Fatalf("key %d has no prover record", i)
	}
	return p
}

func register(price, bond uint64) tx.ProverRegister {
	return tx.ProverRegister{Kind: "cpu", Throughput: 1_000_000, Price: price, Bond: bond}
}

func proofFor(h uint64) tx.Proof { return tx.Proof{Height: h, Proof: validProof(*stmt(h))} }

// ordered returns key indices sorted by address, the registry's order.
func ordered(keys ...int) []int {
	slices.SortFunc(keys, func(a, b int) int { x, y := addrOf(a), addrOf(b); return bytes.Compare(x[:], y[:]) })
	return keys
}

func mustOK(t *testing.T, res *Result) {
	t.Helper()
	for i, r := range res.Receipts {
		if r.Status != block.StatusOK {
			t.Fatalf("receipt %d failed: %s", i, r.Reason)
		}
	}
}

func TestProverRegister(t *testing.T) {
	m := newMarket(t, 4)
	bal := m.account(m.db, addrOf(1)).Balance
	res := m.block(m.next(1, 0, register(7, 1500)))
	mustOK(t, res)
	a := m.account(m.db, addrOf(1))
	want := account.Prover{Kind: "cpu", Throughput: 1_000_000, Price: 7, Bond: 1500, Reputation: 500}
	if *a.Prover != want {
		t.Fatalf("prover %+v, want %+v", *a.Prover, want)
	}
	if a.Balance != bal-1500-res.Receipts[0].FeePaid || a.Locked() != 1500 {
		t.Fatalf("balance %d locked %d", a.Balance, a.Locked())
	}
	if e := m.escrow(); !slices.Equal(e.Provers, []account.Address{addrOf(1)}) {
		t.Fatalf("registry %v", e.Provers)
	}
	// A profile update with no bond, then a top-up.
	mustOK(t, m.block(m.next(1, 0, tx.ProverRegister{Kind: "gpu", Throughput: 9, Price: 3})))
	mustOK(t, m.block(m.next(1, 0, register(3, 250))))
	if p := m.prover(1); p.Kind != "cpu" || p.Throughput != 1_000_000 || p.Price != 3 || p.Bond != 1750 || p.Reputation != 500 {
		t.Fatalf("after update and top-up: %+v", *p)
	}
	if len(m.escrow().Provers) != 1 {
		t.Fatal("a top-up registered the prover twice")
	}

	for _, c := range []struct {
		name string
		body tx.Body
		from int
		msg  string
	}{
		{"bond below the minimum", register(0, 999), 2, "bond of at least 1000, this one is 999"},
		{"profile update of a stranger", tx.ProverRegister{Kind: "cpu", Throughput: 1}, 2, "bond of at least 1000, this one is 0"},
		{"bad kind (Build skips stateless checks)", tx.ProverRegister{Kind: "CPU", Throughput: 1, Bond: 5000}, 2, "prover kind"},
		{"exit of a stranger", tx.ProverExit{}, 3, "is not a registered prover"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := m.run(Build, m.next(c.from, 0, c.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Receipts) != 1 || res.Receipts[0].Status != block.StatusFailed || !strings.Contains(res.Receipts[0].Reason, c.msg) {
				t.Fatalf("receipts %+v, want one failure mentioning %q", res.Receipts, c.msg)
			}
			if a := m.account(res.Delta, addrOf(c.from)); a.Prover != nil || a.Locked() != 0 {
				t.Fatal("a failed registration changed the prover record")
			}
		})
	}
}

// A bond that overflows with the fee, or exceeds the balance, keeps the
// registration out of the block.
func TestProverRegisterOverflow(t *testing.T) {
	m := newMarket(t, 2)
	for _, c := range []struct {
		bond uint64
		err  error
	}{{math.MaxUint64, tx.ErrOverflow}, {testBalance, ErrInsufficientFunds}} {
		_, err := m.run(Validate, m.next(1, 0, register(0, c.bond)))
		if !errors.Is(err, c.err) {
			t.Errorf("bond %d: %v, want %v", c.bond, err, c.err)
		}
	}
}

func TestProverRegistryFull(t *testing.T) {
	m := newMarket(t, 2)
	d := statedb.NewDelta(m.db)
	e, err := d.Account(account.EscrowIndex)
	if err != nil {
		t.Fatal(err)
	}
	for i := range account.MaxProvers {
		e.RegisterProver(account.SystemAddress(fmt.Sprint("p", i)))
	}
	if err := d.Put(account.EscrowIndex, e); err != nil {
		t.Fatal(err)
	}
	idx, a, err := statedb.AccountAt(d, addrOf(1))
	if err != nil {
		t.Fatal(err)
	}
	err = proverRegister(d, testMarket(), idx, a, register(0, 5000))
	var fe *failure
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "registry is full (256 provers)") {
		t.Fatalf("registering into a full registry: %v", err)
	}
}

// TestAssignmentRanking checks best() on hand-made registries.
func TestAssignmentRanking(t *testing.T) {
	type p struct {
		key         int
		price, bond uint64
		rep         uint64
		open        int // assigned open jobs
	}
	cases := []struct {
		name    string
		provers []p
		reward  uint64
		height  uint64
		exclude int // key, or -1
		want    []int
	}{
		{"lowest price", []p{{1, 10, 5000, 500, 0}, {2, 9, 5000, 100, 3}, {3, 11, 5000, 900, 0}}, 100, 7, -1, []int{2}},
		{"price above reward is ineligible", []p{{1, 10, 5000, 500, 0}, {2, 101, 5000, 900, 0}}, 100, 7, -1, []int{1}},
		{"bond below minimum is ineligible", []p{{1, 10, 999, 500, 0}, {2, 50, 1000, 500, 0}}, 100, 7, -1, []int{2}},
		{"highest reputation among the cheapest", []p{{1, 5, 5000, 500, 0}, {2, 5, 5000, 510, 9}, {3, 6, 5000, 1000, 0}}, 100, 7, -1, []int{2}},
		{"fewest open jobs among equals", []p{{1, 5, 5000, 500, 2}, {2, 5, 5000, 500, 1}, {3, 5, 5000, 500, 2}}, 100, 7, -1, []int{2}},
		{"excluded prover", []p{{1, 5, 5000, 500, 0}, {2, 6, 5000, 500, 0}}, 100, 7, 1, []int{2}},
		{"none eligible", []p{{1, 500, 5000, 500, 0}, {2, 5, 10, 500, 0}}, 100, 7, -1, nil},
		{"empty registry", nil, 100, 7, -1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMarket(t, 5)
			d := statedb.NewDelta(m.db)
			e, _ := d.Account(account.EscrowIndex)
			h := uint64(1)
			for _, pv := range c.provers {
				idx, a, err := statedb.AccountAt(d, addrOf(pv.key))
				if err != nil {
					t.Fatal(err)
				}
				a.Prover = &account.Prover{Kind: "cpu", Throughput: 1, Price: pv.price, Bond: pv.bond, Reputation: pv.rep}
				a.Balance -= pv.bond
				if err := d.Put(idx, a); err != nil {
					t.Fatal(err)
				}
				e.RegisterProver(addrOf(pv.key))
				for range pv.open {
					e.Jobs = append(e.Jobs, account.Job{Height: h, Prover: addrOf(pv.key), Deadline: h + 5})
					h++
				}
			}
			b := &book{d: d, m: testMarket(), escrow: e, provers: map[account.Address]*entry{}}
			var ex account.Address
			if c.exclude >= 0 {
				ex = addrOf(c.exclude)
			}
			got, _, ok, err := b.best(c.reward, c.height, ex)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.want) == 0 {
				if ok {
					t.Fatalf("assigned %s, want nobody", got)
				}
				return
			}
			if !ok || got != addrOf(c.want[0]) {
				t.Fatalf("assigned %s (ok %v), want key %d", got, ok, c.want[0])
			}
		})
	}
}

// TestAssignmentRotates: provers equal in price, reputation and load take
// jobs in turn by height, so BFT sequencers share the proving.
func TestAssignmentRotates(t *testing.T) {
	m := newMarket(t, 5)
	keys := ordered(1, 2, 3)
	d := statedb.NewDelta(m.db)
	e, _ := d.Account(account.EscrowIndex)
	for _, k := range keys {
		idx, a, _ := statedb.AccountAt(d, addrOf(k))
		a.Prover = &account.Prover{Kind: "cpu", Throughput: 1, Bond: 5000, Reputation: 500}
		a.Balance -= 5000
		if err := d.Put(idx, a); err != nil {
			t.Fatal(err)
		}
		e.RegisterProver(addrOf(k))
	}
	b := &book{d: d, m: testMarket(), escrow: e, provers: map[account.Address]*entry{}}
	for h := uint64(10); h < 16; h++ {
		got, _, ok, err := b.best(0, h, account.Address{})
		if err != nil || !ok || got != addrOf(keys[h%3]) {
			t.Fatalf("height %d: %s, %v, %v; want key %d", h, got, ok, err, keys[h%3])
		}
	}
}

// TestMarketLifecycle: jobs open every block, are assigned, settled,
// missed (slash, reassign) and paid; supply is checked after every block.
func TestMarketLifecycle(t *testing.T) {
	m := newMarket(t, 5)
	keys := ordered(1, 2)
	x, y := keys[0], keys[1]
	// Height 1: both register at price 0; the parent is genesis: no job.
	mustOK(t, m.block(m.next(1, 0, register(0, 2000)), m.next(2, 0, register(0, 2000))))
	if len(m.escrow().Jobs) != 0 {
		t.Fatal("a job opened for genesis")
	}
	fees := m.escrow().Balance
	if fees == 0 {
		t.Fatal("no prover share reached the escrow")
	}
	// Height 2: the job for block 1 opens with the whole escrow as its
	// reward; equal provers: rotation, height 2 → index 0.
	m.block()
	j := m.escrow().Jobs
	if len(j) != 1 || j[0].Height != 1 || j[0].Reward != fees || j[0].Prover != addrOf(keys[0]) || j[0].Deadline != 5 || j[0].Pay != 0 ||
		j[0].Public != Statement(*stmt(1)) {
		t.Fatalf("job %+v", j)
	}
	// Height 3: job 2 (no new fees: reward 0) goes to the prover with
	// fewer open jobs.
	m.block()
	j = m.escrow().Jobs
	if len(j) != 2 || j[1].Prover != addrOf(y) || j[1].Reward != 0 || j[1].Deadline != 6 {
		t.Fatalf("jobs %+v", j)
	}
	// Height 4: job 3 opens first (begin), while both hold one job:
	// rotation, height 4 → index 0 (x). Then y settles job 2.
	res := m.block(m.next(y, 0, proofFor(2)))
	mustOK(t, res)
	if p := m.prover(y); p.Proved != 1 || p.Reputation != 510 {
		t.Fatalf("after settling: %+v", *p)
	}
	j = m.escrow().Jobs
	if len(j) != 2 || j[0].Height != 1 || j[1].Height != 3 || j[1].Prover != addrOf(x) || j[1].Deadline != 7 {
		t.Fatalf("jobs %+v", j)
	}
	// Height 5: job 1's deadline: x is slashed 10 % of 2000 and job 1
	// moves to y with a new deadline; job 4 goes to y, whose reputation
	// is now the higher.
	burned := m.db.Globals().Burned
	res = m.block()
	px := m.prover(x)
	if px.Bond != 1800 || px.Slashed != 200 || px.Missed != 1 || px.Reputation != 400 {
		t.Fatalf("missed prover %+v", *px)
	}
	if got := m.db.Globals().Burned - burned; got != 200+res.Totals.Burn {
		t.Fatalf("burned %d, want the slash 200 plus fees %d", got, res.Totals.Burn)
	}
	j = m.escrow().Jobs
	if j[0].Height != 1 || j[0].Prover != addrOf(y) || j[0].Deadline != 8 || j[0].Attempts != 1 {
		t.Fatalf("reassigned job %+v", j[0])
	}
	if j[2].Height != 4 || j[2].Prover != addrOf(y) {
		t.Fatalf("job 4 %+v: want y (reputation 510 against 400)", j[2])
	}
	// Height 6: x cannot exit while it holds job 3.
	res = m.block(m.next(x, 0, tx.ProverExit{}))
	if res.Receipts[0].Status != block.StatusFailed || !strings.Contains(res.Receipts[0].Reason, "holds 1 assigned open jobs (heights [3])") {
		t.Fatalf("exit with jobs: %+v", res.Receipts[0])
	}
	// Height 7: job 3's deadline passes first (x slashed 10 % of 1800,
	// job 3 to y), so x holds nothing and its exit goes through: bond
	// back, out of the registry; the record and its reputation stay.
	before := m.account(m.db, addrOf(x))
	res = m.block(m.next(x, 0, tx.ProverExit{}))
	mustOK(t, res)
	after := m.account(m.db, addrOf(x))
	if after.Prover.Bond != 0 || after.Prover.Slashed != 380 || after.Prover.Missed != 2 || after.Prover.Reputation != 300 ||
		after.Balance != before.Balance+1620-res.Receipts[0].FeePaid {
		t.Fatalf("after exit: %+v, balance %d (was %d)", *after.Prover, after.Balance, before.Balance)
	}
	if slices.Contains(m.escrow().Provers, addrOf(x)) {
		t.Fatal("an exited prover is still registered")
	}
	// x re-registers: the minimum bond again, the reputation it had.
	mustOK(t, m.block(m.next(x, 0, register(0, 1000))))
	if p := m.prover(x); p.Bond != 1000 || p.Reputation != 300 || p.Missed != 2 {
		t.Fatalf("after re-registering: %+v", *p)
	}
}

// TestSettlementPays: the assignee earns min(price, reward); the rest of
// the reward returns to the unallocated escrow and funds the next job; an
// unassigned job pays its whole reward to whoever proves it.
func TestSettlementPays(t *testing.T) {
	m := newMarket(t, 4)
	mustOK(t, m.block(m.next(1, 0, register(100, 2000))))
	fees := m.escrow().Balance
	m.block() // job 1, reward fees ≥ 100: assigned to key 1 at price 100
	j := m.escrow().Jobs[0]
	if j.Prover != addrOf(1) || j.Pay != 100 || j.Reward != fees {
		t.Fatalf("job %+v", j)
	}
	bal := m.account(m.db, addrOf(1)).Balance
	escrowBefore := m.escrow()
	res := m.block(m.next(1, 0, proofFor(1)))
	mustOK(t, res)
	if got := m.account(m.db, addrOf(1)).Balance; got != bal+100-res.Receipts[0].FeePaid {
		t.Fatalf("prover balance %d, want %d + 100 - fee %d", got, bal, res.Receipts[0].FeePaid)
	}
	e := m.escrow()
	if e.Balance != escrowBefore.Balance-100+res.Totals.Prover {
		t.Fatalf("escrow %d, want %d - 100 + %d", e.Balance, escrowBefore.Balance, res.Totals.Prover)
	}
	// Job 2 opened in the same block, before the settlement: its reward
	// is the unallocated escrow then (block 2 had no fees); job 1's
	// unpaid remainder is unallocated now and goes to job 3.
	if len(e.Jobs) != 1 || e.Jobs[0].Height != 2 || e.Jobs[0].Reward != 0 || e.Jobs[0].Assigned() {
		t.Fatalf("jobs %+v (reward 0 is below the price 100: unassigned)", e.Jobs)
	}
	m.block()
	e = m.escrow()
	if e.Jobs[1].Height != 3 || e.Jobs[1].Reward != e.Balance {
		t.Fatalf("job 3 reward %d, want the whole unallocated escrow %d", e.Jobs[1].Reward, e.Balance)
	}
	// Unassigned job 2: key 1 settles it and is paid its whole reward (0),
	// even though another prover could also have.
	mustOK(t, m.block(m.next(1, 0, proofFor(2))))
	if p := m.prover(1); p.Proved != 2 || p.Reputation != 520 {
		t.Fatalf("prover %+v", *p)
	}
}

// TestVolunteerMarket: with Volunteer set every job opens unassigned with
// its whole reward; the first prover to land a proof takes it, a second
// proof of the same block has no job left, and nothing is ever missed.
func TestVolunteerMarket(t *testing.T) {
	m := newMarket(t, 4)
	m.params.Market.Volunteer = true
	mustOK(t, m.block(m.next(1, 0, register(100, 2000)), m.next(2, 0, register(1, 2000))))
	m.block() // job 1 opens
	j := m.escrow().Jobs[0]
	if j.Assigned() || j.Deadline != 0 || j.Pay != j.Reward {
		t.Fatalf("volunteer job %+v: want unassigned, no deadline, pay = reward", j)
	}
	for range 5 { // far past any deadline: nobody is slashed
		m.block()
	}
	if p1, p2 := m.prover(1), m.prover(2); p1.Missed+p2.Missed != 0 {
		t.Fatalf("a volunteer was punished: %+v %+v", *p1, *p2)
	}
	bal := m.account(m.db, addrOf(1)).Balance
	res := m.block(m.next(1, 0, proofFor(1)))
	mustOK(t, res)
	if got := m.account(m.db, addrOf(1)).Balance; got != bal+j.Reward-res.Receipts[0].FeePaid {
		t.Fatalf("first prover got %d, want its balance %d + the whole reward %d - fee", got, bal, j.Reward)
	}
	if _, err := m.run(Validate, m.next(2, 0, proofFor(1))); !errors.Is(err, ErrProof) {
		t.Fatalf("a second proof of block 1: %v, want ErrProof (no open job)", err)
	}
}

// TestProofRejected: a proof that cannot settle a job never enters a
// block: Build drops it, Validate rejects the block; both say why.
func TestProofRejected(t *testing.T) {
	m := newMarket(t, 5)
	keys := ordered(1, 2)
	mustOK(t, m.block(m.next(1, 0, register(0, 2000)), m.next(2, 0, register(0, 2000))))
	m.block() // job 1 → keys[0] (height 2 rotation)
	owner, other := keys[0], keys[1]
	if m.escrow().Jobs[0].Prover != addrOf(owner) {
		t.Fatal("unexpected assignee")
	}
	cases := []struct {
		name string
		tx   *tx.Tx
		msg  string
		is   error
	}{
		{"unknown job", m.next(owner, 0, proofFor(9)), "no open proof job for height 9", ErrProof},
		{"job for the current block", m.next(owner, 0, proofFor(3)), "no open proof job for height 3", ErrProof},
		{"not a prover", m.next(3, 0, proofFor(1)), "is not a registered prover", ErrProof},
		{"wrong prover before the deadline", m.next(other, 0, proofFor(1)), "is assigned to " + addrOf(owner).String() + " until height 5", ErrProof},
		{"bad proof", m.next(owner, 0, tx.Proof{Height: 1, Proof: validProof(*stmt(2))}), "does not verify", batch.ErrProof},
		{"sender without an account", sign(77, 0, proofFor(1)), "has no account", ErrProof},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := m.run(Build, c.tx)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Txs) != 0 || len(res.Dropped) != 1 || !errors.Is(res.Dropped[0].Err, c.is) || !strings.Contains(res.Dropped[0].Err.Error(), c.msg) {
				t.Fatalf("Build: included %d, dropped %+v; want it dropped mentioning %q", len(res.Txs), res.Dropped, c.msg)
			}
			_, err = m.run(Validate, c.tx)
			var te *TxError
			if !errors.As(err, &te) || te.Index != 0 || !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
	// Two proofs of one job in a block: the second finds no open job.
	res, err := m.run(Build, m.next(owner, 0, proofFor(1)), m.next(owner, 1, proofFor(1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Txs) != 1 || len(res.Dropped) != 1 || !strings.Contains(res.Dropped[0].Err.Error(), "no open proof job for height 1") {
		t.Fatalf("double settlement: included %d, dropped %+v", len(res.Txs), res.Dropped)
	}
	m.apply(res)
}

// TestMissedJobWithoutOtherProvers: a sole prover that misses is slashed
// and the job stays with nobody; a registered prover may then settle it.
func TestMissedJobWithoutOtherProvers(t *testing.T) {
	m := newMarket(t, 3)
	mustOK(t, m.block(m.next(1, 0, register(0, 1000))))
	for range 4 { // heights 2..5: job 1 opens at 2 with deadline 5
		m.block()
	}
	p := m.prover(1)
	if p.Bond != 900 || p.Missed != 1 {
		t.Fatalf("prover %+v", *p)
	}
	e := m.escrow()
	if e.Jobs[0].Height != 1 || e.Jobs[0].Assigned() || e.Jobs[0].Attempts != 1 || e.Jobs[0].Pay != e.Jobs[0].Reward {
		t.Fatalf("job 1 %+v: want unassigned after the miss", e.Jobs[0])
	}
	// Its bond is below the minimum now: job 4, opened after the miss, is
	// not assigned to it (jobs 2 and 3 were, before).
	for _, j := range e.Jobs {
		if j.Assigned() != (j.Height == 2 || j.Height == 3) {
			t.Fatalf("job %d: assigned %v", j.Height, j.Assigned())
		}
	}
	// It may still settle the unassigned job.
	mustOK(t, m.block(m.next(1, 0, proofFor(1))))
	if m.escrow().Job(1) >= 0 {
		t.Fatal("job 1 still open")
	}
}

// TestJobsBounded: with MaxJobs open, opening another expires the oldest,
// whose reward returns to the unallocated escrow.
func TestJobsBounded(t *testing.T) {
	m := newMarket(t, 3)
	m.block(m.next(1, 0, transferTo(2, 1)))                 // some fees for the escrow
	mustOK(t, m.block(m.next(1, 0, register(1<<40, 1500)))) // too dear for any job: they stay unassigned
	d := statedb.NewDelta(m.db)
	e, _ := d.Account(account.EscrowIndex)
	if e.Balance < 10 {
		t.Fatalf("escrow %d", e.Balance)
	}
	for h := uint64(1); h <= account.MaxJobs; h++ {
		j := account.Job{Height: h, Public: Statement(*stmt(h))}
		if h == 1 {
			j.Reward, j.Pay = 10, 10
		}
		e.Jobs = append(e.Jobs, j)
	}
	if err := d.Put(account.EscrowIndex, e); err != nil {
		t.Fatal(err)
	}
	m.apply(&Result{Delta: d})
	m.height = account.MaxJobs + 1 // the next block opens the job for MaxJobs+1
	m.block()
	e = m.escrow()
	if len(e.Jobs) != account.MaxJobs || e.Jobs[0].Height != 2 || e.Jobs[len(e.Jobs)-1].Height != account.MaxJobs+1 {
		t.Fatalf("%d jobs from %d to %d", len(e.Jobs), e.Jobs[0].Height, e.Jobs[len(e.Jobs)-1].Height)
	}
	if got := e.Jobs[len(e.Jobs)-1].Reward; got < 10 {
		t.Fatalf("new job reward %d does not include the expired job's 10", got)
	}
}

func TestMissSlashAmount(t *testing.T) {
	for _, c := range []struct{ bond, bps, want uint64 }{
		{2000, 1000, 200},
		{9, 1000, 1}, // rounds down to 0: at least 1
		{0, 1000, 0},
		{5000, 0, 0}, // slashing switched off
		{5000, 10_000, 5000},
		{math.MaxUint64, 10_000, math.MaxUint64},
		{math.MaxUint64, 1000, math.MaxUint64 / 10},
	} {
		if got := MissSlashAmount(c.bond, c.bps); got != c.want {
			t.Errorf("MissSlashAmount(%d, %d) = %d, want %d", c.bond, c.bps, got, c.want)
		}
	}
	if satAdd(math.MaxUint64-1, 5) != math.MaxUint64 || satAdd(3, 4) != 7 {
		t.Error("satAdd")
	}
}

func TestMarketParamsInForce(t *testing.T) {
	if m, err := (Params{}).market(); err != nil || m != account.DefaultMarketParams() {
		t.Fatalf("zero Market: %+v, %v; want the defaults", m, err)
	}
	f := newFixture(t, 2)
	f.params.Market = testMarket()
	f.params.Market.JobDeadline = 0
	if _, err := f.exec(Build); err == nil || !strings.Contains(err.Error(), "job_deadline 0") {
		t.Fatalf("invalid market parameters: %v", err)
	}
}

// TestStatementConversion: Statement and Public are inverse.
func TestStatementConversion(t *testing.T) {
	p := *stmt(42)
	if Public(Statement(p)) != p {
		t.Fatal("round trip changed the statement")
	}
}

// TestMarketRandomConservation runs random sequences of market operations
// (registrations, top-ups, exits, valid and invalid proofs, transfers) and
// checks after every block that supply equals balances plus locked, that
// supply plus burned never changes, and that Build and Validate agree.
func TestMarketRandomConservation(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			m := newMarket(t, 6)
			m.params.Market.JobDeadline = 2
			rng := rand.New(rand.NewPCG(seed, 99))
			var settled, dropped int
			for range 40 {
				var txs []*tx.Tx
				used := map[int]uint64{}
				add := func(from int, body tx.Body) {
					txs = append(txs, m.next(from, used[from], body))
					used[from]++
				}
				open := m.escrow().Jobs
				for range rng.IntN(5) {
					from := 1 + rng.IntN(5)
					switch rng.IntN(7) {
					case 0:
						add(from, register(uint64(rng.IntN(3)), uint64(rng.IntN(3000))))
					case 1:
						add(from, tx.ProverExit{})
					case 2, 3, 4:
						if len(open) > 0 {
							j := open[rng.IntN(len(open))]
							if j.Assigned() && rng.IntN(4) > 0 {
								from = slices.IndexFunc([]int{0, 1, 2, 3, 4, 5}, func(k int) bool { return addrOf(k) == j.Prover })
							}
							p := tx.Proof{Height: j.Height, Proof: validProof(Public(j.Public))}
							if rng.IntN(5) == 0 {
								p.Proof = "bogus"
							}
							add(from, p)
						}
					default:
						add(from, transferTo(rng.IntN(6), uint64(1+rng.IntN(1000))))
					}
				}
				res, err := m.run(Build, txs...)
				if err != nil {
					t.Fatal(err)
				}
				// The block Build made validates to the same state.
				again, err := m.run(Validate, res.Txs...)
				if err != nil {
					t.Fatalf("height %d: Validate of the built block: %v", m.height+1, err)
				}
				if !bytes.Equal(again.Delta.Changeset().Encode(), res.Delta.Changeset().Encode()) {
					t.Fatalf("height %d: Build and Validate disagree", m.height+1)
				}
				dropped += len(res.Dropped)
				for _, t := range res.Txs {
					if t.Type() == tx.TypeProof {
						settled++
					}
				}
				m.apply(res) // checks supply
				e := m.escrow()
				if err := e.Check(); err != nil {
					t.Fatal(err)
				}
				for _, pa := range e.Provers {
					if a := m.account(m.db, pa); !a.ActiveProver() {
						t.Fatalf("registry holds %s, which has no bond", pa)
					}
				}
			}
			var missed uint64
			for k := range 6 {
				if p := m.account(m.db, addrOf(k)).Prover; p != nil {
					missed += p.Missed
				}
			}
			// The sequence must have exercised the market, not just transfers.
			if settled == 0 || dropped == 0 || missed == 0 || m.db.Globals().Burned == 0 {
				t.Fatalf("settled %d, dropped %d, missed %d: the random sequence did not exercise the market", settled, dropped, missed)
			}
			t.Logf("settled %d proofs, dropped %d transactions, %d missed deadlines", settled, dropped, missed)
		})
	}
}

// CheckProofTx, the mempool's door for proof transactions, refuses what
// Execute would refuse, against the head, and passes the settling proof.
// A large garbage proof from a non-prover is refused before any
// verification.
func TestCheckProofTx(t *testing.T) {
	m := newMarket(t, 5)
	keys := ordered(1, 2)
	mustOK(t, m.block(m.next(1, 0, register(0, 2000)), m.next(2, 0, register(0, 2000))))
	m.block() // job 1 → keys[0]
	owner, other := keys[0], keys[1]
	verified := 0
	inner := verifyProof
	verifyProof = func(pub batch.Public, proof []byte) error { verified++; return inner(pub, proof) }
	garbage := tx.Proof{Height: 1, Proof: strings.Repeat("x", 500<<10)}
	for _, c := range []struct {
		name string
		tx   *tx.Tx
		msg  string
	}{
		{"unknown job", m.next(owner, 0, proofFor(9)), "no open proof job for height 9"},
		{"garbage from a non-prover", m.next(3, 0, garbage), "is not a registered prover"},
		{"wrong prover before the deadline", m.next(other, 0, proofFor(1)), "is assigned to"},
		{"bad proof", m.next(owner, 0, tx.Proof{Height: 1, Proof: validProof(*stmt(2))}), "does not verify"},
	} {
		if err := CheckProofTx(m.db, c.tx); !errors.Is(err, ErrProof) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want ErrProof saying %q", c.name, err, c.msg)
		}
	}
	if verified != 1 {
		t.Errorf("%d verifications, want 1 (only the registered, assigned prover's proof)", verified)
	}
	if err := CheckProofTx(m.db, m.next(owner, 0, proofFor(1))); err != nil {
		t.Fatalf("the settling proof: %v", err)
	}
	if err := CheckProofTx(m.db, m.next(3, 0, transferTo(1, 5))); err != nil {
		t.Fatalf("a transfer: %v", err)
	}
}
