package statedb

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/state"
)

// Reader reads ledger state at one point of the chain.
type Reader interface {
	// Globals returns the ledger-wide record.
	Globals() account.Globals
	// Lookup returns the index of addr, ok false if it has no account.
	Lookup(addr account.Address) (idx account.Index, ok bool, err error)
	// Account returns the record at idx; ErrNoAccount if none. The caller
	// owns the result.
	Account(idx account.Index) (*account.Account, error)
	// QueueBetween returns the unbonding queue's keys whose release
	// height is in [from, to], in (release, index) order.
	QueueBetween(from, to uint64) ([]state.QueueKey, error)
}

// ErrNoAccount reports an index or address without an account.
var ErrNoAccount = errors.New("no such account")

// Delta is a write buffer over a Reader: execution reads and writes
// accounts through it, and Changeset returns what changed. Not safe for
// concurrent use.
type Delta struct {
	base     Reader
	accounts map[account.Index]*account.Account // nil value: account absent
	old      map[account.Index][]byte           // base record at first write; nil if absent
	addrs    map[account.Address]account.Index
	noAddr   map[account.Address]bool // addresses whose creation was reverted
	globals  account.Globals
	old0     account.Globals
	queue    map[state.QueueKey]queueOp
	// read caches base records read through Account, so that the first
	// Put of an account just read (execution always reads, then writes)
	// does not read the base again.
	read map[account.Index]*account.Account
}

// queueOp is what a delta did to one queue key: the first and the last
// operation (true: added, false: deleted). Under the QueueAdd/QueueDel
// contract the first one tells whether the base held the key, so a key
// added and deleted again (or the reverse) is no change at all.
type queueOp struct{ first, last bool }

// NewDelta returns an empty delta over base.
func NewDelta(base Reader) *Delta {
	g := base.Globals()
	return &Delta{
		base: base, globals: g, old0: g,
		accounts: make(map[account.Index]*account.Account),
		old:      make(map[account.Index][]byte),
		addrs:    make(map[account.Address]account.Index),
		noAddr:   make(map[account.Address]bool),
		queue:    make(map[state.QueueKey]queueOp),
		read:     make(map[account.Index]*account.Account),
	}
}

// Globals implements Reader.
func (d *Delta) Globals() account.Globals { return d.globals }

// SetGlobals replaces the globals record.
func (d *Delta) SetGlobals(g account.Globals) { d.globals = g }

// Lookup implements Reader.
func (d *Delta) Lookup(addr account.Address) (account.Index, bool, error) {
	if i, ok := d.addrs[addr]; ok {
		return i, true, nil
	}
	if d.noAddr[addr] {
		return 0, false, nil
	}
	return d.base.Lookup(addr)
}

// Account implements Reader.
func (d *Delta) Account(idx account.Index) (*account.Account, error) {
	if a, ok := d.accounts[idx]; ok {
		if a == nil {
			return nil, fmt.Errorf("%w: index %d", ErrNoAccount, idx)
		}
		return a.Clone(), nil
	}
	if a, ok := d.read[idx]; ok {
		return a.Clone(), nil
	}
	a, err := d.base.Account(idx)
	if err != nil {
		return nil, err
	}
	d.read[idx] = a.Clone() // the caller owns a
	return a, nil
}

// Due returns the accounts with unbonding entries released at height,
// in index order.
func (d *Delta) Due(height uint64) ([]account.Index, error) {
	keys, err := d.QueueBetween(height, height)
	if err != nil {
		return nil, err
	}
	return indexes(keys), nil
}

