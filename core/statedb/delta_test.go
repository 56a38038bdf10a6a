package statedb

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/state/statetest"
)

// testDB opens a state over a fresh bbolt file; the returned function
// reopens it (closing the old handle) as a node restart does.
func testDB(t *testing.T) (*DB, func() *DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	var st *store.DB
	open := func() *DB {
		t.Helper()
		if st != nil {
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if st, err = store.Open(path, store.Options{NoSync: true}); err != nil {
			t.Fatal(err)
		}
		s, err := Open(st, 1)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	t.Cleanup(func() { st.Close() })
	return s, open
}

func addr(i int) account.Address { return account.SystemAddress(fmt.Sprintf("test/%d", i)) }

// genesisDelta writes a small genesis into a delta over s: the system
// accounts and n funded accounts, one of them a validator with unbonding
// entries queued at heights 5 and 7.
func genesisDelta(t *testing.T, s Reader, n int) *Delta {
	t.Helper()
	d := NewDelta(s)
	d.SetGlobals(account.Globals{Accounts: uint32(account.FirstUserIndex) - 2})
	for _, a := range []account.Address{account.TreasuryAddress, account.EscrowAddress} {
		if _, _, err := d.Create(a); err != nil {
			t.Fatal(err)
		}
	}
	var supply uint64
	for i := range n {
		idx, a, err := d.Create(addr(i))
		if err != nil {
			t.Fatal(err)
		}
		a.Balance = uint64(1000 * (i + 1))
		if i == 0 {
			a.Bonded = 500
			a.Validator = &account.Validator{Delegated: 0}
			a.Validator.BLSPublicKey[0] = 0xa0
			a.Unbonding = []account.Unbonding{{Validator: a.Address, Amount: 10, Release: 5}, {Validator: a.Address, Amount: 20, Release: 7}}
			d.QueueAdd(5, idx)
			d.QueueAdd(7, idx)
		}
		supply += a.Balance + a.Locked()
		mustPut(t, d, idx, a)
	}
	g := d.Globals()
	g.Supply = supply
	d.SetGlobals(g)
	return d
}

func mustPut(t *testing.T, d *Delta, idx account.Index, a *account.Account) {
	t.Helper()
	if err := d.Put(idx, a); err != nil {
		t.Fatal(err)
	}
}

func mustAccount(t *testing.T, r Reader, idx account.Index) *account.Account {
	t.Helper()
	a, err := r.Account(idx)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func commit(t *testing.T, s *DB, cs ...*state.Changeset) {
	t.Helper()
	if err := s.Commit(nil, nil, cs...); err != nil {
		t.Fatal(err)
	}
}

func TestDeltaCreateLookupPut(t *testing.T) {
	s, _ := testDB(t)
	d := genesisDelta(t, s, 3)
	if g := d.Globals(); g.Accounts != 6 {
		t.Fatalf("globals count %d accounts, want 6", g.Accounts)
	}
	for i, want := range []account.Index{3, 4, 5} {
		idx, ok, err := d.Lookup(addr(i))
		if err != nil || !ok || idx != want {
			t.Fatalf("Lookup(addr %d) = %d, %v, %v; want %d", i, idx, ok, err, want)
		}
		if _, ok, _ := s.Lookup(addr(i)); ok {
			t.Fatalf("addr %d reached the base before Commit", i)
		}
	}
	if idx, ok, _ := d.Lookup(account.EscrowAddress); !ok || idx != account.EscrowIndex {
		t.Fatalf("escrow at %d (%v), want %d", idx, ok, account.EscrowIndex)
	}
	if _, ok, err := d.Lookup(addr(99)); ok || err != nil {
		t.Fatalf("unknown address: ok %v, err %v", ok, err)
	}
	if _, err := d.Account(77); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("Account(77): %v, want ErrNoAccount", err)
	}
	if _, _, err := AccountAt(d, addr(99)); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("AccountAt(unknown): %v, want ErrNoAccount", err)
	}
	// Account returns a copy; Put stores a copy.
	a := mustAccount(t, d, 3)
	a.Balance = 1
	a.Unbonding[0].Amount = 999
	if b := mustAccount(t, d, 3); b.Balance != 1000 || b.Unbonding[0].Amount != 10 {
		t.Fatal("changing the result of Account changed the delta")
	}
	mustPut(t, d, 3, a)
	a.Balance = 2
	if b := mustAccount(t, d, 3); b.Balance != 1 {
		t.Fatalf("balance %d after Put, want 1 (Put must copy)", b.Balance)
	}
}

func TestDeltaCreateFull(t *testing.T) {
	s, _ := testDB(t)
	d := NewDelta(s)
	d.SetGlobals(account.Globals{Accounts: ^uint32(0) - 1})
	if idx, _, err := d.Create(addr(1)); err != nil || idx != account.Index(^uint32(0)-1) {
		t.Fatalf("Create at the last index: %d, %v", idx, err)
	}
	if _, _, err := d.Create(addr(2)); err == nil {
		t.Fatal("Create beyond 2^32-1 accounts succeeded")
	}
	if g := d.Globals(); g.Accounts != ^uint32(0) {
		t.Fatalf("a failed Create moved the account count to %d", g.Accounts)
	}
}

// TestChangesetCanonical: the same writes in any order give the same bytes;
// changes are sorted by index, queue keys sorted, and writes that end at the
// old value are left out.
func TestChangesetCanonical(t *testing.T) {
	s, _ := testDB(t)
	commit(t, s, genesisDelta(t, s, 10).Changeset())
	type op func(d *Delta)
	ops := []op{
		func(d *Delta) { a := mustAccount(t, d, 7); a.Balance += 5; mustPut(t, d, 7, a) },
		func(d *Delta) { a := mustAccount(t, d, 4); a.Nonce++; mustPut(t, d, 4, a) },
		func(d *Delta) { a := mustAccount(t, d, 9); mustPut(t, d, 9, a) }, // a no-op write
		func(d *Delta) { d.QueueAdd(12, 8) },
		func(d *Delta) { d.QueueAdd(9, 11) },
		func(d *Delta) { d.QueueAdd(9, 5) },
		func(d *Delta) { d.QueueDel(5, 3) },
		func(d *Delta) { d.QueueAdd(30, 6); d.QueueDel(30, 6) },
	}
	// Account 5 written and written back.
	back := func(d *Delta) {
		a := mustAccount(t, d, 5)
		a.Balance += 100
		mustPut(t, d, 5, a)
		a.Balance -= 100
		mustPut(t, d, 5, a)
	}
	var first []byte
	r := rand.New(rand.NewPCG(1, 1))
	for trial := range 20 {
		d := NewDelta(s)
		perm := r.Perm(len(ops))
		for _, i := range perm {
			ops[i](d)
		}
		back(d)
		c := d.Changeset()
		enc := c.Encode()
		if trial == 0 {
			first = enc
			var idxs []account.Index
			for _, ch := range c.Changes {
				idxs = append(idxs, ch.Index)
			}
			if !slices.Equal(idxs, []account.Index{4, 7}) {
				t.Fatalf("changed indices %v, want [4 7] (no-op writes left out)", idxs)
			}
			if want := []state.QueueKey{{Release: 9, Index: 5}, {Release: 9, Index: 11}, {Release: 12, Index: 8}}; !slices.Equal(c.QueueAdd, want) {
				t.Fatalf("QueueAdd %v, want %v", c.QueueAdd, want)
			}
			if want := []state.QueueKey{{Release: 5, Index: 3}}; !slices.Equal(c.QueueDel, want) {
				t.Fatalf("QueueDel %v, want %v", c.QueueDel, want)
			}
			if c.OldGlobals != c.NewGlobals || c.OldGlobals != s.Globals() {
				t.Fatalf("globals %+v → %+v, head %+v", c.OldGlobals, c.NewGlobals, s.Globals())
			}
			continue
		}
		if !bytes.Equal(enc, first) {
			t.Fatalf("order %v gives a different changeset encoding", perm)
		}
	}
	// A delta with nothing written has no changes.
	if c := NewDelta(s).Changeset(); len(c.Changes)+len(c.QueueAdd)+len(c.QueueDel) != 0 {
		t.Fatalf("empty delta: %+v", c)
	}
}

// TestQueueNetChanges: a queue key added and deleted within one delta (or
// deleted and added back) is no change, so reversing the changeset neither
// invents nor drops an entry of the base.
func TestQueueNetChanges(t *testing.T) {
	s, _ := testDB(t)
	commit(t, s, genesisDelta(t, s, 4).Changeset()) // queue: (5, 3), (7, 3)
	d := NewDelta(s)
	d.QueueAdd(9, 4) // added, then deleted: nothing
	d.QueueDel(9, 4)
	d.QueueDel(5, 3) // deleted, then added back: nothing
	d.QueueAdd(5, 3)
	d.QueueAdd(8, 5) // added twice: one add
	d.QueueAdd(8, 5)
	d.QueueDel(7, 3) // deleted twice: one delete
	d.QueueDel(7, 3)
	c := d.Changeset()
	if want := []state.QueueKey{{Release: 8, Index: 5}}; !slices.Equal(c.QueueAdd, want) {
		t.Fatalf("QueueAdd %v, want %v", c.QueueAdd, want)
	}
	if want := []state.QueueKey{{Release: 7, Index: 3}}; !slices.Equal(c.QueueDel, want) {
		t.Fatalf("QueueDel %v, want %v", c.QueueDel, want)
	}
	for h, want := range map[uint64][]account.Index{5: {3}, 7: {}, 8: {5}, 9: {}} {
		if got, _ := d.Due(h); !slices.Equal(got, want) {
			t.Fatalf("Due(%d) = %v, want %v", h, got, want)
		}
	}
	commit(t, s, c)
	commit(t, s, c.Reverse())
	for h, want := range map[uint64][]account.Index{5: {3}, 7: {3}, 8: nil, 9: nil} {
		if got, _ := s.Due(h); !slices.Equal(got, want) {
			t.Fatalf("after Commit and Commit(Reverse): Due(%d) = %v, want %v", h, got, want)
		}
	}
}

func TestDeltaDue(t *testing.T) {
	s, _ := testDB(t)
	d := genesisDelta(t, s, 4)
	d.QueueAdd(5, 6)
	commit(t, s, d.Changeset())
	if got, err := s.Due(5); err != nil || !slices.Equal(got, []account.Index{3, 6}) {
		t.Fatalf("DB.Due(5) = %v, %v; want [3 6]", got, err)
	}
	d = NewDelta(s)
	d.QueueDel(5, 3)
	d.QueueAdd(5, 4)
	d.QueueAdd(6, 5)
	for _, tc := range []struct {
		h    uint64
		want []account.Index
	}{{5, []account.Index{4, 6}}, {6, []account.Index{5}}, {7, []account.Index{3}}, {8, []account.Index{}}} {
		got, err := d.Due(tc.h)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Due(%d) = %v, %v; want %v", tc.h, got, err, tc.want)
		}
	}
}

