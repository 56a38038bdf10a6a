package exec

import "context"

// The fee market as the state machine sees it. These are the chain's own
// types: the fee plugin's protobuf messages are converted to and from them
// in core/feeclient, so regenerating a proto never touches execution.

// FeeParent is what the fee market sees of the parent block.
type FeeParent struct {
	Height, BaseFee, GasUsed, GasLimit uint64
}

// TxFee is what the fee market sees of one transaction.
type TxFee struct {
	GasUsed, MaxFeePerGas, MaxPriorityFeePerGas, GasLimit uint64
}

// FeeSplit divides a fee between burn, treasury, sequencer and prover.
type FeeSplit struct {
	Burn, Treasury, Sequencer, Prover uint64
}

// sum adds the parts; ok is false on overflow.
func (s FeeSplit) sum() (uint64, bool) {
	total := s.Burn
	for _, v := range []uint64{s.Treasury, s.Sequencer, s.Prover} {
		if total+v < total {
			return 0, false
		}
		total += v
	}
	return total, true
}

// TxPrice is the market's answer for one transaction: what it pays and how
// that divides, or why it cannot be in the block.
type TxPrice struct {
	Fee, Tip uint64
	Split    FeeSplit
	// Rejected says the transaction cannot be in the block; Reason says why.
	Rejected bool
	Reason   string
}

// BlockPrice is the market's answer for a block.
type BlockPrice struct {
	BaseFee     uint64 // the base fee the block was priced at
	NextBaseFee uint64 // the base fee of the block's child
	Txs         []TxPrice
}

// Pricer is the fee market: one call prices a whole block, transactions in
// block order.
type Pricer interface {
	PriceBlock(ctx context.Context, parent FeeParent, gasLimit uint64, txs []TxFee) (*BlockPrice, error)
}
