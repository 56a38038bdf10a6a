package batch

import (
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/state"
)

// Sample returns a real batch/v1 statement of the given number of leaf
// updates (2 to MaxUpdates): a state tree of updates−1 accounts
// (leaves 0..updates−2), in which every account but the last pays a fee of
// 1 (burned) and sends 5 to a new account created at the next index. The
// globals leaf moves with it (supply −fee, burned +fee, one more account),
// so the batch keeps every rule of the statement. It is what prover plugins
// measure their throughput on, and what tests and the conformance kit prove.
func Sample(updates int) (Public, *Witness, error) {
	if updates < 2 || updates > MaxUpdates {
		return Public{}, nil, fmt.Errorf("sample job: %d updates, want 2..%d", updates, MaxUpdates)
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
	return Build(state.NewOverlay(tree), cs)
}