// snapshotOf reads everything a Reader shows for the given addresses and
// indices, for before/after comparisons.
type view struct {
	Globals account.Globals
	Records map[account.Index][]byte
	Lookups map[account.Address]account.Index
	Due     map[uint64][]account.Index
}

func readView(t *testing.T, r Reader, maxIdx, maxAddr int) view {
	t.Helper()
	v := view{Globals: r.Globals(), Records: map[account.Index][]byte{}, Lookups: map[account.Address]account.Index{}, Due: map[uint64][]account.Index{}}
	for i := range account.Index(maxIdx) {
		a, err := r.Account(i)
		if errors.Is(err, ErrNoAccount) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		v.Records[i] = a.Encode()
	}
	for i := range maxAddr {
		if idx, ok, err := r.Lookup(addr(i)); err != nil {
			t.Fatal(err)
		} else if ok {
			v.Lookups[addr(i)] = idx
		}
	}
	all, err := r.QueueBetween(0, 40)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for h := range uint64(40) {
		keys, err := r.QueueBetween(h, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Release != h {
				t.Fatalf("QueueBetween(%d, %d) returned release %d", h, h, k.Release)
			}
			v.Due[h] = append(v.Due[h], k.Index)
		}
		n += len(keys)
	}
	if len(all) != n {
		t.Fatalf("QueueBetween(0, 40) returned %d keys, the single heights %d", len(all), n)
	}
	return v
}

