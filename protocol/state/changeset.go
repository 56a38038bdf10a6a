package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
)

// Change is one account record before and after a block; a nil Old means
// the block created the account, a nil New never happens for accounts
// (they are not deleted) but is how a reverted creation reads.
type Change struct {
	Index account.Index
	Old   []byte // encoded record before, nil if absent
	New   []byte // encoded record after
}

// QueueKey is an unbonding queue entry: the account has unbonding entries
// released at Release.
type QueueKey struct {
	Release uint64
	Index   account.Index
}

// Changeset is everything one block changed in state, enough to apply the
// block forward and to revert it exactly. It is stored with every committed
// block, so the head can move to any block of the tree without re-execution.
type Changeset struct {
	OldGlobals account.Globals
	NewGlobals account.Globals
	Changes    []Change   // sorted by index
	QueueAdd   []QueueKey // sorted
	QueueDel   []QueueKey // sorted
}

// ErrChangeset reports a malformed stored changeset.
var ErrChangeset = errors.New("malformed changeset")

const changesetVersion = 1

// Encode returns the canonical encoding.
func (c *Changeset) Encode() []byte {
	b := []byte{changesetVersion}
	b = append(b, c.OldGlobals.Encode()...)
	b = append(b, c.NewGlobals.Encode()...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Changes)))
	for _, ch := range c.Changes {
		b = binary.BigEndian.AppendUint32(b, uint32(ch.Index))
		b = appendBytes(b, ch.Old)
		b = appendBytes(b, ch.New)
	}
	for _, q := range [][]QueueKey{c.QueueAdd, c.QueueDel} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(q)))
		for _, k := range q {
			b = append(b, k.Bytes()...)
		}
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.BigEndian.AppendUint32(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(v))+1)
	return append(b, v...)
}

func (k QueueKey) Bytes() []byte {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], k.Release)
	binary.BigEndian.PutUint32(b[8:], uint32(k.Index))
	return b[:]
}

func queueKeyFrom(b []byte) QueueKey {
	return QueueKey{Release: binary.BigEndian.Uint64(b), Index: account.Index(binary.BigEndian.Uint32(b[8:]))}
}

func CompareQueueKeys(a, b QueueKey) int {
	if a.Release != b.Release {
		if a.Release < b.Release {
			return -1
		}
		return 1
	}
	return cmpU32(uint32(a.Index), uint32(b.Index))
}

