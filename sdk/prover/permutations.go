package prover

import (
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/state"
)

// Permutations returns how many Poseidon2 permutations the statement of w
// proves: per update, the old leaf hash (none for a created leaf) and the
// new one (one per 8-element block), the old and the new Merkle path (32
// compressions each) and the three batch-hash compressions. It is the unit
// of Capabilities' throughput, so provers of any backend compare.
func Permutations(w *batch.Witness) int {
	total := 0
	for _, u := range w.Updates {
		if u.Old != nil {
			total += hash.Blocks(len(u.Old))
		}
		total += hash.Blocks(len(u.New)) + 2*state.Depth + 3
	}
	return total
}
