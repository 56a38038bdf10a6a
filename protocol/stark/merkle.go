package stark

import (
	"github.com/trellis-chain/trellis/protocol/hash"
)

// merkleTree keeps every level: levels[0] are the leaf digests, the last level
// is the root. The number of leaves is a power of two.
type merkleTree struct {
	levels [][]hash.Digest
}

func buildTree(b Backend, leaves []hash.Digest) *merkleTree {
	t := &merkleTree{levels: [][]hash.Digest{leaves}}
	for cur := leaves; len(cur) > 1; {
		cur = b.CompressLevel(cur)
		t.levels = append(t.levels, cur)
	}
	return t
}

func (t *merkleTree) depth() int { return len(t.levels) - 1 }

// capHeight is the number of top levels replaced by a cap: the commitment is
// the 2^h nodes at height depth−h instead of the single root, and every path
// is h digests shorter. With ~30 queries per tree, h = 4 saves ~3 KB per tree.
func capHeight(logCap, depth int) int { return min(logCap, depth) }

// cap returns the 2^h nodes that form the commitment.
func (t *merkleTree) cap(logCap int) []hash.Digest {
	return t.levels[t.depth()-capHeight(logCap, t.depth())]
}

// path returns the siblings of leaf i from the bottom up to the cap.
func (t *merkleTree) path(i, logCap int) []hash.Digest {
	n := t.depth() - capHeight(logCap, t.depth())
	p := make([]hash.Digest, 0, n)
	for _, lvl := range t.levels[:n] {
		p = append(p, lvl[i^1])
		i >>= 1
	}
	return p
}

// verifyPath checks that leaf sits at index i under the cap.
func verifyPath(cp []hash.Digest, leaf hash.Digest, i int, path []hash.Digest) bool {
	cur := leaf
	for _, s := range path {
		if i&1 == 0 {
			cur = hash.Compress(cur, s)
		} else {
			cur = hash.Compress(s, cur)
		}
		i >>= 1
	}
	return i >= 0 && i < len(cp) && cur == cp[i]
}
