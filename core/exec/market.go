package exec

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// MarketParams are the prover market's rules (see account.MarketParams).
type MarketParams = account.MarketParams

// verifyProof checks a batch proof. A package variable so that the market
// logic's unit tests can substitute it; the chain always runs batch.Verify.
var verifyProof = batch.Verify

// Statement converts batch public inputs to the form a Job stores.
func Statement(p batch.Public) account.Statement {
	return account.Statement{OldRoot: p.OldRoot, NewRoot: p.NewRoot, BatchHash: p.BatchHash, Updates: p.Updates}
}

// Public converts a job's statement back to batch public inputs.
func Public(s account.Statement) batch.Public {
	return batch.Public{OldRoot: s.OldRoot, NewRoot: s.NewRoot, BatchHash: s.BatchHash, Updates: s.Updates}
}

// market returns the market rules in force: p.Market, or the defaults when
// it is unset (the zero value, which Check rejects).
func (p Params) market() (MarketParams, error) {
	if p.Market == (MarketParams{}) {
		return account.DefaultMarketParams(), nil
	}
	if err := p.Market.Check(); err != nil {
		return MarketParams{}, fmt.Errorf("exec: prover market parameters: %w", err)
	}
	return p.Market, nil
}

// MissSlashAmount is what a missed deadline burns from a prover bond of
// bond: bps basis points of it, rounded down, but at least 1 token while
// the bond is not zero and bps is not zero.
func MissSlashAmount(bond, bps uint64) uint64 {
	hi, lo := bits.Mul64(bond, bps)
	s, _ := bits.Div64(hi, lo, 10_000) // bps ≤ 10_000: hi < 10_000
	if s == 0 && bond > 0 && bps > 0 {
		s = 1
	}
	return s
}

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// book is the market state of one block phase: the escrow record and the
// registered provers it touches, written back by flush.
type book struct {
	d       *statedb.Delta
	m       MarketParams
	escrow  *account.Account
	provers map[account.Address]*entry
}

type entry struct {
	idx   account.Index
	a     *account.Account
	dirty bool
}

// newBook opens the book on an escrow record the caller already read.
func newBook(d *statedb.Delta, m MarketParams, escrow *account.Account) *book {
	return &book{d: d, m: m, escrow: escrow, provers: map[account.Address]*entry{}}
}

