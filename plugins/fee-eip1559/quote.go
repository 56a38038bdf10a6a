package fee

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// MaxQuoteBlocks is the longest inclusion window Quote accepts.
const MaxQuoteBlocks = 1024

// QuoteResult suggests what to put in a transaction so that it stays
// includable for a number of blocks.
type QuoteResult struct {
	Blocks               uint64 `json:"blocks"`                   // the inclusion window asked for
	BaseFee              uint64 `json:"base_fee"`                 // the next block's base fee (exact)
	WorstBaseFee         uint64 `json:"worst_base_fee"`           // the highest base fee the last block of the window can have
	MaxPriorityFeePerGas uint64 `json:"max_priority_fee_per_gas"` // suggested tip per gas
	MaxFeePerGas         uint64 `json:"max_fee_per_gas"`          // suggested fee cap: WorstBaseFee + tip
}

// Quote suggests a max fee and a tip for inclusion within the next `blocks`
// blocks after parent (1 ≤ blocks ≤ MaxQuoteBlocks).
//
// The fee cap covers the worst case exactly: the base fee the last block of
// the window reaches if every block before it in the window is full (gas used
// = gas limit), computed with NextBaseFee's integer rule, plus the tip. A
// transaction with that cap cannot be priced out by the base fee within the
// window. The tip is the quote_tip_percentile-th percentile (nearest rank) of
// recentTips — effective tips per gas of recently included transactions, as
// TxResult.TipPerGas reports them — but at least quote_min_tip, which is also
// the answer when recentTips is empty. recentTips is not modified.
//
// A worst case beyond uint64 (possible only without a ceiling) is ErrOverflow.
func Quote(params Params, parent ParentInfo, blocks uint64, recentTips []uint64) (QuoteResult, error) {
	if err := params.Validate(); err != nil {
		return QuoteResult{}, err
	}
	if blocks < 1 || blocks > MaxQuoteBlocks {
		return QuoteResult{}, fmt.Errorf("%w: inclusion window of %d blocks, must be between 1 and %d",
			ErrInvalidQuote, blocks, MaxQuoteBlocks)
	}
	next, err := NextBaseFee(params, parent)
	if err != nil {
		return QuoteResult{}, err
	}
	worst := next
	for k := uint64(1); k < blocks; k++ {
		h, carry := bits.Add64(parent.Height, k, 0)
		if carry != 0 {
			h = math.MaxUint64
		}
		w, err := nextBaseFee(params, ParentInfo{BaseFee: worst, GasUsed: parent.GasLimit, GasLimit: parent.GasLimit, Height: h})
		if err != nil {
			return QuoteResult{}, fmt.Errorf("quote for %d blocks: %w", blocks, err)
		}
		if w == worst {
			break // at the ceiling, or a full block does not move it: it stays
		}
		worst = w
	}
	tip := max(percentile(recentTips, params.QuoteTipPercentile), params.QuoteMinTip)
	maxFee, carry := bits.Add64(worst, tip, 0)
	if carry != 0 {
		return QuoteResult{}, fmt.Errorf("%w: quote for %d blocks: worst base fee %d + tip %d",
			ErrOverflow, blocks, worst, tip)
	}
	return QuoteResult{
		Blocks:               blocks,
		BaseFee:              next,
		WorstBaseFee:         worst,
		MaxPriorityFeePerGas: tip,
		MaxFeePerGas:         maxFee,
	}, nil
}

// percentile returns the nearest-rank pct-th percentile (1..100) of values,
// or 0 for none.
func percentile(values []uint64, pct uint64) uint64 {
	n := uint64(len(values))
	if n == 0 {
		return 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	// rank = ceil(n·pct / 100), 128-bit: n·pct < 2^64·100, so Div64 is safe.
	hi, lo := bits.Mul64(n, pct)
	rank, rem := bits.Div64(hi, lo, 100)
	if rem != 0 {
		rank++
	}
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
