package chain

import (
	"errors"
	"fmt"
	"slices"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/state"
)

// Validator is a validator with its voting stake.
type Validator struct {
	Index   account.Index
	Account *account.Account
	Stake   uint64
}

// ValidatorSet returns the validators with nonzero stake after the
// canonical block at height, ordered by address, and their total stake.
// A validator slashed for double signing (Validator.Slashed > 0) is
// tombstoned: it never returns to the set, whatever stake it keeps.
func (c *Chain) ValidatorSet(height uint64) ([]Validator, uint64, *block.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.BlockByHeight(height)
	if err != nil {
		return nil, 0, nil, err
	}
	r, _, err := c.viewAt(&b.Header)
	if err != nil {
		return nil, 0, nil, err
	}
	cands, err := c.st.Validators()
	if err != nil {
		return nil, 0, nil, err
	}
	// Accounts registered after height are in the head index but absent
	// or unregistered in the view; accounts registered before and not at
	// the head cannot exist (registration is permanent).
	var out []Validator
	var total uint64
	for _, idx := range cands {
		a, err := r.Account(idx)
		if errors.Is(err, statedb.ErrNoAccount) {
			continue
		}
		if err != nil {
			return nil, 0, nil, err
		}
		if a.Validator == nil || a.Stake() == 0 || a.Validator.Slashed > 0 {
			continue
		}
		out = append(out, Validator{Index: idx, Account: a, Stake: a.Stake()})
		total += a.Stake()
	}
	slices.SortFunc(out, func(x, y Validator) int { return slices.Compare(x.Account.Address[:], y.Account.Address[:]) })
	return out, total, b, nil
}

// AccountProof is an account with its inclusion proof under a block's
// state root.
type AccountProof struct {
	Height   uint64
	Root     hash.Digest
	Index    account.Index
	Account  *account.Account
	Leaf     hash.Digest
	Siblings [state.Depth]hash.Digest
}

// Verify checks the proof against its root.
func (p *AccountProof) Verify() error {
	if p.Account.Leaf() != p.Leaf {
		return fmt.Errorf("%w: the leaf does not hash the account", state.ErrProof)
	}
	return state.VerifyProof(p.Root, uint32(p.Index), p.Leaf, p.Siblings)
}

// ProveAccount returns addr's account and inclusion proof after the
// canonical block at height. The cost grows with the blocks since height.
func (c *Chain) ProveAccount(addr account.Address, height uint64) (*AccountProof, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.BlockByHeight(height)
	if err != nil {
		return nil, err
	}
	r, ov, err := c.viewAt(&b.Header)
	if err != nil {
		return nil, err
	}
	idx, a, err := statedb.AccountAt(r, addr)
	if err != nil {
		return nil, fmt.Errorf("at height %d: %w", height, err)
	}
	p := &AccountProof{Height: height, Root: ov.Root(), Index: idx, Account: a, Leaf: a.Leaf(), Siblings: ov.Proof(uint32(idx))}
	if p.Root != b.Header.StateRoot {
		return nil, fmt.Errorf("%w: reconstructed root %s at height %d, the header has %s", ErrCorrupt, p.Root, height, b.Header.StateRoot)
	}
	return p, nil
}
