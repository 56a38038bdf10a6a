package stark

import (
	"github.com/trellis-chain/trellis/core/hash"
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

func (t *merkleTree) root() hash.Digest { return t.levels[len(t.levels)-1][0] }

// path returns the siblings of leaf i from the bottom up.
func (t *merkleTree) path(i int) []hash.Digest {
	p := make([]hash.Digest, 0, len(t.levels)-1)
	for _, lvl := range t.levels[:len(t.levels)-1] {
		p = append(p, lvl[i^1])
		i >>= 1
	}
	return p
}

// verifyPath checks that leaf sits at index i under root.
func verifyPath(root, leaf hash.Digest, i int, path []hash.Digest) bool {
	cur := leaf
	for _, s := range path {
		if i&1 == 0 {
			cur = hash.Compress(cur, s)
		} else {
			cur = hash.Compress(s, cur)
		}
		i >>= 1
	}
	return i == 0 && cur == root
}
