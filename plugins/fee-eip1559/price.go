package fee

import (
	"fmt"
	"math"
	"math/bits"
)

// TxInput is what the fee market needs from one transaction after execution.
type TxInput struct {
	GasLimit             uint64 `json:"gas_limit"`                // the most gas the sender allowed
	GasUsed              uint64 `json:"gas_used"`                 // the gas execution consumed; what is charged
	MaxFeePerGas         uint64 `json:"max_fee_per_gas"`          // the most the sender pays per gas, base fee and tip together
	MaxPriorityFeePerGas uint64 `json:"max_priority_fee_per_gas"` // the most tip per gas the sender offers
}

// TxResult is how one transaction was priced, or why it was rejected. For a
// rejected transaction (Reason != ReasonNone) every amount is 0: it pays
// nothing and uses none of the block's gas.
type TxResult struct {
	Index             int    `json:"index"`               // position in the block
	Reason            Reason `json:"reason"`              // ReasonNone when included
	Detail            string `json:"detail,omitempty"`    // the rejection's numbers, for people
	GasUsed           uint64 `json:"gas_used"`            // gas charged
	EffectiveGasPrice uint64 `json:"effective_gas_price"` // base fee + tip per gas
	TipPerGas         uint64 `json:"tip_per_gas"`         // min(max priority fee, max fee − base fee)
	BaseFeeAmount     uint64 `json:"base_fee_amount"`     // gas used × base fee
	TipAmount         uint64 `json:"tip_amount"`          // gas used × tip per gas
	Fee               uint64 `json:"fee"`                 // BaseFeeAmount + TipAmount = gas used × effective gas price
	Shares            Shares `json:"shares"`              // Fee divided: base-fee split of BaseFeeAmount plus tip split of TipAmount
}

// Included reports whether the transaction was priced (not rejected).
func (r TxResult) Included() bool { return r.Reason == ReasonNone }

// Err returns nil for an included transaction and a *TxError for a rejected
// one.
func (r TxResult) Err() error {
	if r.Reason == ReasonNone {
		return nil
	}
	return &TxError{Index: r.Index, Reason: r.Reason, Detail: r.Detail}
}

// BlockPricing is the result of pricing one block.
type BlockPricing struct {
	Height       uint64     `json:"height"`         // this block's height: parent height + 1
	BaseFee      uint64     `json:"base_fee"`       // this block's base fee per gas
	GasLimit     uint64     `json:"gas_limit"`      // this block's gas limit (the parent's)
	GasTarget    uint64     `json:"gas_target"`     // gas limit / elasticity multiplier
	GasUsed      uint64     `json:"gas_used"`       // sum of included transactions' gas used
	Included     int        `json:"included"`       // transactions priced
	Rejected     int        `json:"rejected"`       // transactions rejected
	Txs          []TxResult `json:"txs"`            // one per input, in input order
	TotalBaseFee uint64     `json:"total_base_fee"` // sum of BaseFeeAmount
	TotalTip     uint64     `json:"total_tip"`      // sum of TipAmount
	TotalFee     uint64     `json:"total_fee"`      // sum of Fee = TotalBaseFee + TotalTip
	Totals       Shares     `json:"totals"`         // per recipient, the sum of the transactions' shares
	NextBaseFee  uint64     `json:"next_base_fee"`  // the base fee of the block after this one
}

