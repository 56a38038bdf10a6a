package exec

import (
	"errors"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// applyBody runs t's body for the sender at idx, whose fee is reserved and
// nonce advanced. A *failure leaves state untouched: every check runs
// before the first write.
func applyBody(d *statedb.Delta, p Params, m MarketParams, env Env, idx account.Index, t *tx.Tx) error {
	a, err := d.Account(idx)
	if err != nil {
		return err
	}
	switch b := t.Body.(type) {
	case tx.Transfer:
		return transfer(d, idx, a, b)
	case tx.Bond:
		return bond(d, p, idx, a, b)
	case tx.Delegate:
		return delegate(d, idx, a, b)
	case tx.Unbond:
		return unbond(d, p, env, idx, a, b)
	case tx.Slash:
		return slash(d, p, env, b)
	case tx.ProverRegister:
		return proverRegister(d, m, idx, a, b)
	case tx.ProverExit:
		return proverExit(d, idx, a)
	case tx.Proof:
		return settleProof(d, m, idx, a, b)
	}
	return fail("unsupported transaction type %d", t.Type())
}

func transfer(d *statedb.Delta, idx account.Index, a *account.Account, b tx.Transfer) error {
	if a.Balance < b.Amount {
		return fail("balance %d is below the amount %d", a.Balance, b.Amount)
	}
	a.Balance -= b.Amount
	if err := d.Put(idx, a); err != nil {
		return err
	}
	return creditAddr(d, b.To, b.Amount)
}

func bond(d *statedb.Delta, p Params, idx account.Index, a *account.Account, b tx.Bond) error {
	if a.Balance < b.Amount {
		return fail("balance %d is below the amount %d", a.Balance, b.Amount)
	}
	switch {
	case a.Validator == nil && !b.HasKey():
		return fail("the first bond registers a validator and needs its BLS public key and proof of possession")
	case a.Validator == nil:
		if p.VerifyPoP == nil {
			return fail("this chain does not accept validator registrations")
		}
		if err := p.VerifyPoP(b.BLSPublicKey, b.ProofOfPossession); err != nil {
			return fail("BLS proof of possession does not verify: %v", err)
		}
		a.Validator = &account.Validator{BLSPublicKey: b.BLSPublicKey, ProofOfPossession: b.ProofOfPossession}
	case b.HasKey() && b.BLSPublicKey != a.Validator.BLSPublicKey:
		return fail("a validator's BLS key cannot change; leave it out of later bonds")
	}
	a.Balance -= b.Amount
	a.Bonded += b.Amount
	return d.Put(idx, a)
}

// validatorAt looks up a registered validator.
func validatorAt(d *statedb.Delta, addr account.Address) (account.Index, *account.Account, error) {
	vi, v, err := statedb.AccountAt(d, addr)
	if errors.Is(err, statedb.ErrNoAccount) {
		return 0, nil, fail("%s has no account", addr)
	}
	if err != nil {
		return 0, nil, err
	}
	if v.Validator == nil {
		return 0, nil, fail("%s is not a validator", addr)
	}
	return vi, v, nil
}

func delegate(d *statedb.Delta, idx account.Index, a *account.Account, b tx.Delegate) error {
	if b.Validator == a.Address {
		return fail("a validator bonds to itself with a bond transaction, not a delegation")
	}
	if a.Balance < b.Amount {
		return fail("balance %d is below the amount %d", a.Balance, b.Amount)
	}
	vi, v, err := validatorAt(d, b.Validator)
	if err != nil {
		return err
	}
	if a.Delegation(b.Validator) < 0 && len(a.Delegations) >= account.MaxDelegations {
		return fail("an account delegates to at most %d validators", account.MaxDelegations)
	}
	shares, ok := v.Validator.SharesFor(b.Amount)
	if !ok || shares == 0 || v.Validator.Delegated+b.Amount < b.Amount {
		return fail("delegating %d to %s overflows its delegation pool (%d tokens in %d shares)", b.Amount, b.Validator, v.Validator.Delegated, v.Validator.DelegatorShares)
	}
	a.Balance -= b.Amount
	a.AddDelegation(b.Validator, shares)
	if err := d.Put(idx, a); err != nil {
		return err
	}
	v.Validator.Delegated += b.Amount
	v.Validator.DelegatorShares += shares
	return d.Put(vi, v)
}

func unbond(d *statedb.Delta, p Params, env Env, idx account.Index, a *account.Account, b tx.Unbond) error {
	target := b.Validator
	if target.IsZero() {
		target = a.Address
	}
	entry := account.Unbonding{Validator: target, Amount: b.Amount, Release: env.Height + p.UnbondingDelay}
	if env.Height+p.UnbondingDelay < env.Height {
		return fail("release height overflows")
	}
	full := true
	for _, u := range a.Unbonding {
		if u.Release == entry.Release && u.Validator == target {
			full = false // merges into an existing entry
		}
	}
	if full && len(a.Unbonding) >= account.MaxUnbonding {
		return fail("an account has at most %d unbonding entries; wait for one to be released", account.MaxUnbonding)
	}
	if target == a.Address {
		if a.Bonded < b.Amount {
			return fail("bonded stake %d is below the amount %d", a.Bonded, b.Amount)
		}
		a.Bonded -= b.Amount
		a.Unbonding = append(a.Unbonding, entry)
		a.SortUnbonding()
		d.QueueAdd(entry.Release, idx)
		return d.Put(idx, a)
	}
	i := a.Delegation(target)
	if i < 0 {
		return fail("no delegation to %s", target)
	}
	vi, v, err := validatorAt(d, target)
	if err != nil {
		return err
	}
	// The delegation is shares of the validator's pool; the amount is
	// tokens. The shares that leave are rounded up, so that the pool never
	// pays more than they are worth; the last shares take the whole pool.
	held := a.Delegations[i].Shares
	worth := v.Validator.Value(held)
	if worth < b.Amount {
		return fail("delegation to %s is worth %d, below the amount %d", target, worth, b.Amount)
	}
	burn, ok := v.Validator.SharesToWithdraw(b.Amount)
	if !ok || burn > held {
		burn = held // only when b.Amount == worth, by rounding
	}
	if burn == v.Validator.DelegatorShares {
		entry.Amount = v.Validator.Delegated
	}
	a.Delegations[i].Shares -= burn
	if a.Delegations[i].Shares == 0 {
		a.Delegations = append(a.Delegations[:i], a.Delegations[i+1:]...)
		if len(a.Delegations) == 0 {
			a.Delegations = nil
		}
	}
	a.Unbonding = append(a.Unbonding, entry)
	a.SortUnbonding()
	d.QueueAdd(entry.Release, idx)
	if err := d.Put(idx, a); err != nil {
		return err
	}
	v.Validator.Delegated -= entry.Amount
	v.Validator.DelegatorShares -= burn
	return d.Put(vi, v)
}
