package statedb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/state"
)

// Nested buckets of store.BucketState.
var (
	bucketAccounts = []byte("accounts")   // index u32 BE → account record
	bucketAddrs    = []byte("addrs")      // address → index u32 BE
	bucketQueue    = []byte("queue")      // release u64 BE | index u32 BE → empty
	bucketLedger   = []byte("ledger")     // keyGlobals → Globals record
	bucketVals     = []byte("validators") // index u32 BE of accounts registered as validators → empty
	keyGlobals     = []byte("globals")
)

// DB is the head state: account records in bbolt and the state tree in
// memory, rebuilt from the records at Open. Reads are safe for concurrent
// use with Commit.
type DB struct {
	st *store.DB

	mu      sync.RWMutex
	tree    *state.Tree
	globals account.Globals
	// gen counts commits: a tree overlay built at one generation may be
	// committed only at that generation.
	gen uint64
}

// Generation counts the commits since Open.
func (s *DB) Generation() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// Open loads the head state from st, creating the buckets on first use, and
// rebuilds the tree using up to workers goroutines (0: all CPUs).
func Open(st *store.DB, workers int) (*DB, error) {
	s := &DB{st: st}
	var leaves []hash.Digest
	err := st.Update(func(tx *store.Tx) error {
		root := tx.Bucket(store.BucketState)
		for _, name := range [][]byte{bucketAccounts, bucketAddrs, bucketQueue, bucketLedger, bucketVals} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if v := root.Bucket(bucketLedger).Get(keyGlobals); v != nil {
			g, err := account.DecodeGlobals(v)
			if err != nil {
				return fmt.Errorf("state: %s: globals: %w", st.Path(), err)
			}
			s.globals = g
		}
		if s.globals.Accounts == 0 {
			return nil
		}
		leaves = make([]hash.Digest, s.globals.Accounts)
		leaves[account.GlobalsIndex] = s.globals.Leaf()
		// Leaves are hashed in chunks through the 16-lane kernel on
		// workers goroutines: hashing them one by one was most of the
		// rebuild time.
		var (
			batch []*account.Account
			at    []uint32
		)
		flush := func() {
			for j, d := range state.LeafDigests(batch, workers) {
				leaves[at[j]] = d
			}
			batch, at = batch[:0], at[:0]
		}
		err := root.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			if len(k) != 4 {
				return fmt.Errorf("state: %s: account key of %d bytes", st.Path(), len(k))
			}
			i := binary.BigEndian.Uint32(k)
			if i >= s.globals.Accounts {
				return fmt.Errorf("state: %s: account %d beyond the %d assigned", st.Path(), i, s.globals.Accounts)
			}
			a, err := account.Decode(v)
			if err != nil {
				return fmt.Errorf("state: %s: account %d: %w", st.Path(), i, err)
			}
			batch, at = append(batch, a), append(at, i)
			if len(batch) == openBatch {
				flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		flush()
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.tree = state.NewTree(leaves, workers)
	return s, nil
}

// openBatch is how many account leaves Open hashes in one batch.
const openBatch = 16 * 1024

func idxKey(i account.Index) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }

// Root returns the state root of the head.
func (s *DB) Root() hash.Digest {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.globals.Accounts == 0 {
		return state.EmptyRoot()
	}
	return s.tree.Root()
}

// Globals implements Reader.
func (s *DB) Globals() account.Globals {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.globals
}

// Lookup implements Reader.
func (s *DB) Lookup(addr account.Address) (idx account.Index, ok bool, err error) {
	err = s.st.View(func(tx *store.Tx) error {
		v := tx.Bucket(store.BucketState).Bucket(bucketAddrs).Get(addr[:])
		if v == nil {
			return nil
		}
		if len(v) != 4 {
			return fmt.Errorf("state: index of %s is %d bytes", addr, len(v))
		}
		idx, ok = account.Index(binary.BigEndian.Uint32(v)), true
		return nil
	})
	return idx, ok, err
}

// Account implements Reader.
func (s *DB) Account(idx account.Index) (a *account.Account, err error) {
	err = s.st.View(func(tx *store.Tx) error {
		v := tx.Bucket(store.BucketState).Bucket(bucketAccounts).Get(idxKey(idx))
		if v == nil {
			return fmt.Errorf("%w: index %d", ErrNoAccount, idx)
		}
		a, err = account.Decode(v)
		if err != nil {
			return fmt.Errorf("state: account %d: %w", idx, err)
		}
		return nil
	})
	return a, err
}

// Due returns the accounts with unbonding entries released at height.
func (s *DB) Due(height uint64) ([]account.Index, error) {
	keys, err := s.QueueBetween(height, height)
	return indexes(keys), err
}

// indexes lists the accounts of queue keys of one release height, where
// each account has one key, in the keys' (index) order.
func indexes(keys []state.QueueKey) []account.Index {
	out := make([]account.Index, len(keys))
	for i, k := range keys {
		out[i] = k.Index
	}
	return out
}

// QueueBetween implements Reader.
func (s *DB) QueueBetween(from, to uint64) (out []state.QueueKey, err error) {
	if from > to {
		return nil, nil
	}
	err = s.st.View(func(tx *store.Tx) error {
		c := tx.Bucket(store.BucketState).Bucket(bucketQueue).Cursor()
		for k, _ := c.Seek(binary.BigEndian.AppendUint64(nil, from)); len(k) == 12; k, _ = c.Next() {
			r := binary.BigEndian.Uint64(k[:8])
			if r > to {
				break
			}
			out = append(out, state.QueueKey{Release: r, Index: account.Index(binary.BigEndian.Uint32(k[8:]))})
		}
		return nil
	})
	return out, err
}

// AccountAt is Lookup followed by Account.
func AccountAt(r Reader, addr account.Address) (account.Index, *account.Account, error) {
	idx, ok, err := r.Lookup(addr)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, fmt.Errorf("%w: %s", ErrNoAccount, addr)
	}
	a, err := r.Account(idx)
	return idx, a, err
}

// Tree returns the head tree, to build overlays on. Hold ReadLock while
// using it.
func (s *DB) Tree() *state.Tree { return s.tree }

// ReadLock locks the head against Commit; call the returned function to
// unlock.
func (s *DB) ReadLock() func() {
	s.mu.RLock()
	return s.mu.RUnlock
}

// Commit applies changesets in order to the head inside one bbolt
// transaction, together with extra (the chain's own writes), then updates
// the tree. If ov is not nil it must be an overlay on the head tree holding
// exactly these changesets' leaf updates; it is committed instead of
// recomputing them. Nothing changes if any step fails.
func (s *DB) Commit(extra func(*store.Tx) error, ov *state.Overlay, cs ...*state.Changeset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.globals
	err := s.st.Update(func(tx *store.Tx) error {
		root := tx.Bucket(store.BucketState)
		for _, c := range cs {
			if c.OldGlobals != g {
				return fmt.Errorf("state: changeset expects globals %+v, head has %+v", c.OldGlobals, g)
			}
			if err := write(root, c); err != nil {
				return err
			}
			g = c.NewGlobals
		}
		if extra != nil {
			return extra(tx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.globals = g
	s.gen++
	if ov != nil {
		if !ov.OnTree(s.tree) {
			return errors.New("state: overlay is not on the head tree") // programming error; tree rebuilt at restart
		}
		ov.Commit()
		return nil
	}
	var ups []state.LeafUpdate
	for _, c := range cs {
		u, err := c.LeafUpdates()
		if err != nil {
			return err
		}
		ups = append(ups, u...)
	}
	s.tree.Update(ups)
	return nil
}

func write(root *bolt.Bucket, c *state.Changeset) error {
	accts, addrs, queue, vals := root.Bucket(bucketAccounts), root.Bucket(bucketAddrs), root.Bucket(bucketQueue), root.Bucket(bucketVals)
	// New addresses are put in key order after the loop: bbolt splits
	// nodes only when the transaction commits, so random-order puts into
	// one node cost a memmove of the node each, quadratic in the number
	// of new accounts (a 1,000,000-account genesis took minutes).
	type newAddr struct {
		addr account.Address
		key  []byte
	}
	var created []newAddr
	for _, ch := range c.Changes {
		k := idxKey(ch.Index)
		if ch.New == nil {
			if err := vals.Delete(k); err != nil {
				return err
			}
			if ch.Old != nil {
				a, err := account.Decode(ch.Old)
				if err != nil {
					return fmt.Errorf("state: account %d: %w", ch.Index, err)
				}
				if err := addrs.Delete(a.Address[:]); err != nil {
					return err
				}
			}
			if err := accts.Delete(k); err != nil {
				return err
			}
			continue
		}
		if err := accts.Put(k, ch.New); err != nil {
			return err
		}
		a, err := account.Decode(ch.New)
		if err != nil {
			return fmt.Errorf("state: account %d: %w", ch.Index, err)
		}
		if ch.Old == nil {
			created = append(created, newAddr{a.Address, k})
		}
		if a.Validator != nil {
			err = vals.Put(k, []byte{})
		} else {
			err = vals.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	slices.SortFunc(created, func(x, y newAddr) int { return bytes.Compare(x.addr[:], y.addr[:]) })
	for _, n := range created {
		if err := addrs.Put(n.addr[:], n.key); err != nil {
			return err
		}
	}
	for _, q := range c.QueueAdd {
		if err := queue.Put(q.Bytes(), []byte{}); err != nil {
			return err
		}
	}
	for _, q := range c.QueueDel {
		if err := queue.Delete(q.Bytes()); err != nil {
			return err
		}
	}
	return root.Bucket(bucketLedger).Put(keyGlobals, c.NewGlobals.Encode())
}

// Validators returns the indices of accounts registered as validators at
// the head, in order.
func (s *DB) Validators() (out []account.Index, err error) {
	err = s.st.View(func(tx *store.Tx) error {
		return tx.Bucket(store.BucketState).Bucket(bucketVals).ForEach(func(k, _ []byte) error {
			if len(k) == 4 {
				out = append(out, account.Index(binary.BigEndian.Uint32(k)))
			}
			return nil
		})
	})
	return out, err
}
