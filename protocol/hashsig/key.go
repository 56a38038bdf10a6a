package hashsig

import (
	"fmt"
	"slices"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// SeedSize is the length of a key's secret seed.
const SeedSize = 32

// PrivateKey holds a key's secret digest and its whole Merkle tree (the
// tree makes each signature's path a lookup: 2^(h+1) digests, 4 MiB at
// h = 16).
type PrivateKey struct {
	pub    PublicKey
	secret hash.Digest
	levels [][]hash.Digest // levels[0]: the 2^h leaves; levels[h]: the root
}

// leafBatch is how many one-time keys NewKey derives per pass through the
// 16-lane compression kernel.
const leafBatch = 256

// NewKey derives the key of seed with 2^logLifetime one-time keys. It
// computes every one-time public key (about 580·2^h compressions: ~1 s
// for h = 16 on two cores), batched through hash.CompressMany on workers
// goroutines (0: all CPUs). The same seed and lifetime always give the
// same key.
func NewKey(seed [SeedSize]byte, logLifetime, workers int) (*PrivateKey, error) {
	if err := checkLifetime(logLifetime); err != nil {
		return nil, err
	}
	k := &PrivateKey{secret: secretOf(seed)}
	k.pub = PublicKey{LogLifetime: logLifetime, Param: hash.HashWithTag(hash.TagSigParam, k.secret[:])}
	n := 1 << logLifetime
	leaves := make([]hash.Digest, n)
	for lo := 0; lo < n; lo += leafBatch {
		hi := min(n, lo+leafBatch)
		copy(leaves[lo:hi], k.leaves(uint32(lo), hi-lo, workers))
	}
	k.levels = [][]hash.Digest{leaves}
	for len(k.levels[len(k.levels)-1]) > 1 {
		k.levels = append(k.levels, hash.CompressLevel(k.levels[len(k.levels)-1], workers))
	}
	k.pub.Root = k.levels[logLifetime][0]
	return k, nil
}

// secretOf is the key's secret digest: the seed as 16 sixteen-bit elements,
// hashed.
func secretOf(seed [SeedSize]byte) hash.Digest {
	in := make([]fr.Element, SeedSize/2)
	for i := range in {
		in[i].SetUint64(uint64(seed[2*i]) | uint64(seed[2*i+1])<<8)
	}
	return hash.HashWithTag(hash.TagSigSeed, in)
}

// leaves computes the one-time public keys (leaves) at indices lo..lo+n-1,
// every chain of them a step at a time through the batched kernel.
func (k *PrivateKey) leaves(lo uint32, n, workers int) []hash.Digest {
	left := make([]hash.Digest, n*Chains)
	right := make([]hash.Digest, n*Chains)
	for b := range n {
		for i := range Chains {
			left[b*Chains+i] = k.secret
			right[b*Chains+i] = secretBlock(lo+uint32(b), i)
		}
	}
	cur := hash.CompressMany(left, right, workers)
	for j := range ChainLen - 1 {
		for b := range n {
			for i := range Chains {
				right[b*Chains+i] = tweak(k.pub.Param, lo+uint32(b), i, j)
			}
		}
		cur = hash.CompressMany(cur, right, workers)
	}
	inputs := make([][]fr.Element, n)
	for b := range inputs {
		inputs[b] = leafInput(k.pub.Param, lo+uint32(b), cur[b*Chains:(b+1)*Chains])
	}
	return hash.HashMany(hash.TagSigLeaf, inputs, workers)
}

// Public returns the public key.
func (k *PrivateKey) Public() PublicKey { return k.pub }

// Lifetime is the number of one-time keys.
func (k *PrivateKey) Lifetime() uint64 { return 1 << k.pub.LogLifetime }

// SignAt signs msg with the one-time key at index. The caller must never
// sign two different messages at one index: two signatures at an index
// reveal chain positions from which a third message can be signed there.
// core/keystore keeps that rule; this function cannot.
func (k *PrivateKey) SignAt(index uint32, msg hash.Digest) (*Signature, error) {
	if uint64(index) >= k.Lifetime() {
		return nil, fmt.Errorf("%w: index %d beyond the key's %d one-time keys", ErrParams, index, k.Lifetime())
	}
	sig := &Signature{Index: index}
	var x [Chains]uint8
	found := false
	for rho := uint32(0); rho < MaxRho && !found; rho++ {
		if x, found = encode(k.pub.Param, rho, index, msg); found {
			sig.Rho = rho
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no encoding of the message hits the target sum in %d tries", ErrParams, MaxRho)
	}
	for i := range sig.Chains {
		start := hash.Compress(k.secret, secretBlock(index, i))
		sig.Chains[i] = walk(start, k.pub.Param, index, i, 0, int(x[i]))
	}
	sig.Path = make([]hash.Digest, k.pub.LogLifetime)
	levels := k.levels
	if levels[0] == nil { // a loaded key: rebuild the subtree of index
		c := k.cut()
		base := index &^ (1<<c - 1)
		sub := [][]hash.Digest{k.leaves(base, 1<<c, 0)}
		for len(sub) <= c-1 {
			sub = append(sub, hash.CompressLevel(sub[len(sub)-1], 0))
		}
		if root := subtreeRoot(sub); root != levels[c][index>>c] {
			return nil, fmt.Errorf("%w: the cached tree does not match the key at index %d", ErrParams, index)
		}
		levels = append(sub[:c:c], levels[c:]...)
		index -= base
		for l := range c {
			sig.Path[l] = levels[l][(index>>l)^1]
		}
		index += base
		for l := c; l < len(sig.Path); l++ {
			sig.Path[l] = levels[l][(index>>l)^1]
		}
		return sig, nil
	}
	idx := index
	for l := range sig.Path {
		sig.Path[l] = levels[l][idx^1]
		idx >>= 1
	}
	return sig, nil
}

// subtreeRoot is the root of the levels of a subtree (its top level has
// two nodes, or one when it is a single leaf).
func subtreeRoot(sub [][]hash.Digest) hash.Digest {
	top := sub[len(sub)-1]
	if len(top) == 1 {
		return top[0]
	}
	return hash.HashNode(top[0], top[1])
}

// cacheLevel is the tree level a key's cache keeps: the roots of subtrees
// of 2^cacheLevel one-time keys (8 KiB at h = 16), so that a key loaded
// from its cache rebuilds one subtree per signature (~256 one-time keys)
// instead of all 2^h.
const cacheLevel = 8

func (k *PrivateKey) cut() int { return min(k.pub.LogLifetime, cacheLevel) }

// Cache returns the tree nodes LoadKey starts from. They are public (hashes
// of one-time public keys).
func (k *PrivateKey) Cache() []hash.Digest { return slices.Clone(k.levels[k.cut()]) }

// CacheLen is the number of digests in the cache of a key of 2^logLifetime
// one-time keys.
func CacheLen(logLifetime int) int { return 1 << (logLifetime - min(logLifetime, cacheLevel)) }

// LoadKey rebuilds the key of seed from its Cache without deriving every
// one-time key. The cache must give pub's root (else ErrParams: it belongs
// to another key or was altered).
func LoadKey(seed [SeedSize]byte, pub PublicKey, cache []hash.Digest, workers int) (*PrivateKey, error) {
	if err := checkLifetime(pub.LogLifetime); err != nil {
		return nil, err
	}
	k := &PrivateKey{secret: secretOf(seed)}
	k.pub = PublicKey{LogLifetime: pub.LogLifetime, Param: hash.HashWithTag(hash.TagSigParam, k.secret[:])}
	c := k.cut()
	if len(cache) != CacheLen(pub.LogLifetime) {
		return nil, fmt.Errorf("%w: cache of %d nodes, a key of 2^%d one-time keys keeps %d", ErrParams, len(cache), pub.LogLifetime, CacheLen(pub.LogLifetime))
	}
	k.levels = make([][]hash.Digest, c, pub.LogLifetime+1)
	k.levels = append(k.levels, slices.Clone(cache))
	for len(k.levels[len(k.levels)-1]) > 1 {
		k.levels = append(k.levels, hash.CompressLevel(k.levels[len(k.levels)-1], workers))
	}
	k.pub.Root = k.levels[pub.LogLifetime][0]
	if k.pub != pub {
		return nil, fmt.Errorf("%w: seed and cache give another key than %s", ErrParams, pub.Address())
	}
	return k, nil
}
