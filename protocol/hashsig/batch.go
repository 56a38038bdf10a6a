package hashsig

import (
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Item is one signature to check with VerifyMany.
type Item struct {
	Key PublicKey
	Msg hash.Digest
	Sig *Signature
}

// VerifyMany checks many signatures at once and returns one error per item
// (nil, or what Verify returns for it). It runs the same computation as
// Verify, step by step across all signatures, so that every compression
// goes through the 16-lane kernel (hash.CompressMany, hash.HashMany) on
// workers goroutines (0: all CPUs): a block's hash-signed transactions cost
// a fraction of checking each alone.
func VerifyMany(items []Item, workers int) []error {
	errs := make([]error, len(items))
	type live struct {
		i int
		x [Chains]uint8
	}
	var ok []live
	// Shape checks, then the encodings (a few compressions each).
	var encIn [][]fr.Element
	var encAt []int
	for i, it := range items {
		if err := checkShape(it.Key, it.Sig); err != nil {
			errs[i] = err
			continue
		}
		encIn = append(encIn, encodeInput(it.Key.Param, it.Sig.Rho, it.Sig.Index, it.Msg))
		encAt = append(encAt, i)
	}
	for k, d := range hash.HashMany(hash.TagSigMsg, encIn, workers) {
		x, good := positions(d)
		if !good {
			errs[encAt[k]] = fmt.Errorf("%w: the message's encoding does not reach the target sum", ErrSignature)
			continue
		}
		ok = append(ok, live{encAt[k], x})
	}
	// Chains: at step j every chain whose position is ≤ j advances.
	ends := make([][Chains]hash.Digest, len(ok))
	for n, l := range ok {
		ends[n] = items[l.i].Sig.Chains
	}
	// pairs holds the (left, right) inputs of one batched step, reused.
	pairs := make([]hash.Digest, 0, 2*len(ok)*Chains)
	at := make([][2]int, 0, len(ok)*Chains)
	for j := range ChainLen - 1 {
		pairs, at = pairs[:0], at[:0]
		for n, l := range ok {
			it := items[l.i]
			for c := range Chains {
				if int(l.x[c]) <= j {
					pairs = append(pairs, ends[n][c], tweak(it.Key.Param, it.Sig.Index, c, j))
					at = append(at, [2]int{n, c})
				}
			}
		}
		for k, d := range hash.CompressLevel(pairs, workers) {
			ends[at[k][0]][at[k][1]] = d
		}
	}
	// Leaves, then the paths a level at a time.
	leafIn := make([][]fr.Element, len(ok))
	for n, l := range ok {
		it := items[l.i]
		leafIn[n] = leafInput(it.Key.Param, it.Sig.Index, ends[n][:])
	}
	nodes := hash.HashMany(hash.TagSigLeaf, leafIn, workers)
	for level := 0; ; level++ {
		pairs, at = pairs[:0], at[:0]
		for n, l := range ok {
			sig := items[l.i].Sig
			if level >= len(sig.Path) {
				continue
			}
			if sig.Index>>level&1 == 0 {
				pairs = append(pairs, nodes[n], sig.Path[level])
			} else {
				pairs = append(pairs, sig.Path[level], nodes[n])
			}
			at = append(at, [2]int{n, 0})
		}
		if len(at) == 0 {
			break
		}
		for k, d := range hash.CompressLevel(pairs, workers) {
			nodes[at[k][0]] = d
		}
	}
	for n, l := range ok {
		if it := items[l.i]; nodes[n] != it.Key.Root {
			errs[l.i] = fmt.Errorf("%w: the one-time key at index %d is not under the key's root", ErrSignature, it.Sig.Index)
		}
	}
	return errs
}
