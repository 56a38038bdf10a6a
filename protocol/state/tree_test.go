package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/state/statetest"
)

func randDigest(r *rand.Rand) hash.Digest {
	var d hash.Digest
	for i := range d {
		d[i].SetUint64(r.Uint64N(koalabear.Modulus().Uint64()))
	}
	return d
}

func randLeaves(r *rand.Rand, n int) []hash.Digest {
	out := make([]hash.Digest, n)
	for i := range out {
		if r.IntN(8) != 0 { // some leaves stay zero (absent)
			out[i] = randDigest(r)
		}
	}
	return out
}

func TestEmptyRoot(t *testing.T) {
	var e hash.Digest
	for l := 0; l <= Depth; l++ {
		if empty[l] != e {
			t.Fatalf("empty[%d] is not Compress iterated %d times from zero", l, l)
		}
		e = hash.Compress(e, e)
	}
	if EmptyRoot() != empty[Depth] {
		t.Fatal("EmptyRoot is not empty[Depth]")
	}
	for _, n := range []int{0, 1, 2, 3, 17} {
		if got := NewTree(make([]hash.Digest, n), 1).Root(); got != EmptyRoot() {
			t.Errorf("NewTree of %d zero leaves: root %s, want the empty root %s", n, got, EmptyRoot())
		}
	}
	if got := statetest.NaiveRoot(nil); got != EmptyRoot() {
		t.Fatalf("model of the empty tree gives %s", got)
	}
}

// TestEmptySubtreeRule: the siblings of a lone leaf are exactly the empty
// subtree roots, and a node right of the last leaf is empty[level].
func TestEmptySubtreeRule(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	leaf := randDigest(r)
	tr := NewTree([]hash.Digest{leaf}, 1)
	p := tr.Proof(0)
	for l := range Depth {
		if p[l] != empty[l] {
			t.Fatalf("sibling at level %d of a lone leaf is not the empty subtree root", l)
		}
	}
	tr = NewTree(randLeaves(r, 5), 1)
	for l := range Depth {
		if got := tr.node(l, 1<<20); got != empty[l] {
			t.Fatalf("node (%d, 2^20) right of the leaves is not empty[%d]", l, l)
		}
	}
	// A leaf at the last index: the path is all right children.
	ov := NewOverlay(NewTree(nil, 1))
	ov.Update([]LeafUpdate{{Index: ^uint32(0), Leaf: leaf}})
	if want := statetest.NaiveRoot(map[uint64]hash.Digest{uint64(^uint32(0)): leaf}); ov.Root() != want {
		t.Fatalf("leaf at index 2^32-1: overlay root %s, model %s", ov.Root(), want)
	}
}

// applyModel applies updates to the reference leaf slice (last write wins).
func applyModel(ref []hash.Digest, ups []LeafUpdate) []hash.Digest {
	for _, u := range ups {
		for len(ref) <= int(u.Index) {
			ref = append(ref, hash.Digest{})
		}
		ref[u.Index] = u.Leaf
	}
	return ref
}

func randUpdates(r *rand.Rand, ref []hash.Digest, k, beyond int) []LeafUpdate {
	ups := make([]LeafUpdate, k)
	for i := range ups {
		idx := uint32(r.IntN(len(ref) + beyond))
		var leaf hash.Digest
		switch r.IntN(6) {
		case 0: // clear back to zero
		case 1: // write the current value again
			if int(idx) < len(ref) {
				leaf = ref[idx]
			}
		default:
			leaf = randDigest(r)
		}
		if i > 0 && r.IntN(5) == 0 {
			idx = ups[r.IntN(i)].Index // a repeated index: the last write wins
		}
		ups[i] = LeafUpdate{Index: idx, Leaf: leaf}
	}
	return ups
}