// DecodeChangeset parses an encoded changeset.
func DecodeChangeset(b []byte) (*Changeset, error) {
	fail := func(what string) (*Changeset, error) {
		return nil, fmt.Errorf("%w: %s", ErrChangeset, what)
	}
	if len(b) < 1+2*account.GlobalsSize+4 || b[0] != changesetVersion {
		return fail("bad header")
	}
	c := &Changeset{}
	var err error
	if c.OldGlobals, err = account.DecodeGlobals(b[1 : 1+account.GlobalsSize]); err != nil {
		return fail(err.Error())
	}
	if c.NewGlobals, err = account.DecodeGlobals(b[1+account.GlobalsSize : 1+2*account.GlobalsSize]); err != nil {
		return fail(err.Error())
	}
	p := b[1+2*account.GlobalsSize:]
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	if uint64(n) > uint64(len(p))/12 {
		return fail("change count exceeds the data")
	}
	c.Changes = make([]Change, n)
	readBytes := func() ([]byte, bool) {
		if len(p) < 4 {
			return nil, false
		}
		l := binary.BigEndian.Uint32(p)
		p = p[4:]
		if l == 0 {
			return nil, true
		}
		if uint64(l-1) > uint64(len(p)) {
			return nil, false
		}
		v := slices.Clone(p[:l-1])
		if v == nil {
			v = []byte{}
		}
		p = p[l-1:]
		return v, true
	}
	for i := range c.Changes {
		if len(p) < 4 {
			return fail("truncated change")
		}
		c.Changes[i].Index = account.Index(binary.BigEndian.Uint32(p))
		p = p[4:]
		var ok1, ok2 bool
		c.Changes[i].Old, ok1 = readBytes()
		c.Changes[i].New, ok2 = readBytes()
		if !ok1 || !ok2 {
			return fail("truncated record")
		}
	}
	for _, q := range []*[]QueueKey{&c.QueueAdd, &c.QueueDel} {
		if len(p) < 4 {
			return fail("truncated queue")
		}
		m := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint64(m)*12 > uint64(len(p)) {
			return fail("queue count exceeds the data")
		}
		if m > 0 {
			*q = make([]QueueKey, m)
			for i := range *q {
				(*q)[i] = queueKeyFrom(p[12*i:])
			}
		}
		p = p[12*m:]
	}
	if len(p) != 0 {
		return fail(fmt.Sprintf("%d trailing bytes", len(p)))
	}
	if err := c.CheckIndexes(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reverse returns the changeset that undoes c.
func (c *Changeset) Reverse() *Changeset {
	r := &Changeset{OldGlobals: c.NewGlobals, NewGlobals: c.OldGlobals, QueueAdd: c.QueueDel, QueueDel: c.QueueAdd}
	r.Changes = make([]Change, len(c.Changes))
	for i, ch := range c.Changes {
		r.Changes[i] = Change{Index: ch.Index, Old: ch.New, New: ch.Old}
	}
	return r
}

// CheckIndexes refuses a change outside the assigned accounts: the globals
// leaf (it changes through the globals), or an index at or beyond the
// account count before and after. Indices are assigned densely and the
// head tree is held as dense slices, so one such index would make the tree
// allocate for every leaf below it (gigabytes for an index near 2^32).
func (c *Changeset) CheckIndexes() error {
	limit := max(c.OldGlobals.Accounts, c.NewGlobals.Accounts)
	for _, ch := range c.Changes {
		if ch.Index == account.GlobalsIndex || uint32(ch.Index) >= limit {
			return fmt.Errorf("%w: change of account %d, outside the %d assigned (index 0 is the globals)", ErrChangeset, ch.Index, limit)
		}
	}
	return nil
}

// LeafUpdates returns the tree updates that apply c: one per changed
// account and the globals leaf. The account leaves are hashed in batches
// through the 16-lane kernel, on all CPUs for large changesets. A change
// outside the assigned indices is refused (CheckIndexes).
func (c *Changeset) LeafUpdates() ([]LeafUpdate, error) {
	if err := c.CheckIndexes(); err != nil {
		return nil, err
	}
	ups := make([]LeafUpdate, 0, len(c.Changes)+1)
	ups = append(ups, LeafUpdate{Index: uint32(account.GlobalsIndex), Leaf: c.NewGlobals.Leaf()})
	accts := make([]*account.Account, 0, len(c.Changes))
	for _, ch := range c.Changes {
		if ch.New == nil {
			ups = append(ups, LeafUpdate{Index: uint32(ch.Index)}) // cleared
			continue
		}
		a, err := account.Decode(ch.New)
		if err != nil {
			return nil, fmt.Errorf("account %d: %w", ch.Index, err)
		}
		accts = append(accts, a)
	}
	digests := LeafDigests(accts, 0)
	k := 0
	for _, ch := range c.Changes {
		if ch.New != nil {
			ups = append(ups, LeafUpdate{Index: uint32(ch.Index), Leaf: digests[k]})
			k++
		}
	}
	return ups, nil
}

// LeafDigests returns accts[i].Leaf() for every i, hashing the leaf inputs
// with hash.HashMany (the 16-lane kernel, about 4× the scalar rate on one
// core) on up to workers goroutines (0: all CPUs).
func LeafDigests(accts []*account.Account, workers int) []hash.Digest {
	if len(accts) < 16 {
		out := make([]hash.Digest, len(accts))
		for i, a := range accts {
			out[i] = a.Leaf()
		}
		return out
	}
	flat := make([]koalabear.Element, len(accts)*account.LeafElements)
	inputs := make([][]koalabear.Element, len(accts))
	for i, a := range accts {
		in := flat[i*account.LeafElements : (i+1)*account.LeafElements : (i+1)*account.LeafElements]
		e := a.LeafInput()
		copy(in, e[:])
		inputs[i] = in
	}
	return hash.HashMany(hash.TagLeaf, inputs, workers)
}
