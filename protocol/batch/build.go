package batch

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/state"
)

// globalsInput returns the elements the globals leaf hashes (account.Globals.Leaf).
func globalsInput(g account.Globals) []koalabear.Element {
	e := make([]koalabear.Element, GlobalsLeafElements)
	e[0].SetUint64(account.LeafGlobals)
	s, b := account.Limbs(g.Supply), account.Limbs(g.Burned)
	copy(e[1:5], s[:])
	copy(e[5:9], b[:])
	e[9].SetUint64(uint64(g.Accounts & 0xffff))
	e[10].SetUint64(uint64(g.Accounts >> 16))
	return e
}

func accountInput(rec []byte) ([]koalabear.Element, error) {
	if rec == nil {
		return nil, nil
	}
	a, err := account.Decode(rec)
	if err != nil {
		return nil, err
	}
	e := a.LeafInput()
	return e[:], nil
}

// leafUpdates returns the updates of cs in batch order without siblings.
func leafUpdates(cs *state.Changeset) ([]Update, error) {
	if cs == nil {
		return nil, fmt.Errorf("%w: nil changeset", ErrWitness)
	}
	n := 1 + len(cs.Changes)
	if n > MaxUpdates {
		return nil, fmt.Errorf("%w: %d leaf updates, at most %d", ErrWitness, n, MaxUpdates)
	}
	ups := make([]Update, n)
	ups[0] = Update{Index: uint32(account.GlobalsIndex), Old: globalsInput(cs.OldGlobals), New: globalsInput(cs.NewGlobals)}
	for i, ch := range cs.Changes {
		if i > 0 && ch.Index <= cs.Changes[i-1].Index || ch.Index == account.GlobalsIndex {
			return nil, fmt.Errorf("%w: change %d: account index %d out of order", ErrWitness, i, ch.Index)
		}
		if ch.New == nil {
			return nil, fmt.Errorf("%w: change %d: account %d is deleted (not a committed block's changeset)", ErrWitness, i, ch.Index)
		}
	}
	// Decoding records and computing leaf inputs (address and stake-record
	// digests) is most of the cost: split it over the CPUs.
	errs := make([]error, len(cs.Changes))
	workers := 1
	if len(cs.Changes) >= 256 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(cs.Changes); i += workers {
				ch := &cs.Changes[i]
				old, err := accountInput(ch.Old)
				if err != nil {
					errs[i] = fmt.Errorf("%w: account %d old record: %w", ErrWitness, ch.Index, err)
					continue
				}
				nw, err := accountInput(ch.New)
				if err != nil {
					errs[i] = fmt.Errorf("%w: account %d new record: %w", ErrWitness, ch.Index, err)
					continue
				}
				ups[1+i] = Update{Index: uint32(ch.Index), Old: old, New: nw}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ups, nil
}

// leafDigests returns HashLeaf of every old (zero if absent) and new leaf
// input, hashing equal-length runs through the 16-lane kernel. A leaf that
// fills its last block (only in tests' loose mode) is hashed as the AIR
// does: from the IV of its kind's length over all its blocks.
func leafDigests(ups []Update) (old, nw []hash.Digest) {
	in := make([][]koalabear.Element, 0, 2*len(ups))
	for _, u := range ups {
		if u.Old == nil {
			in = append(in, u.New) // placeholder of the same length; replaced below
		} else {
			in = append(in, u.Old)
		}
	}
	for _, u := range ups {
		in = append(in, u.New)
	}
	workers := 0
	if len(in) < 256 {
		workers = 1
	}
	d := hash.HashMany(hash.TagLeaf, in, workers)
	for i, e := range in {
		if l := len(e); l != AccountLeafElements && l != GlobalsLeafElements {
			d[i] = paddedLeaf(i%len(ups) == 0, e)
		}
	}
	old, nw = d[:len(ups)], d[len(ups):]
	for i, u := range ups {
		if u.Old == nil {
			old[i] = hash.Digest{}
		}
	}
	return old, nw
}

// paddedLeaf hashes a full-block leaf with its kind's IV (tests only).
func paddedLeaf(globals bool, e []koalabear.Element) hash.Digest {
	c := hash.IV(hash.TagLeaf, AccountLeafElements)
	if globals {
		c = hash.IV(hash.TagLeaf, GlobalsLeafElements)
	}
	for b := 0; b+8 <= len(e); b += 8 {
		c = hash.Compress(c, hash.Digest(e[b:b+8]))
	}
	return c
}

// indexBlock is the batch hash's third block of an update.
func indexBlock(index uint32) hash.Digest {
	var b hash.Digest
	b[0].SetUint64(uint64(index & 0xffff))
	b[1].SetUint64(uint64(index >> 16))
	return b
}

// batchIV is the chaining value the batch hash of n updates starts from.
func batchIV(n int) hash.Digest { return hash.IV(TagBatch, 24*n) }

// batchHash is hash.HashWithTag(TagBatch, x) where x is, per update in
// order, old leaf digest (8) | new leaf digest (8) | index low 16 bits,
// index high 16 bits, 0 × 6. It also returns the chaining value before each
// update (the trace needs them).
func batchHash(ups []Update, old, nw []hash.Digest) (hash.Digest, []hash.Digest) {
	h := batchIV(len(ups))
	chain := make([]hash.Digest, len(ups))
	for i, u := range ups {
		chain[i] = h
		h = hash.Compress(h, old[i])
		h = hash.Compress(h, nw[i])
		h = hash.Compress(h, indexBlock(u.Index))
	}
	return h, chain
}

// HashChanges returns the batch hash of a committed block's changeset, the
// value Build puts in Public.BatchHash, from the records alone.
func HashChanges(cs *state.Changeset) (hash.Digest, error) {
	ups, err := leafUpdates(cs)
	if err != nil {
		return hash.Digest{}, err
	}
	old, nw := leafDigests(ups)
	h, _ := batchHash(ups, old, nw)
	return h, nil
}

// Build turns a committed block's changeset into the statement. ov is the
// state tree at the parent block; Build applies the updates to it one at a
// time (collecting each leaf's siblings just before its update), leaving it
// at the block's state. It does not check that the changeset's old records
// are the tree's leaves: Prove does (an error naming the update).
func Build(ov *state.Overlay, cs *state.Changeset) (Public, *Witness, error) {
	ups, err := leafUpdates(cs)
	if err != nil {
		return Public{}, nil, err
	}
	old, nw := leafDigests(ups)
	pub := Public{OldRoot: ov.Root(), Updates: uint32(len(ups))}
	for i := range ups {
		u := &ups[i]
		u.Siblings = ov.Proof(u.Index)
		ov.Update([]state.LeafUpdate{{Index: u.Index, Leaf: nw[i]}})
	}
	pub.NewRoot = ov.Root()
	pub.BatchHash, _ = batchHash(ups, old, nw)
	return pub, &Witness{Updates: ups}, nil
}