// QueueBetween implements Reader.
func (d *Delta) QueueBetween(from, to uint64) ([]state.QueueKey, error) {
	base, err := d.base.QueueBetween(from, to)
	if err != nil {
		return nil, err
	}
	set := make(map[state.QueueKey]bool, len(base))
	for _, k := range base {
		set[k] = true
	}
	for k, op := range d.queue {
		if k.Release >= from && k.Release <= to {
			set[k] = op.last
		}
	}
	out := make([]state.QueueKey, 0, len(set))
	for k, in := range set {
		if in {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b state.QueueKey) int {
		if a.Release != b.Release {
			return cmp.Compare(a.Release, b.Release)
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return out, nil
}

// remember stores the base record of idx before its first write.
func (d *Delta) remember(idx account.Index) error {
	if _, ok := d.old[idx]; ok {
		return nil
	}
	if cur, ok := d.accounts[idx]; ok {
		// Written by Apply of a stored changeset: its old value is already
		// accounted for in that changeset; treat the current as base.
		if cur == nil {
			d.old[idx] = nil
		} else {
			d.old[idx] = cur.Encode()
		}
		return nil
	}
	if a, ok := d.read[idx]; ok {
		d.old[idx] = a.Encode()
		return nil
	}
	a, err := d.base.Account(idx)
	switch {
	case errors.Is(err, ErrNoAccount):
		d.old[idx] = nil
	case err != nil:
		return err
	default:
		d.old[idx] = a.Encode()
	}
	return nil
}

// Put writes an account record.
func (d *Delta) Put(idx account.Index, a *account.Account) error {
	if err := d.remember(idx); err != nil {
		return err
	}
	d.accounts[idx] = a.Clone()
	return nil
}

// Create assigns the next index to addr and writes an empty account there.
// The caller must have checked that addr has no account.
func (d *Delta) Create(addr account.Address) (account.Index, *account.Account, error) {
	idx := account.Index(d.globals.Accounts)
	if d.globals.Accounts == ^uint32(0) {
		return 0, nil, errors.New("state tree is full: 2^32 accounts")
	}
	d.globals.Accounts++
	a := &account.Account{Address: addr}
	if err := d.Put(idx, a); err != nil {
		return 0, nil, err
	}
	d.addrs[addr] = idx
	delete(d.noAddr, addr)
	return idx, a, nil
}

// Ensure returns addr's account, creating it at the next index if it has
// none (its first credit).
func (d *Delta) Ensure(addr account.Address) (account.Index, *account.Account, error) {
	idx, ok, err := d.Lookup(addr)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return d.Create(addr)
	}
	a, err := d.Account(idx)
	return idx, a, err
}

// QueueAdd records that idx has unbonding released at height release. The
// key must be absent from the base, or deleted earlier in this delta (or
// added earlier in it: adding twice is one add); execution keeps this, as
// a release height is always later than the base's.
func (d *Delta) QueueAdd(release uint64, idx account.Index) {
	d.queueOp(state.QueueKey{Release: release, Index: idx}, true)
}

// QueueDel removes a queue entry. The key must be in the base, or added
// earlier in this delta (as Due returns it).
func (d *Delta) QueueDel(release uint64, idx account.Index) {
	d.queueOp(state.QueueKey{Release: release, Index: idx}, false)
}

func (d *Delta) queueOp(k state.QueueKey, add bool) {
	op, ok := d.queue[k]
	if !ok {
		op.first = add
	}
	op.last = add
	d.queue[k] = op
}

// Changeset returns what the delta changed, relative to its base, in
// canonical order. Records written back to their old value are left out.
func (d *Delta) Changeset() *state.Changeset {
	c := &state.Changeset{OldGlobals: d.old0, NewGlobals: d.globals}
	for _, idx := range slices.Sorted(maps.Keys(d.old)) {
		old := d.old[idx]
		var nw []byte
		if a := d.accounts[idx]; a != nil {
			nw = a.Encode()
		}
		if string(old) == string(nw) && (old == nil) == (nw == nil) {
			continue
		}
		c.Changes = append(c.Changes, state.Change{Index: idx, Old: old, New: nw})
	}
	for _, k := range slices.SortedFunc(maps.Keys(d.queue), state.CompareQueueKeys) {
		switch op := d.queue[k]; {
		case op.first != op.last:
			// Added then deleted, or deleted then added: the base's
			// value stands. Recording the last operation would make the
			// reverse changeset invent or drop a base entry.
		case op.last:
			c.QueueAdd = append(c.QueueAdd, k)
		default:
			c.QueueDel = append(c.QueueDel, k)
		}
	}
	return c
}

// Apply writes a stored changeset into the delta, moving its view along
// the block tree without re-executing (to validate a block on a fork). A
// delta moved with Apply is a view: execute on NewDelta(view), not on it.
func (d *Delta) Apply(c *state.Changeset) error {
	d.globals = c.NewGlobals
	for _, ch := range c.Changes {
		if ch.New == nil {
			if ch.Old != nil {
				a, err := account.Decode(ch.Old)
				if err != nil {
					return fmt.Errorf("account %d: %w", ch.Index, err)
				}
				delete(d.addrs, a.Address)
				d.noAddr[a.Address] = true
			}
			d.accounts[ch.Index] = nil
			continue
		}
		a, err := account.Decode(ch.New)
		if err != nil {
			return fmt.Errorf("account %d: %w", ch.Index, err)
		}
		if ch.Old == nil {
			d.addrs[a.Address] = ch.Index
			delete(d.noAddr, a.Address)
		}
		d.accounts[ch.Index] = a
	}
	for _, k := range c.QueueAdd {
		d.queueOp(k, true)
	}
	for _, k := range c.QueueDel {
		d.queueOp(k, false)
	}
	return nil
}
