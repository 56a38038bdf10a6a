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
// It is EIP-1559's rule with Trellis's bounds. With target = parent gas limit
// / elasticity and D = base_fee_max_change_denominator:
//
//	used == target: next = parent
//	used >  target: next = parent + max(parent·(used−target) // target // D, 1)
//	used <  target: next = parent − parent·(target−used) // target // D
//
// The change is then capped at parent // D (at least 1 for an increase) —
// this never binds with elasticity 2, where the rule is exactly EIP-1559's —
// and the result clamped into [min_base_fee, max_base_fee]. Products use 128
// bits; a result beyond uint64 (possible only without a ceiling) is
// ErrOverflow, never a wrapped value.
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
	maxDelta := base / p.BaseFeeMaxChangeDenominator
	var next uint64
	switch {
	case parent.GasUsed == target:
		next = base
	case parent.GasUsed > target:
		delta := scaledDelta(base, parent.GasUsed-target, target, p.BaseFeeMaxChangeDenominator)
		delta = max(delta, 1)
		delta = min(delta, max(maxDelta, 1))
		sum, carry := bits.Add64(base, delta, 0)
		switch {
		case carry == 0:
			next = sum
		case p.MaxBaseFee != 0:
			next = p.MaxBaseFee // the true sum is above any uint64 ceiling
		default:
			return 0, fmt.Errorf("%w: base fee after block %d: %d + %d exceeds %d (set max_base_fee to cap it)",
				ErrOverflow, parent.Height, base, delta, uint64(math.MaxUint64))
		}
	default:
		delta := scaledDelta(base, target-parent.GasUsed, target, p.BaseFeeMaxChangeDenominator)
		delta = min(delta, maxDelta) // never binds: target−used ≤ target
		next = base - delta
	}
	return clampBaseFee(p, next), nil
}

// scaledDelta returns base·gasDelta // target // denom as EIP-1559 computes
// it (two floor divisions, in that order), with a 128-bit product. When the
// quotient does not fit in 64 bits it returns math.MaxUint64: the caller caps
// the delta at base // denom, which is smaller, so the exact value is moot.
func scaledDelta(base, gasDelta, target, denom uint64) uint64 {
	hi, lo := bits.Mul64(base, gasDelta)
	if hi >= target {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, target)
	return q / denom
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