// PriceBlock prices a whole block in one call.
//
// The block's base fee is NextBaseFee(params, parent), and its gas limit is
// the parent's (Trellis keeps the gas limit in chain parameters; the fee
// market does not move it). Each transaction, in order, is either priced or
// rejected with a reason, checked in this order:
//
//  1. gas used above its gas limit         (ReasonGasUsedAboveLimit)
//  2. max priority fee above max fee       (ReasonTipAboveFeeCap)
//  3. max fee below the block's base fee   (ReasonFeeCapBelowBaseFee)
//  4. gas limit × max fee overflows uint64 (ReasonFeeCapOverflow)
//  5. gas used above what the block has left of its gas limit, counting only
//     the transactions before it that were included (ReasonBlockGasLimit)
//
// A priced transaction pays gas used × (base fee + tip), tip = min(max
// priority fee, max fee − base fee), as EIP-1559. The base-fee part and the
// tip part are each divided by their split; the block's totals are the sums
// of the transactions' shares (so they conserve value exactly as each
// transaction does). NextBaseFee is computed from this block's base fee,
// gas limit and included gas used.
//
// Errors: invalid params (ErrInvalidParams), an unusable parent
// (ErrInvalidParent), or block totals beyond uint64 (ErrOverflow). A rejected
// transaction is not an error; see TxResult.Reason.
func PriceBlock(params Params, parent ParentInfo, txs []TxInput) (BlockPricing, error) {
	if err := params.Validate(); err != nil {
		return BlockPricing{}, err
	}
	if parent.Height == math.MaxUint64 {
		return BlockPricing{}, fmt.Errorf("%w: parent height %d is the last one", ErrInvalidParent, parent.Height)
	}
	baseFee, err := nextBaseFee(params, parent)
	if err != nil {
		return BlockPricing{}, err
	}
	height := parent.Height + 1
	target, _ := GasTarget(params, parent.GasLimit) // checked by nextBaseFee
	out := BlockPricing{
		Height:    height,
		BaseFee:   baseFee,
		GasLimit:  parent.GasLimit,
		GasTarget: target,
		Txs:       make([]TxResult, len(txs)),
	}
	for i := range txs {
		r := priceTx(params, baseFee, &txs[i], i)
		if r.Reason == ReasonNone && r.GasUsed > out.GasLimit-out.GasUsed {
			r = reject(i, ReasonBlockGasLimit, "gas used %d is above the %d gas left of block %d's gas limit %d",
				r.GasUsed, out.GasLimit-out.GasUsed, height, out.GasLimit)
		}
		out.Txs[i] = r
		if r.Reason != ReasonNone {
			out.Rejected++
			continue
		}
		out.Included++
		out.GasUsed += r.GasUsed // ≤ gas limit, checked above
		var c1, c2, c3 uint64
		out.TotalBaseFee, c1 = bits.Add64(out.TotalBaseFee, r.BaseFeeAmount, 0)
		out.TotalTip, c2 = bits.Add64(out.TotalTip, r.TipAmount, 0)
		out.TotalFee, c3 = bits.Add64(out.TotalFee, r.Fee, 0)
		var ok bool
		out.Totals, ok = out.Totals.add(r.Shares)
		if c1|c2|c3 != 0 || !ok {
			return BlockPricing{}, fmt.Errorf("%w: block %d: total fees exceed %d at transaction %d",
				ErrOverflow, height, uint64(math.MaxUint64), i)
		}
	}
	// Cannot overflow in practice: raising the base fee B past uint64 needs
	// B > 8/9·2^64 and gas used above target (≥ 2), whose fee 2·B would not
	// fit and so was rejected. Checked all the same.
	out.NextBaseFee, err = nextBaseFee(params, ParentInfo{
		BaseFee: baseFee, GasUsed: out.GasUsed, GasLimit: out.GasLimit, Height: height,
	})
	if err != nil {
		return BlockPricing{}, fmt.Errorf("next base fee after block %d: %w", height, err)
	}
	return out, nil
}

// PriceTx prices one transaction against a base fee, without a block around
// it (no block gas check): for mempool admission and fee estimates. A
// rejection is returned both in the result's Reason and as a *TxError with
// Index -1; invalid params return ErrInvalidParams.
func PriceTx(params Params, baseFee uint64, tx TxInput) (TxResult, error) {
	if err := params.Validate(); err != nil {
		return TxResult{}, err
	}
	r := priceTx(params, baseFee, &tx, -1)
	return r, r.Err()
}

func reject(index int, reason Reason, format string, args ...any) TxResult {
	return TxResult{Index: index, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// priceTx prices tx against baseFee under valid params; it allocates only to
// describe a rejection.
func priceTx(p Params, baseFee uint64, tx *TxInput, index int) TxResult {
	switch {
	case tx.GasUsed > tx.GasLimit:
		return reject(index, ReasonGasUsedAboveLimit, "gas used %d is above gas limit %d", tx.GasUsed, tx.GasLimit)
	case tx.MaxPriorityFeePerGas > tx.MaxFeePerGas:
		return reject(index, ReasonTipAboveFeeCap, "max priority fee per gas %d is above max fee per gas %d",
			tx.MaxPriorityFeePerGas, tx.MaxFeePerGas)
	case tx.MaxFeePerGas < baseFee:
		return reject(index, ReasonFeeCapBelowBaseFee, "max fee per gas %d is below base fee %d", tx.MaxFeePerGas, baseFee)
	}
	if hi, _ := bits.Mul64(tx.GasLimit, tx.MaxFeePerGas); hi != 0 {
		return reject(index, ReasonFeeCapOverflow, "gas limit %d × max fee per gas %d exceeds %d",
			tx.GasLimit, tx.MaxFeePerGas, uint64(math.MaxUint64))
	}
	// From here every product is at most gas limit × max fee < 2^64.
	tip := min(tx.MaxPriorityFeePerGas, tx.MaxFeePerGas-baseFee)
	price := baseFee + tip // ≤ max fee
	baseAmt := tx.GasUsed * baseFee
	tipAmt := tx.GasUsed * tip
	bs := p.BaseFeeSplit.apply(baseAmt)
	ts := p.TipSplit.apply(tipAmt)
	shares, _ := bs.add(ts) // each recipient's sum ≤ fee < 2^64
	return TxResult{
		Index:             index,
		GasUsed:           tx.GasUsed,
		EffectiveGasPrice: price,
		TipPerGas:         tip,
		BaseFeeAmount:     baseAmt,
		TipAmount:         tipAmt,
		Fee:               baseAmt + tipAmt,
		Shares:            shares,
	}
}