// TestTreeOverlayNewTreeAgree: a Tree updated in place, an Overlay over an
// untouched base, a NewTree over the model's leaves and the scalar model all
// give one root after every batch, whatever the worker count.
func TestTreeOverlayNewTreeAgree(t *testing.T) {
	for _, tc := range []struct {
		name            string
		initial, rounds int
		batch, beyond   int
		workers         int
	}{
		{"empty start", 0, 8, 5, 9, 1},
		{"small", 7, 12, 6, 4, 1},
		{"batches above the parallel cutoff", 300, 6, 600, 50, 2},
		{"many workers", 1000, 4, 700, 3000, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.initial), uint64(tc.batch)))
			ref := randLeaves(r, tc.initial)
			tr := NewTree(ref, tc.workers)
			base := NewTree(ref, tc.workers)
			baseRoot := base.Root()
			ov := NewOverlay(base)
			ref = slices.Clone(ref)
			for round := range tc.rounds {
				ups := randUpdates(r, append(ref, hash.Digest{}), tc.batch, tc.beyond)
				ref = applyModel(ref, ups)
				tr.Update(ups)
				ov.Update(ups)
				want := statetest.NaiveRoot(statetest.Sparse(ref))
				if got := tr.Root(); got != want {
					t.Fatalf("round %d: Tree root %s, model %s", round, got, want)
				}
				if got := ov.Root(); got != want {
					t.Fatalf("round %d: Overlay root %s, model %s", round, got, want)
				}
				if got := NewTree(ref, tc.workers).Root(); got != want {
					t.Fatalf("round %d: NewTree root %s, model %s", round, got, want)
				}
				if base.Root() != baseRoot {
					t.Fatalf("round %d: the overlay changed its base before Commit", round)
				}
				for i := range ref {
					if tr.Leaf(uint32(i)) != ref[i] {
						t.Fatalf("round %d: Tree leaf %d differs from the model", round, i)
					}
				}
			}
			ov.Commit()
			if len(ov.changed) != 0 {
				t.Fatalf("overlay holds %d nodes after Commit", len(ov.changed))
			}
			if base.Root() != tr.Root() || ov.Root() != tr.Root() {
				t.Fatalf("after Commit the base root is %s, want %s", base.Root(), tr.Root())
			}
			for l := 0; l <= Depth; l++ {
				n := max(len(base.levels[l]), len(tr.levels[l]))
				for i := range n {
					if base.node(l, uint64(i)) != tr.node(l, uint64(i)) {
						t.Fatalf("after Commit node (%d, %d) of the base differs from the updated tree", l, i)
					}
				}
			}
			// The base keeps working as a tree after Commit.
			ups := randUpdates(r, ref, tc.batch, tc.beyond)
			ref = applyModel(ref, ups)
			base.Update(ups)
			if want := statetest.NaiveRoot(statetest.Sparse(ref)); base.Root() != want {
				t.Fatalf("update after Commit: root %s, model %s", base.Root(), want)
			}
		})
	}
}

// TestClearLeaf: clearing a leaf gives the root of the tree without it, and
// clearing every leaf gives the empty root.
func TestClearLeaf(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	leaves := randLeaves(r, 9)
	leaves[8] = randDigest(r)
	tr := NewTree(leaves, 1)
	tr.Update([]LeafUpdate{{Index: 8}})
	if want := NewTree(leaves[:8], 1).Root(); tr.Root() != want {
		t.Fatalf("clearing the last leaf: root %s, want the 8-leaf root %s", tr.Root(), want)
	}
	var all []LeafUpdate
	for i := range 9 {
		all = append(all, LeafUpdate{Index: uint32(i)})
	}
	tr.Update(all)
	if tr.Root() != EmptyRoot() {
		t.Fatalf("clearing every leaf: root %s, want the empty root", tr.Root())
	}
	ov := NewOverlay(NewTree(leaves, 1))
	ov.Update(all)
	if ov.Root() != EmptyRoot() {
		t.Fatalf("overlay clearing every leaf: root %s, want the empty root", ov.Root())
	}
}