// block runs a random block of writes on a delta over r: balance changes,
// new accounts, queue entries.
func randomBlock(t *testing.T, r Reader, rng *rand.Rand, next *int) *state.Changeset {
	t.Helper()
	d := NewDelta(r)
	n := int(d.Globals().Accounts)
	for range 1 + rng.IntN(8) {
		switch rng.IntN(4) {
		case 0:
			if _, _, err := d.Create(addr(*next)); err != nil {
				t.Fatal(err)
			}
			*next++
			n++
		case 1: // a key the base does not hold, as QueueAdd requires
			i := account.Index(int(account.FirstUserIndex) + rng.IntN(n-int(account.FirstUserIndex)))
			h := uint64(rng.IntN(40))
			if due, _ := d.Due(h); !slices.Contains(due, i) {
				d.QueueAdd(h, i)
			}
		case 2:
			due, _ := d.Due(5)
			for _, i := range due {
				d.QueueDel(5, i)
			}
		default:
			i := account.Index(1 + rng.IntN(n-1))
			a := mustAccount(t, d, i)
			a.Balance += uint64(rng.IntN(3))
			a.Nonce++
			mustPut(t, d, i, a)
		}
	}
	g := d.Globals()
	g.Burned += uint64(rng.IntN(2))
	d.SetGlobals(g)
	return d.Changeset()
}

