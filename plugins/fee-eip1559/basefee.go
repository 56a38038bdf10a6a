package fee

import (
	"fmt"
	"math"
	"math/bits"
)

// ParentInfo is what the fee market needs from the parent block's header.
type ParentInfo struct {
	BaseFee  uint64 `json:"base_fee"`  // the parent's base fee per gas
	GasUsed  uint64 `json:"gas_used"`  // total gas used by the parent's transactions
	GasLimit uint64 `json:"gas_limit"` // the parent's gas limit
	Height   uint64 `json:"height"`    // the parent's height
}

// GasTarget returns gas limit / elasticity multiplier (integer division, as
// EIP-1559), or an error when the parent cannot have a positive target.
func GasTarget(p Params, gasLimit uint64) (uint64, error) {
	if p.ElasticityMultiplier < 1 {
		return 0, &ParamError{Field: "elasticity_multiplier", Msg: "must be at least 1, got 0"}
	}
	target := gasLimit / p.ElasticityMultiplier
	if target == 0 {
		return 0, fmt.Errorf("%w: gas limit %d is below elasticity multiplier %d, so the gas target would be 0",
			ErrInvalidParent, gasLimit, p.ElasticityMultiplier)
	}
	return target, nil
}

// NextBaseFee returns the base fee of the block after parent.
//
// It is EIP-1559's rule (https://eips.ethereum.org/EIPS/eip-1559) with
// Trellis's bounds. With target = parent gas limit // elasticity and
// D = base_fee_max_change_denominator:
//
//	used == target: next = parent
//	used >  target: next = parent + max(parent·excess // target // D, 1)
//	used <  target: next = parent − parent·(target−used) // target // D
//
// where excess = min(used − target, gas limit − (elasticity−1)·target). The
// cap on the excess is target + (gas limit mod elasticity): exactly the
// largest excess a block can have at elasticity 2, so there the rule is
// EIP-1559's bit for bit, while at a larger elasticity a full block raises
// the base fee by 1/D (12.5 % for D = 8), not (elasticity−1)/D. A decrease is
// at most 1/D by construction. The result is then clamped into
// [min_base_fee, max_base_fee]. Products and quotients use 128 bits; a result
// beyond uint64 (possible only without a ceiling) is ErrOverflow, never a
// wrapped value.
func NextBaseFee(p Params, parent ParentInfo) (uint64, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if parent.Height == math.MaxUint64 {
		return 0, fmt.Errorf("%w: parent height %d is the last one", ErrInvalidParent, parent.Height)
	}
	return nextBaseFee(p, parent)
}

// nextBaseFee is NextBaseFee for valid params; it checks the parent's gas.
func nextBaseFee(p Params, parent ParentInfo) (uint64, error) {
	if parent.GasUsed > parent.GasLimit {
		return 0, fmt.Errorf("%w: block %d used %d gas, above its gas limit %d",
			ErrInvalidParent, parent.Height, parent.GasUsed, parent.GasLimit)
	}
	target, err := GasTarget(p, parent.GasLimit)
	if err != nil {
		return 0, fmt.Errorf("block %d: %w", parent.Height, err)
	}
	base := parent.BaseFee
	var next uint64
	switch {
	case parent.GasUsed == target:
		next = base
	case parent.GasUsed > target:
		// (e−1)·target ≤ e·target ≤ gas limit: no overflow.
		excess := min(parent.GasUsed-target, parent.GasLimit-(p.ElasticityMultiplier-1)*target)
		delta, fits := scaledDelta(base, excess, target, p.BaseFeeMaxChangeDenominator)
		delta = max(delta, 1)
		sum, carry := bits.Add64(base, delta, 0)
		switch {
		case fits && carry == 0:
			next = sum
		case p.MaxBaseFee != 0:
			next = p.MaxBaseFee // the true sum is above any uint64 ceiling
		default:
			return 0, fmt.Errorf("%w: base fee after block %d: %d raised by %d gas over target %d exceeds %d (set max_base_fee to cap it)",
				ErrOverflow, parent.Height, base, excess, target, uint64(math.MaxUint64))
		}
	default:
		// target−used ≤ target, so the delta is at most base/D and fits.
		delta, _ := scaledDelta(base, target-parent.GasUsed, target, p.BaseFeeMaxChangeDenominator)
		next = base - delta
	}
	return clampBaseFee(p, next), nil
}

// scaledDelta returns base·gas // target // denom exactly as EIP-1559
// computes it (two floor divisions, in that order), with a 128-bit product
// and 128-bit quotients; fits is false when the result needs more than 64
// bits. target and denom are positive.
func scaledDelta(base, gas, target, denom uint64) (delta uint64, fits bool) {
	hi, lo := bits.Mul64(base, gas)
	if hi < target { // the usual case: the first quotient fits in 64 bits
		q, _ := bits.Div64(hi, lo, target)
		return q / denom, true
	}
	// (hi, lo) / target as a 128-bit quotient (qhi, qlo), then / denom.
	qhi, r := hi/target, hi%target
	qlo, _ := bits.Div64(r, lo, target)
	dhi, r2 := qhi/denom, qhi%denom
	dlo, _ := bits.Div64(r2, qlo, denom)
	return dlo, dhi == 0
}

func clampBaseFee(p Params, fee uint64) uint64 {
	if fee < p.MinBaseFee {
		fee = p.MinBaseFee
	}
	if p.MaxBaseFee != 0 && fee > p.MaxBaseFee {
		fee = p.MaxBaseFee
	}
	return fee
}