// TestUpdateBeyondLength: an index past the held leaves grows the tree, the
// gap reading as empty leaves.
func TestUpdateBeyondLength(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	leaves := randLeaves(r, 3)
	tr := NewTree(leaves, 1)
	leaf := randDigest(r)
	tr.Update([]LeafUpdate{{Index: 100, Leaf: leaf}})
	if tr.Len() != 101 {
		t.Fatalf("Len %d after writing index 100, want 101", tr.Len())
	}
	padded := append(slices.Clone(leaves), make([]hash.Digest, 97)...)
	padded = append(padded, leaf)
	if want := NewTree(padded, 1).Root(); tr.Root() != want {
		t.Fatalf("root %s, want %s", tr.Root(), want)
	}
	for i := 3; i < 100; i++ {
		if tr.Leaf(uint32(i)) != (hash.Digest{}) {
			t.Fatalf("gap leaf %d is not zero", i)
		}
	}
}

// TestUpdateTouchesOnlyPath: one leaf update writes exactly the leaf and its
// 32 ancestors (32 compressions), and in a Tree no other node changes; k
// updates write each distinct ancestor once.
func TestUpdateTouchesOnlyPath(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	leaves := randLeaves(r, 1000)
	for _, idx := range []uint32{0, 1, 511, 998, 999, 1000, 5000} {
		t.Run(fmt.Sprint(idx), func(t *testing.T) {
			base := NewTree(leaves, 1)
			ov := NewOverlay(base)
			ov.Update([]LeafUpdate{{Index: idx, Leaf: randDigest(r)}})
			if len(ov.changed) != Depth+1 {
				t.Fatalf("overlay wrote %d nodes, want %d (the leaf and its %d ancestors)", len(ov.changed), Depth+1, Depth)
			}
			for k := range ov.changed {
				if uint64(k.index) != uint64(idx)>>k.level {
					t.Fatalf("overlay wrote node (%d, %d), off the path of leaf %d", k.level, k.index, idx)
				}
			}
			tr := NewTree(leaves, 1)
			before := snapshot(tr)
			tr.Update([]LeafUpdate{{Index: idx, Leaf: randDigest(r)}})
			after := snapshot(tr)
			for l := 0; l <= Depth; l++ {
				n := max(len(before[l]), len(after[l]))
				for i := range n {
					b, a := at(before[l], l, i), at(after[l], l, i)
					onPath := uint64(i) == uint64(idx)>>l
					if onPath && a == b {
						t.Fatalf("node (%d, %d) on the path did not change", l, i)
					}
					if !onPath && a != b {
						t.Fatalf("node (%d, %d) off the path changed", l, i)
					}
				}
			}
		})
	}
	t.Run("shared paths", func(t *testing.T) {
		ov := NewOverlay(NewTree(leaves, 2))
		var ups []LeafUpdate
		want := map[nodeKey]bool{}
		for range 150 {
			i := uint32(r.IntN(1200))
			ups = append(ups, LeafUpdate{Index: i, Leaf: randDigest(r)})
			for l := 0; l <= Depth; l++ {
				want[nodeKey{uint8(l), i >> l}] = true
			}
		}
		ov.Update(ups)
		if len(ov.changed) != len(want) {
			t.Fatalf("overlay wrote %d nodes, want %d distinct path nodes", len(ov.changed), len(want))
		}
	})
}

func snapshot(t *Tree) [Depth + 1][]hash.Digest {
	var s [Depth + 1][]hash.Digest
	for l := range s {
		s[l] = slices.Clone(t.levels[l])
	}
	return s
}

func at(level []hash.Digest, l, i int) hash.Digest {
	if i < len(level) {
		return level[i]
	}
	return empty[l]
}