func TestReverse(t *testing.T) {
	s, _ := testDB(t)
	commit(t, s, genesisDelta(t, s, 5).Changeset())
	rng := rand.New(rand.NewPCG(2, 3))
	next := 5
	for range 30 {
		c := randomBlock(t, s, rng, &next)
		if !bytes.Equal(c.Reverse().Reverse().Encode(), c.Encode()) {
			t.Fatal("Reverse is not an involution")
		}
		r := c.Reverse()
		if r.OldGlobals != c.NewGlobals || r.NewGlobals != c.OldGlobals || !slices.Equal(r.QueueAdd, c.QueueDel) || !slices.Equal(r.QueueDel, c.QueueAdd) {
			t.Fatalf("reverse %+v of %+v", r, c)
		}
		// Apply then Apply(Reverse) on a view restores the base exactly.
		before := readView(t, s, int(s.Globals().Accounts)+10, next+5)
		v := NewDelta(s)
		if err := v.Apply(c); err != nil {
			t.Fatal(err)
		}
		if v.Globals() != c.NewGlobals {
			t.Fatal("Apply did not set the new globals")
		}
		for _, ch := range c.Changes {
			a := mustAccount(t, v, ch.Index)
			if !bytes.Equal(a.Encode(), ch.New) {
				t.Fatalf("after Apply account %d is not the changeset's new record", ch.Index)
			}
		}
		if err := v.Apply(r); err != nil {
			t.Fatal(err)
		}
		if after := readView(t, v, int(s.Globals().Accounts)+10, next+5); !reflect.DeepEqual(before, after) {
			t.Fatalf("Apply then Apply(Reverse) does not restore the view\nbefore %+v\nafter  %+v", before, after)
		}
		// The same through the database: commit, then commit the reverse.
		root := s.Root()
		commit(t, s, c)
		commit(t, s, r)
		if s.Root() != root {
			t.Fatal("Commit then Commit(Reverse) does not restore the root")
		}
		if after := readView(t, s, int(s.Globals().Accounts)+10, next+5); !reflect.DeepEqual(before, after) {
			t.Fatalf("Commit then Commit(Reverse) does not restore the records\nbefore %+v\nafter  %+v", before, after)
		}
		commit(t, s, c) // move on
	}
}

