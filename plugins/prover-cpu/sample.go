package provercpu

import (
	"fmt"

	"github.com/trellis-chain/trellis/core/account"
	"github.com/trellis-chain/trellis/core/batch"
	"github.com/trellis-chain/trellis/core/hash"
	"github.com/trellis-chain/trellis/core/state"
)

// SampleJob returns a real batch/v1 statement of the given number of leaf
// updates (2 to batch.MaxUpdates): a state tree of updates−1 accounts
// (leaves 0..updates−2), in which every account but the last pays a fee of
// 1 (burned) and sends 5 to a new account created at the next index. The
// globals leaf moves with it (supply −fee, burned +fee, one more account),
// so the batch keeps every rule of the statement. It is what the plugin
// measures its throughput on, and what tests and the conformance kit prove.
func SampleJob(updates int) (batch.Public, *batch.Witness, error) {
	if updates < 2 || updates > batch.MaxUpdates {
		return batch.Public{}, nil, fmt.Errorf("sample job: %d updates, want 2..%d", updates, batch.MaxUpdates)
	}
	const (
		fee    = 1
		amount = 5
		start  = 1_000_000
	)
	n := updates - 1 // changed accounts: indices 1..n, the last one new
	accts := make([]*account.Account, n)
	leaves := make([]hash.Digest, n) // leaf 0 is the globals leaf, set below
	var supply uint64
	for i := 1; i < n; i++ {
		accts[i] = &account.Account{Address: account.SystemAddress(fmt.Sprintf("trellis/sample/%d", i)), Balance: start + uint64(i)}
		supply += accts[i].Balance
		leaves[i] = accts[i].Leaf()
	}
	old := account.Globals{Supply: supply, Burned: 7, Accounts: uint32(n)}
	leaves[0] = old.Leaf()
	tree := state.NewTree(leaves, 1)

	cs := &state.Changeset{OldGlobals: old, NewGlobals: old}
	created := &account.Account{Address: account.SystemAddress(fmt.Sprintf("trellis/sample/%d", n))}
	for i := 1; i < n; i++ {
		a := accts[i].Clone()
		a.Balance -= fee + amount
		a.Nonce++
		created.Balance += amount
		cs.NewGlobals.Supply -= fee
		cs.NewGlobals.Burned += fee
		cs.Changes = append(cs.Changes, state.Change{Index: account.Index(i), Old: accts[i].Encode(), New: a.Encode()})
	}
	cs.NewGlobals.Accounts++
	cs.Changes = append(cs.Changes, state.Change{Index: account.Index(n), New: created.Encode()})
	return batch.Build(state.NewOverlay(tree), cs)
}

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
