package exec

import (
	"math/bits"

	"github.com/trellis-chain/trellis/core/statedb"
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

// slash executes a double-sign report: it verifies the evidence against
// the offender's registered BLS key, then burns SlashAmount of its
// self-bond and tombstones it. Anyone may report; the reporter pays the
// fee. Every check runs before the first write.
func slash(d *statedb.Delta, p Params, env Env, b tx.Slash) error {
	e, err := b.Decode(p.ChainID)
	if err != nil {
		return fail("%v", err)
	}
	if e.Height() > env.Height {
		return fail("offence at height %d is above the block height %d", e.Height(), env.Height)
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
	s := SlashAmount(v.Bonded)
	if s == 0 {
		return fail("validator %s has no self-bond to slash", e.Validator)
	}
	g := d.Globals()
	if s > g.Supply {
		return fail("slashing %d exceeds the supply %d", s, g.Supply) // unreachable while supply is conserved
	}
	v.Bonded -= s
	v.Validator.Slashed += s
	g.Supply -= s
	g.Burned += s
	d.SetGlobals(g)
	return d.Put(vi, v)
}
