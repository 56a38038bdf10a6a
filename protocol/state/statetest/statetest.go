// Package statetest holds an independent model of the state tree for
// tests of the packages that build on it: the root computed one node at a
// time from a sparse map, sharing no code with protocol/state.
package statetest

import "github.com/trellis-chain/trellis/protocol/hash"

// Depth is the tree depth the model assumes; protocol/state's tests check
// it equals state.Depth.
const Depth = 32

// NaiveRoot computes the root from a sparse map of leaves with the scalar
// Compress, one node at a time: an independent model of the tree (missing
// nodes are the empty-subtree digests, computed here by iteration).
func NaiveRoot(leaves map[uint64]hash.Digest) hash.Digest {
	var emp hash.Digest
	cur := leaves
	for range Depth {
		next := make(map[uint64]hash.Digest)
		for i := range cur {
			p := i >> 1
			if _, done := next[p]; done {
				continue
			}
			l, ok := cur[2*p]
			if !ok {
				l = emp
			}
			r, ok := cur[2*p+1]
			if !ok {
				r = emp
			}
			next[p] = hash.Compress(l, r)
		}
		cur = next
		emp = hash.Compress(emp, emp)
	}
	if d, ok := cur[0]; ok {
		return d
	}
	return emp
}

// Sparse maps the non-zero leaves of a dense slice by index.
func Sparse(leaves []hash.Digest) map[uint64]hash.Digest {
	m := make(map[uint64]hash.Digest)
	for i, l := range leaves {
		if l != (hash.Digest{}) {
			m[uint64(i)] = l
		}
	}
	return m
}
