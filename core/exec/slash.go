package exec

import (
	"fmt"
	"math/bits"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// SlashFractionBps is the share of a double-signing validator's self-bond
// that is slashed, in basis points (500 = 5%).
const SlashFractionBps = 500

// SlashAmount is what a slash takes from a self-bond of bonded:
// SlashFractionBps of it, rounded down, but at least 1 token when bonded
// is not zero, so that every slash tombstones (Validator.Slashed > 0).
func SlashAmount(bonded uint64) uint64 {
	hi, lo := bits.Mul64(bonded, SlashFractionBps)
	s, _ := bits.Div64(hi, lo, 10_000) // hi < 10_000: the quotient fits
	if s == 0 && bonded > 0 {
		s = 1
	}
	return s
}

// slashFraction is SlashFractionBps of amount, rounded down (no minimum:
// for the delegation pool and unbonding entries).
func slashFraction(amount uint64) uint64 {
	q, _ := account.MulDiv(amount, SlashFractionBps, 10_000)
	return q
}

// slash executes a double-sign report: it verifies the evidence against
// the offender's registered BLS key, then burns SlashFractionBps of what
// was bonded to the offender at the offence and is still held: its
// self-bond (SlashAmount, at least 1), its delegation pool (every
// delegation to it loses the same share, since delegations are shares of
// the pool) and the unbonding entries that left it at or after the offence,
// self-bond and delegations alike, as Cosmos x/slashing does. Entries
// that left before the offence were not at stake then and are untouched.
// Evidence older than the unbonding delay is refused: what was bonded then
// may be gone. The offender is tombstoned. Anyone may report; the reporter
// pays the fee. Every check runs before the first write.
func slash(d *statedb.Delta, p Params, env Env, b tx.Slash) error {
	e, err := b.Decode(p.ChainID)
	if err != nil {
		return fail("%v", err)
	}
	if e.Height() > env.Height {
		return fail("offence at height %d is above the block height %d", e.Height(), env.Height)
	}
	if env.Height-e.Height() > p.UnbondingDelay {
		return fail("offence at height %d is older than the unbonding delay (%d blocks) at height %d", e.Height(), p.UnbondingDelay, env.Height)
	}
	vi, v, err := validatorAt(d, e.Validator)
	if err != nil {
		return err
	}
	if v.Validator.Slashed > 0 {
		return fail("validator %s is already slashed (tombstoned, %d slashed)", e.Validator, v.Validator.Slashed)
	}
	pk, err := bls.PublicKeyFromBytes(v.Validator.BLSPublicKey[:])
	if err != nil {
		return fail("validator %s's registered BLS key is unusable: %v", e.Validator, err)
	}
	if err := e.Verify(p.ChainID, pk); err != nil {
		return fail("evidence against %s does not verify with its registered BLS key: %v", e.Validator, err)
	}
	// Entries created at the offence height or later (as in Cosmos) were
	// at stake then; they release at offence + delay or later.
	keys, err := d.QueueBetween(e.Height()+p.UnbondingDelay, env.Height+p.UnbondingDelay)
	if err != nil {
		return err
	}
	own := SlashAmount(v.Bonded)
	pool := slashFraction(v.Validator.Delegated)
	total := own + pool
	cut := func(a *account.Account) uint64 {
		var sum uint64
		keep := a.Unbonding[:0]
		for _, u := range a.Unbonding {
			if u.Validator == e.Validator && u.Release >= e.Height()+p.UnbondingDelay {
				c := slashFraction(u.Amount)
				u.Amount -= c
				sum += c
			}
			if u.Amount > 0 {
				keep = append(keep, u)
			}
		}
		a.Unbonding = keep
		if len(a.Unbonding) == 0 {
			a.Unbonding = nil
		}
		return sum
	}
	var cutAccounts []*account.Account
	var cutIdx []account.Index
	seen := map[account.Index]bool{}
	for _, k := range keys {
		if seen[k.Index] {
			continue
		}
		seen[k.Index] = true
		if k.Index == vi {
			total += cut(v)
			continue
		}
		a, err := d.Account(k.Index)
		if err != nil {
			return fmt.Errorf("unbonding queue names account %d: %w", k.Index, err)
		}
		if c := cut(a); c > 0 {
			total += c
			cutAccounts, cutIdx = append(cutAccounts, a), append(cutIdx, k.Index)
		}
	}
	if total == 0 {
		return fail("validator %s has nothing at stake to slash", e.Validator)
	}
	g := d.Globals()
	if total > g.Supply {
		return fail("slashing %d exceeds the supply %d", total, g.Supply) // unreachable while supply is conserved
	}
	for i, a := range cutAccounts {
		if err := d.Put(cutIdx[i], a); err != nil {
			return err
		}
	}
	v.Bonded -= own
	v.Validator.Delegated -= pool // a 5% cut never empties a pool, so its shares stay meaningful
	v.Validator.Slashed += total
	g.Supply -= total
	g.Burned += total
	d.SetGlobals(g)
	return d.Put(vi, v)
}
