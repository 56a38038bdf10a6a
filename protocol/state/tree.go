package state

import (
	"fmt"
	"slices"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Depth is the height of the state tree: leaves are addressed by a 32-bit
// account index.
const Depth = 32

// empty[l] is the root of an empty subtree of height l: empty[0] is the zero
// digest and empty[l+1] = Compress(empty[l], empty[l]).
var empty = func() (e [Depth + 1]hash.Digest) {
	for l := 1; l <= Depth; l++ {
		e[l] = hash.Compress(e[l-1], e[l-1])
	}
	return e
}()

// EmptyRoot returns the root of the empty tree.
func EmptyRoot() hash.Digest { return empty[Depth] }

// LeafUpdate sets the leaf at Index to Leaf (the zero digest clears it).
type LeafUpdate struct {
	Index uint32
	Leaf  hash.Digest
}

// nodes is what the update pass reads and writes: a Tree or an Overlay.
type nodes interface {
	node(level int, i uint64) hash.Digest
	set(level int, i uint64, d hash.Digest)
}

// Tree is the state tree of the head held in memory: because indices are
// assigned in order, the leaves are dense and each level is a slice
// (2·N digests for N accounts, 64 MiB for a million). Nodes right of the
// last leaf are the empty-subtree digests.
type Tree struct {
	levels  [Depth + 1][]hash.Digest
	workers int
}

// NewTree builds the tree over leaves 0..len(leaves)-1 using up to workers
// goroutines (0: all CPUs).
func NewTree(leaves []hash.Digest, workers int) *Tree {
	t := &Tree{workers: workers}
	t.levels[0] = slices.Clone(leaves)
	for l := 0; l < Depth; l++ {
		in := t.levels[l]
		if len(in)%2 == 1 {
			in = append(in[:len(in):len(in)], empty[l])
		}
		t.levels[l+1] = hash.CompressLevel(in, workers)
	}
	return t
}

// Len returns the number of leaf slots held (assigned indices).
func (t *Tree) Len() int { return len(t.levels[0]) }

func (t *Tree) node(l int, i uint64) hash.Digest {
	if i < uint64(len(t.levels[l])) {
		return t.levels[l][i]
	}
	return empty[l]
}

func (t *Tree) set(l int, i uint64, d hash.Digest) {
	lv := t.levels[l]
	for uint64(len(lv)) <= i {
		lv = append(lv, empty[l])
	}
	lv[i] = d
	t.levels[l] = lv
}

// Root returns the root digest.
func (t *Tree) Root() hash.Digest { return t.node(Depth, 0) }

// Leaf returns the leaf at index i.
func (t *Tree) Leaf(i uint32) hash.Digest { return t.node(0, uint64(i)) }

// Update applies a block's leaf updates in one pass: each level's changed
// nodes are recomputed once, in parallel, so paths shared by several
// updates are hashed once.
func (t *Tree) Update(ups []LeafUpdate) { update(t, ups, t.workers) }

// Proof returns the Depth sibling digests of leaf i, bottom first.
func (t *Tree) Proof(i uint32) [Depth]hash.Digest { return proof(t, i) }

// Overlay is a copy-on-write view over a Tree: updates land in a map and the
// base is untouched until Commit. Blocks are built and validated in one.
type Overlay struct {
	base    *Tree
	changed map[nodeKey]hash.Digest
	workers int
}

type nodeKey struct {
	level uint8
	index uint32
}

// NewOverlay returns an empty overlay over base.
func NewOverlay(base *Tree) *Overlay {
	return &Overlay{base: base, changed: make(map[nodeKey]hash.Digest), workers: base.workers}
}

func (o *Overlay) node(l int, i uint64) hash.Digest {
	if d, ok := o.changed[nodeKey{uint8(l), uint32(i)}]; ok {
		return d
	}
	return o.base.node(l, i)
}

func (o *Overlay) set(l int, i uint64, d hash.Digest) { o.changed[nodeKey{uint8(l), uint32(i)}] = d }

// Update applies leaf updates to the overlay.
func (o *Overlay) Update(ups []LeafUpdate) { update(o, ups, o.workers) }

// Apply applies a changeset's leaf updates to the overlay.
func (o *Overlay) Apply(c *Changeset) error {
	ups, err := c.LeafUpdates()
	if err != nil {
		return err
	}
	o.Update(ups)
	return nil
}

// Root returns the overlay's root.
func (o *Overlay) Root() hash.Digest { return o.node(Depth, 0) }

// Proof returns the sibling digests of leaf i in the overlay.
func (o *Overlay) Proof(i uint32) [Depth]hash.Digest { return proof(o, i) }

// Commit writes the overlay's nodes into its base. The base must not have
// changed since the overlay was made.
func (o *Overlay) Commit() {
	for k, d := range o.changed {
		o.base.set(int(k.level), uint64(k.index), d)
	}
	o.changed = make(map[nodeKey]hash.Digest)
}

// scalarBelow is the level size under which update compresses one pair at
// a time instead of through the 16-lane kernel.
const scalarBelow = 8

// update is the one-pass batch update shared by Tree and Overlay.
func update(n nodes, ups []LeafUpdate, workers int) {
	if len(ups) == 0 {
		return
	}
	ups = slices.Clone(ups)
	// Stable sort and keep the last write per index.
	slices.SortStableFunc(ups, func(a, b LeafUpdate) int { return cmpU32(a.Index, b.Index) })
	dirty := make([]uint64, 0, len(ups))
	for i, u := range ups {
		if i+1 < len(ups) && ups[i+1].Index == u.Index {
			continue
		}
		n.set(0, uint64(u.Index), u.Leaf)
		dirty = append(dirty, uint64(u.Index))
	}
	lefts := make([]hash.Digest, 0, len(dirty))
	rights := make([]hash.Digest, 0, len(dirty))
	for l := 0; l < Depth; l++ {
		parents := dirty[:0]
		for _, i := range dirty {
			if p := i >> 1; len(parents) == 0 || parents[len(parents)-1] != p {
				parents = append(parents, p)
			}
		}
		lefts, rights = lefts[:0], rights[:0]
		for _, p := range parents {
			lefts = append(lefts, n.node(l, 2*p))
			rights = append(rights, n.node(l, 2*p+1))
		}
		if len(parents) < scalarBelow {
			// The 16-lane kernel costs about as much as 16 compressions
			// whatever the number of lanes in use; a short level is
			// cheaper one compression at a time.
			for k, p := range parents {
				n.set(l+1, p, hash.Compress(lefts[k], rights[k]))
			}
		} else {
			w := workers
			if len(parents) < 256 {
				w = 1 // goroutines cost more than a few compressions
			}
			out := hash.CompressMany(lefts, rights, w)
			for k, p := range parents {
				n.set(l+1, p, out[k])
			}
		}
		dirty = parents
	}
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func proof(n nodes, i uint32) (p [Depth]hash.Digest) {
	idx := uint64(i)
	for l := range Depth {
		p[l] = n.node(l, idx^1)
		idx >>= 1
	}
	return p
}

// ErrProof reports an inclusion proof that does not match a root.
var ErrProof = fmt.Errorf("inclusion proof does not match the root")

// RootFromProof recomputes the root from a leaf, its index and siblings.
func RootFromProof(i uint32, leaf hash.Digest, siblings [Depth]hash.Digest) hash.Digest {
	d := leaf
	idx := i
	for l := range Depth {
		if idx&1 == 0 {
			d = hash.Compress(d, siblings[l])
		} else {
			d = hash.Compress(siblings[l], d)
		}
		idx >>= 1
	}
	return d
}

// VerifyProof checks that leaf sits at index i under root.
func VerifyProof(root hash.Digest, i uint32, leaf hash.Digest, siblings [Depth]hash.Digest) error {
	if got := RootFromProof(i, leaf, siblings); got != root {
		return fmt.Errorf("%w: leaf %d gives root %s, want %s", ErrProof, i, got, root)
	}
	return nil
}

// OnTree reports whether o was made on t, so a store can refuse to commit
// an overlay built on another tree.
func (o *Overlay) OnTree(t *Tree) bool { return o.base == t }