// leavesOf recomputes the tree's leaves from the records, as Open does.
func rootOf(t *testing.T, r Reader) hash.Digest {
	t.Helper()
	g := r.Globals()
	leaves := make([]hash.Digest, g.Accounts)
	leaves[0] = g.Leaf()
	for i := 1; i < int(g.Accounts); i++ {
		a, err := r.Account(account.Index(i))
		if errors.Is(err, ErrNoAccount) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		leaves[i] = a.Leaf()
	}
	return statetest.NaiveRoot(statetest.Sparse(leaves))
}

func TestDBCommitReopen(t *testing.T) {
	s, reopen := testDB(t)
	if s.Root() != state.EmptyRoot() || s.Globals() != (account.Globals{}) {
		t.Fatal("a new state is not empty")
	}
	g := genesisDelta(t, s, 6)
	commit(t, s, g.Changeset())
	rng := rand.New(rand.NewPCG(4, 5))
	next := 6
	var blocks []*state.Changeset
	for range 10 {
		blocks = append(blocks, randomBlock(t, s, rng, &next))
		commit(t, s, blocks[len(blocks)-1])
	}
	// Several changesets in one Commit, with an overlay carrying their
	// leaf updates.
	b1 := randomBlock(t, s, rng, &next)
	v := NewDelta(s)
	if err := v.Apply(b1); err != nil {
		t.Fatal(err)
	}
	b2 := randomBlock(t, v, rng, &next)
	ov := state.NewOverlay(s.Tree())
	for _, c := range []*state.Changeset{b1, b2} {
		ups, err := c.LeafUpdates()
		if err != nil {
			t.Fatal(err)
		}
		ov.Update(ups)
	}
	wantRoot := ov.Root()
	if err := s.Commit(nil, ov, b1, b2); err != nil {
		t.Fatal(err)
	}
	if s.Root() != wantRoot || s.Root() != rootOf(t, s) {
		t.Fatalf("root %s after Commit, overlay said %s, records give %s", s.Root(), wantRoot, rootOf(t, s))
	}
	before := readView(t, s, int(s.Globals().Accounts)+2, next+2)
	vals, err := s.Validators()
	if err != nil || !slices.Equal(vals, []account.Index{3}) {
		t.Fatalf("Validators = %v, %v; want [3]", vals, err)
	}
	root := s.Root()
	s = reopen()
	if s.Root() != root {
		t.Fatalf("reopened root %s, want %s", s.Root(), root)
	}
	if after := readView(t, s, int(s.Globals().Accounts)+2, next+2); !reflect.DeepEqual(before, after) {
		t.Fatal("reopened records differ")
	}
	// Proofs from the rebuilt tree verify against the root.
	for i := range s.Globals().Accounts {
		leaf := s.Tree().Leaf(i)
		if err := state.VerifyProof(root, i, leaf, s.Tree().Proof(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommitMismatch: a changeset whose OldGlobals is not the head's fails
// and changes nothing, even when it comes after a good one in the call.
func TestCommitMismatch(t *testing.T) {
	s, reopen := testDB(t)
	commit(t, s, genesisDelta(t, s, 4).Changeset())
	rng := rand.New(rand.NewPCG(6, 7))
	next := 4
	good := randomBlock(t, s, rng, &next)
	for good.NewGlobals == good.OldGlobals {
		// The head's globals are Commit's only guard against a stale or
		// repeated changeset, so this test needs a block that moves them.
		good = randomBlock(t, s, rng, &next)
	}
	stale := *good
	stale.OldGlobals.Burned += 1000
	root, glob := s.Root(), s.Globals()
	before := readView(t, s, 20, next+2)
	extraRan := false
	extra := func(*store.Tx) error { extraRan = true; return nil }
	for name, cs := range map[string][]*state.Changeset{
		"alone":            {&stale},
		"after a good one": {good, &stale},
		"the same twice":   {good, good},
	} {
		err := s.Commit(extra, nil, cs...)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("changeset expects globals")) {
			t.Fatalf("%s: Commit = %v, want a globals mismatch", name, err)
		}
		if extraRan {
			t.Fatalf("%s: extra ran although the commit failed", name)
		}
		if s.Root() != root || s.Globals() != glob {
			t.Fatalf("%s: a failed Commit moved the head", name)
		}
		if after := readView(t, s, 20, next+2); !reflect.DeepEqual(before, after) {
			t.Fatalf("%s: a failed Commit changed records", name)
		}
	}
	// A failing extra rolls back the records too.
	errExtra := errors.New("chain write failed")
	if err := s.Commit(func(*store.Tx) error { return errExtra }, nil, good); !errors.Is(err, errExtra) {
		t.Fatalf("Commit with failing extra = %v", err)
	}
	if s.Root() != root || s.Globals() != glob {
		t.Fatal("a Commit whose extra failed moved the head")
	}
	s = reopen()
	if s.Root() != root {
		t.Fatal("a failed Commit reached the file")
	}
	if after := readView(t, s, 20, next+2); !reflect.DeepEqual(before, after) {
		t.Fatal("a failed Commit changed records in the file")
	}
}

func TestLeafUpdates(t *testing.T) {
	s, _ := testDB(t)
	c := genesisDelta(t, s, 3).Changeset()
	ups, err := c.LeafUpdates()
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != len(c.Changes)+1 || ups[0].Index != uint32(account.GlobalsIndex) || ups[0].Leaf != c.NewGlobals.Leaf() {
		t.Fatalf("%d updates for %d changes; the first %+v", len(ups), len(c.Changes), ups[0])
	}
	for i, ch := range c.Changes {
		a, _ := account.Decode(ch.New)
		if ups[i+1].Index != uint32(ch.Index) || ups[i+1].Leaf != a.Leaf() {
			t.Fatalf("update %d does not set account %d's leaf", i+1, ch.Index)
		}
	}
	// A reverted creation clears the leaf.
	r, err := c.Reverse().LeafUpdates()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range r[1:] {
		if u.Leaf != (hash.Digest{}) {
			t.Fatalf("reverting a creation sets leaf %d to %s, want zero", u.Index, u.Leaf)
		}
	}
	bad := &state.Changeset{NewGlobals: account.Globals{Accounts: 5}, Changes: []state.Change{{Index: 4, New: []byte{9}}}}
	if _, err := bad.LeafUpdates(); !errors.Is(err, account.ErrRecord) {
		t.Fatalf("LeafUpdates of a bad record: %v", err)
	}
}

// TestBatchedLeaves: LeafUpdates and Open hash leaves in batches through
// the 16-lane kernel; the leaves must be the scalar Account.Leaf, for
// staked accounts (with an extra digest) and plain ones, whatever the
// batch boundaries.
func TestBatchedLeaves(t *testing.T) {
	s, reopen := testDB(t)
	n := openBatch + 1234
	d := genesisDelta(t, s, n)
	for i := 3; i < n; i += 97 { // scattered staked accounts
		idx := account.Index(int(account.FirstUserIndex) + i)
		a := mustAccount(t, d, idx)
		a.AddDelegation(addr(0), 1)
		a.Balance--
		mustPut(t, d, idx, a)
	}
	c := d.Changeset()
	ups, err := c.LeafUpdates()
	if err != nil {
		t.Fatal(err)
	}
	for i, ch := range c.Changes {
		if a := mustDecode(t, ch.New); ups[i+1].Index != uint32(ch.Index) || ups[i+1].Leaf != a.Leaf() {
			t.Fatalf("batched leaf of account %d differs from Account.Leaf", ch.Index)
		}
	}
	commit(t, s, c)
	root := s.Root()
	if want := rootOf(t, s); root != want {
		t.Fatalf("root %s, scalar model %s", root, want)
	}
	if s = reopen(); s.Root() != root {
		t.Fatalf("Open rebuilt root %s over %d accounts, want %s", s.Root(), n, root)
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