// TestProofs: every leaf's proof verifies (from a Tree and from an
// Overlay); changing the leaf, any sibling or the index makes it fail with
// ErrProof.
func TestProofs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	leaves := randLeaves(r, 37)
	tr := NewTree(leaves, 1)
	root := tr.Root()
	ov := NewOverlay(NewTree(leaves[:20], 1))
	var ups []LeafUpdate
	for i := 20; i < 37; i++ {
		ups = append(ups, LeafUpdate{Index: uint32(i), Leaf: leaves[i]})
	}
	ov.Update(ups)
	if ov.Root() != root {
		t.Fatal("overlay root differs from the tree root")
	}
	for i := range uint32(40) { // 37..39 are absent leaves: zero proves too
		leaf := tr.Leaf(i)
		p := tr.Proof(i)
		if ov.Proof(i) != p {
			t.Fatalf("leaf %d: overlay proof differs from the tree's", i)
		}
		if err := VerifyProof(root, i, leaf, p); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		bad := leaf
		bad[i%8].Add(&bad[i%8], &koalabear.Element{1})
		if err := VerifyProof(root, i, bad, p); !errors.Is(err, ErrProof) {
			t.Fatalf("leaf %d: a changed leaf verifies (err %v)", i, err)
		}
		for l := range Depth {
			q := p
			q[l][0].Add(&q[l][0], &koalabear.Element{1})
			if err := VerifyProof(root, i, leaf, q); !errors.Is(err, ErrProof) {
				t.Fatalf("leaf %d: a changed sibling at level %d verifies (err %v)", i, l, err)
			}
			// Moving the index across any level hashes the path on the
			// other side, which changes the root unless the two subtrees
			// are equal (both empty, near the absent leaves).
			if tr.node(l, uint64(i)>>l) == p[l] {
				continue
			}
			if err := VerifyProof(root, i^(1<<l), leaf, p); !errors.Is(err, ErrProof) {
				t.Fatalf("leaf %d: proof verifies at index %d (err %v)", i, i^(1<<l), err)
			}
		}
	}
	err := VerifyProof(EmptyRoot(), 3, randDigest(r), tr.Proof(3))
	if !errors.Is(err, ErrProof) {
		t.Fatalf("proof against the wrong root verifies (err %v)", err)
	}
}

func TestModelDepth(t *testing.T) {
	if statetest.Depth != Depth {
		t.Fatalf("statetest.Depth = %d, state.Depth = %d", statetest.Depth, Depth)
	}
}

// A changeset that names an index beyond the account count is refused
// before any tree sees it: the dense head tree would allocate every leaf
// below it.
func TestChangesetIndexBounds(t *testing.T) {
	g := account.Globals{Accounts: 5}
	acct := (&account.Account{Address: account.SystemAddress("x")}).Encode()
	for _, idx := range []account.Index{account.GlobalsIndex, 5, 1 << 31, 1<<32 - 1} {
		cs := &Changeset{OldGlobals: g, NewGlobals: g, Changes: []Change{{Index: idx, New: acct}}}
		if _, err := cs.LeafUpdates(); !errors.Is(err, ErrChangeset) {
			t.Errorf("index %d: LeafUpdates = %v, want ErrChangeset", idx, err)
		}
		if _, err := DecodeChangeset(cs.Encode()); !errors.Is(err, ErrChangeset) {
			t.Errorf("index %d: DecodeChangeset = %v, want ErrChangeset", idx, err)
		}
		tr := NewTree(nil, 1)
		if err := NewOverlay(tr).Apply(cs); !errors.Is(err, ErrChangeset) || tr.Len() != 0 {
			t.Errorf("index %d: Apply = %v, tree holds %d leaves", idx, err, tr.Len())
		}
	}
	ok := &Changeset{OldGlobals: g, NewGlobals: account.Globals{Accounts: 6}, Changes: []Change{{Index: 5, New: acct}}}
	if _, err := ok.LeafUpdates(); err != nil {
		t.Fatalf("creating the next index: %v", err)
	}
}