// prover returns the account of addr, or nil if it has none.
func (b *book) prover(addr account.Address) (*entry, error) {
	if e, ok := b.provers[addr]; ok {
		return e, nil
	}
	idx, a, err := statedb.AccountAt(b.d, addr)
	if errors.Is(err, statedb.ErrNoAccount) {
		b.provers[addr] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e := &entry{idx: idx, a: a}
	b.provers[addr] = e
	return e, nil
}

func (b *book) flush() error {
	// In address order, so that the writes do not depend on map order.
	for _, addr := range slices.SortedFunc(maps.Keys(b.provers), func(x, y account.Address) int { return bytes.Compare(x[:], y[:]) }) {
		if e := b.provers[addr]; e != nil && e.dirty {
			if err := b.d.Put(e.idx, e.a); err != nil {
				return err
			}
		}
	}
	return b.d.Put(account.EscrowIndex, b.escrow)
}

// best picks the assignee of a job worth reward at height among the
// registered provers other than exclude: bond at least MinProverBond and
// price at most reward; lowest price, then highest reputation, then fewest
// assigned open jobs; among provers equal on all three, the one at
// height mod their number, in address order. ok is false if none is
// eligible.
func (b *book) best(reward, height uint64, exclude account.Address) (addr account.Address, price uint64, ok bool, err error) {
	open := map[account.Address]int{}
	for _, j := range b.escrow.Jobs {
		if j.Assigned() {
			open[j.Prover]++
		}
	}
	type cand struct {
		addr       account.Address
		price, rep uint64
		open       int
	}
	var tied []cand
	less := func(x, y cand) int { // <0: x ranks before y
		switch {
		case x.price != y.price:
			return cmpU64(x.price, y.price)
		case x.rep != y.rep:
			return cmpU64(y.rep, x.rep)
		}
		return x.open - y.open
	}
	for _, pa := range b.escrow.Provers { // sorted by address
		if pa == exclude {
			continue
		}
		e, err := b.prover(pa)
		if err != nil {
			return addr, 0, false, err
		}
		if e == nil || e.a.Prover == nil {
			continue // unreachable while the registry is consistent
		}
		p := e.a.Prover
		if p.Bond < b.m.MinProverBond || p.Price > reward {
			continue
		}
		c := cand{addr: pa, price: p.Price, rep: p.Reputation, open: open[pa]}
		switch {
		case len(tied) == 0:
			tied = append(tied, c)
		case less(c, tied[0]) < 0:
			tied = append(tied[:0], c)
		case less(c, tied[0]) == 0:
			tied = append(tied, c)
		}
	}
	if len(tied) == 0 {
		return addr, 0, false, nil
	}
	w := tied[height%uint64(len(tied))]
	return w.addr, w.price, true, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// assign gives job j to the best prover other than exclude, with a
// deadline JobDeadline blocks after height, or leaves it unassigned.
func (b *book) assign(j *account.Job, height uint64, exclude account.Address) error {
	addr, price, ok, err := b.best(j.Reward, height, exclude)
	if err != nil {
		return err
	}
	if !ok {
		j.Prover, j.Deadline, j.Pay = account.Address{}, 0, j.Reward
		return nil
	}
	j.Prover, j.Deadline, j.Pay = addr, satAdd(height, b.m.JobDeadline), min(price, j.Reward)
	return nil
}

// miss punishes the assignee of a job whose deadline passed: MissSlashBps
// of its bond is burned, its reputation falls, and it leaves the registry
// if nothing is left of its bond.
func (b *book) miss(addr account.Address) error {
	e, err := b.prover(addr)
	if err != nil {
		return err
	}
	if e == nil || e.a.Prover == nil {
		return nil // unreachable: an assignee is registered and cannot exit
	}
	p := e.a.Prover
	s := MissSlashAmount(p.Bond, b.m.MissSlashBps)
	g := b.d.Globals()
	if s > g.Supply {
		return fmt.Errorf("slashing %d exceeds the supply %d", s, g.Supply) // unreachable while supply is conserved
	}
	p.Bond -= s
	p.Slashed += s
	p.Missed++
	p.Reputation -= min(p.Reputation, b.m.ReputationDown)
	g.Supply -= s
	g.Burned += s
	b.d.SetGlobals(g)
	if p.Bond == 0 {
		b.escrow.UnregisterProver(addr)
	}
	e.dirty = true
	return nil
}

// beginMarket runs the market's start-of-block step: assigned jobs whose
// deadline is this height or earlier are missed (slash, reassign), then the
// job for the parent block opens if env names its statement.
func beginMarket(d *statedb.Delta, m MarketParams, env Env) error {
	// Jobs open only while some prover is registered: with none, nobody
	// could settle them, and the prover share simply accumulates in the
	// escrow until the first job takes it. Without a job to open, only
	// deadlines can need work; skip decoding the whole book otherwise.
	e, err := d.Account(account.EscrowIndex)
	if errors.Is(err, statedb.ErrNoAccount) {
		return nil
	}
	if err != nil {
		return err
	}
	opening := env.ParentStatement != nil && len(e.Provers) > 0
	due := false
	for _, j := range e.Jobs {
		due = due || j.Assigned() && j.Deadline <= env.Height
	}
	if !opening && !due {
		return nil
	}
	b := newBook(d, m, e)
	for i := range b.escrow.Jobs {
		j := &b.escrow.Jobs[i]
		if !j.Assigned() || j.Deadline > env.Height {
			continue
		}
		missed := j.Prover
		if err := b.miss(missed); err != nil {
			return err
		}
		j.Attempts++
		if err := b.assign(j, env.Height, missed); err != nil {
			return err
		}
	}
	if opening {
		if err := b.open(env); err != nil {
			return err
		}
	}
	return b.flush()
}

// open adds the job for the parent of env's block, funded with the escrow
// balance not yet allocated to open jobs.
func (b *book) open(env Env) error {
	if env.Height == 0 {
		return fmt.Errorf("block 0 has no parent to open a proof job for")
	}
	h := env.Height - 1
	if n := len(b.escrow.Jobs); n > 0 && b.escrow.Jobs[n-1].Height >= h {
		return fmt.Errorf("a proof job for height %d is already open (the last open job is for %d)", h, b.escrow.Jobs[n-1].Height)
	}
	if len(b.escrow.Jobs) >= account.MaxJobs {
		// The oldest job expires; its reward returns to the unallocated escrow.
		b.escrow.Jobs = slices.Delete(b.escrow.Jobs, 0, len(b.escrow.Jobs)-account.MaxJobs+1)
	}
	alloc, ok := b.escrow.Allocated()
	if !ok || alloc > b.escrow.Balance {
		return fmt.Errorf("prover escrow: open jobs reward %d, above its balance %d", alloc, b.escrow.Balance)
	}
	j := account.Job{Height: h, Public: Statement(*env.ParentStatement), Reward: b.escrow.Balance - alloc}
	j.Pay = j.Reward // unassigned: whoever settles it takes the reward
	if !b.m.Volunteer {
		if err := b.assign(&j, env.Height, account.Address{}); err != nil {
			return err
		}
	}
	b.escrow.Jobs = append(b.escrow.Jobs, j)
	return nil
}

// checkProof decides whether a proof transaction can be in the block: the
// job for its height is open, the sender is a registered prover, an
// assigned job is the sender's, and the proof verifies. A proof that fails
// any of these is left out of the block (Build) or makes it invalid
// (Validate), like a transaction with a bad nonce, so that a block never
// carries a useless proof. verified caches verification results by
// transaction hash across Execute's attempts.
// CheckProofTx runs a proof transaction's checks against the state r (the
// head, for the mempool): an open job at its height, a registered prover
// as sender, the job's assignment, then the proof itself, verified against
// the job's statement. The cheap checks come first, so garbage from anyone
// but a registered prover costs no verification. Other transactions pass.
func CheckProofTx(r statedb.Reader, t *tx.Tx) error {
	b, ok := t.Body.(tx.Proof)
	if !ok {
		return nil
	}
	return checkProof(statedb.NewDelta(r), t, b, map[tx.Hash]error{})
}

func checkProof(d *statedb.Delta, t *tx.Tx, b tx.Proof, verified map[tx.Hash]error) error {
	e, err := d.Account(account.EscrowIndex)
	if errors.Is(err, statedb.ErrNoAccount) {
		return fmt.Errorf("%w: no open proof job for height %d", ErrProof, b.Height)
	}
	if err != nil {
		return err
	}
	i := e.Job(b.Height)
	if i < 0 {
		return fmt.Errorf("%w: no open proof job for height %d", ErrProof, b.Height)
	}
	j := e.Jobs[i]
	sender := t.Sender()
	_, a, err := statedb.AccountAt(d, sender)
	if errors.Is(err, statedb.ErrNoAccount) {
		return fmt.Errorf("%w: sender %s has no account", ErrProof, sender)
	}
	if err != nil {
		return err
	}
	if !a.ActiveProver() {
		return fmt.Errorf("%w: sender %s is not a registered prover", ErrProof, sender)
	}
	if j.Assigned() && j.Prover != sender {
		return fmt.Errorf("%w: the job for height %d is assigned to %s until height %d", ErrProof, b.Height, j.Prover, j.Deadline)
	}
	verr, ok := verified[t.Hash()]
	if !ok {
		verr = verifyProof(Public(j.Public), []byte(b.Proof))
		verified[t.Hash()] = verr
	}
	if verr != nil {
		return fmt.Errorf("%w: proof of height %d does not verify: %w", ErrProof, b.Height, verr)
	}
	return nil
}

// settleProof pays for a verified proof (checkProof passed): the job's pay
// moves from the escrow to the sender, whose reputation rises; the job is
// removed and the rest of its reward returns to the unallocated escrow.
func settleProof(d *statedb.Delta, m MarketParams, idx account.Index, a *account.Account, b tx.Proof) error {
	e, err := d.Account(account.EscrowIndex)
	if err != nil {
		return err
	}
	i := e.Job(b.Height)
	if i < 0 || !a.ActiveProver() {
		return fail("no open proof job for height %d", b.Height) // unreachable: checkProof ran
	}
	pay := e.Jobs[i].Pay
	if pay > e.Balance {
		return fmt.Errorf("prover escrow: job for height %d pays %d, above its balance %d", b.Height, pay, e.Balance)
	}
	e.Balance -= pay
	e.Jobs = slices.Delete(e.Jobs, i, i+1)
	if len(e.Jobs) == 0 {
		e.Jobs = nil
	}
	if err := d.Put(account.EscrowIndex, e); err != nil {
		return err
	}
	p := a.Prover
	p.Proved++
	p.Reputation = min(m.ReputationMax, satAdd(p.Reputation, m.ReputationUp))
	a.Balance += pay
	return d.Put(idx, a)
}

// proverRegister registers the sender or updates its profile and adds bond.
func proverRegister(d *statedb.Delta, m MarketParams, idx account.Index, a *account.Account, b tx.ProverRegister) error {
	if err := account.CheckProverKind(b.Kind); err != nil {
		return fail("%v", err)
	}
	if a.Balance < b.Bond {
		return fail("balance %d is below the bond %d", a.Balance, b.Bond)
	}
	p := &account.Prover{Reputation: m.ReputationStart}
	if a.Prover != nil {
		c := *a.Prover
		p = &c
	}
	joining := p.Bond == 0
	if p.Bond+b.Bond < p.Bond {
		return fail("prover bond overflows") // unreachable while supply is conserved
	}
	if joining && p.Bond+b.Bond < m.MinProverBond {
		return fail("a prover registers with a bond of at least %d, this one is %d", m.MinProverBond, b.Bond)
	}
	var e *account.Account
	if joining {
		var err error
		if e, err = d.Account(account.EscrowIndex); err != nil {
			return err
		}
		if len(e.Provers) >= account.MaxProvers {
			return fail("the prover registry is full (%d provers)", account.MaxProvers)
		}
		e.RegisterProver(a.Address)
	}
	p.Kind, p.Throughput, p.Price = b.Kind, b.Throughput, b.Price
	p.Bond += b.Bond
	a.Balance -= b.Bond
	a.Prover = p
	if err := d.Put(idx, a); err != nil {
		return err
	}
	if e != nil {
		return d.Put(account.EscrowIndex, e)
	}
	return nil
}

// proverExit returns the bond and leaves the registry; refused while the
// prover holds assigned open jobs.
func proverExit(d *statedb.Delta, idx account.Index, a *account.Account) error {
	if !a.ActiveProver() {
		return fail("%s is not a registered prover", a.Address)
	}
	e, err := d.Account(account.EscrowIndex)
	if err != nil {
		return err
	}
	var held []uint64
	for _, j := range e.Jobs {
		if j.Prover == a.Address {
			held = append(held, j.Height)
		}
	}
	if len(held) > 0 {
		return fail("prover %s holds %d assigned open jobs (heights %v): settle them, or exit after their deadlines", a.Address, len(held), held)
	}
	a.Balance += a.Prover.Bond
	a.Prover.Bond = 0
	e.UnregisterProver(a.Address)
	if err := d.Put(idx, a); err != nil {
		return err
	}
	return d.Put(account.EscrowIndex, e)
}
