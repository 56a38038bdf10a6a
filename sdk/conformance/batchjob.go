package conformance

import (
	"fmt"

	"github.com/trellis-chain/trellis/core/account"
	"github.com/trellis-chain/trellis/core/batch"
	"github.com/trellis-chain/trellis/core/hash"
	"github.com/trellis-chain/trellis/core/state"
)

// BatchJob returns a real batch/v1 statement of the given number of leaf
// updates (2 to batch.MaxUpdates) from a small state tree: every existing
// account pays a burned fee of 1 and sends 5 to one new account, and the
// globals leaf follows (supply, burned, account count). The kit proves it
// on prover plugins that declare batch/v1; plugin authors can use it to
// test their own backends against core/batch.
func BatchJob(updates int) (batch.Public, *batch.Witness, error) {
	if updates < 2 || updates > batch.MaxUpdates {
		return batch.Public{}, nil, fmt.Errorf("conformance: batch job of %d updates, want 2..%d", updates, batch.MaxUpdates)
	}
	n := updates - 1 // accounts 1..n change; n is created
	leaves := make([]hash.Digest, n)
	old := account.Globals{Burned: 3, Accounts: uint32(n)}
	cs := &state.Changeset{}
	created := &account.Account{Address: account.SystemAddress(fmt.Sprintf("trellis/conformance/%d", n))}
	var burned uint64
	for i := 1; i < n; i++ {
		a := &account.Account{Address: account.SystemAddress(fmt.Sprintf("trellis/conformance/%d", i)), Balance: 500_000 + uint64(i), Nonce: uint64(i)}
		old.Supply += a.Balance
		leaves[i] = a.Leaf()
		after := a.Clone()
		after.Balance -= 6
		after.Nonce++
		created.Balance += 5
		burned++
		cs.Changes = append(cs.Changes, state.Change{Index: account.Index(i), Old: a.Encode(), New: after.Encode()})
	}
	leaves[0] = old.Leaf()
	cs.OldGlobals, cs.NewGlobals = old, old
	cs.NewGlobals.Supply -= burned
	cs.NewGlobals.Burned += burned
	cs.NewGlobals.Accounts++
	cs.Changes = append(cs.Changes, state.Change{Index: account.Index(n), New: created.Encode()})
	return batch.Build(state.NewOverlay(state.NewTree(leaves, 1)), cs)
}
