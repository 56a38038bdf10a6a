package state

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Tree benchmarks; the 1,000,000-leaf cases are skipped under -short.
//
//	go test -run '^$' -bench RootUpdatePerAccount -count 3 -timeout 0 ./protocol/state/

const benchLeaves = 1_000_000

// BenchmarkRootUpdatePerAccount: updating k random leaves of a 1M-leaf
// tree in an overlay (as a block does) and reading the new root; reported
// per updated leaf. Leaf hashing is not included (see LeafUpdates).
func BenchmarkRootUpdatePerAccount(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 leaves: skipped under -short")
	}
	r := rand.New(rand.NewPCG(1, 1))
	leaves := make([]hash.Digest, benchLeaves)
	for i := range leaves {
		leaves[i] = randDigest(r)
	}
	for _, workers := range []int{1, 2} {
		tr := NewTree(leaves, workers)
		for _, k := range []int{1, 100, 10_000} {
			b.Run(fmt.Sprintf("k=%d/workers=%d", k, workers), func(b *testing.B) {
				sets := make([][]LeafUpdate, 16)
				for s := range sets {
					sets[s] = make([]LeafUpdate, k)
					for i := range sets[s] {
						sets[s][i] = LeafUpdate{Index: uint32(r.IntN(benchLeaves)), Leaf: randDigest(r)}
					}
				}
				i := 0
				for b.Loop() {
					ov := NewOverlay(tr)
					ov.Update(sets[i%len(sets)])
					_ = ov.Root()
					i++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/account")
			})
		}
	}
}
