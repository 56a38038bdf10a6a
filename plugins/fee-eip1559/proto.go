package fee

import (
	"context"
	"fmt"

	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
)

// ParentFromProto converts the protocol's parent block.
func ParentFromProto(m *feev1.Parent) ParentInfo {
	return ParentInfo{BaseFee: m.GetBaseFee(), GasUsed: m.GetGasUsed(), GasLimit: m.GetGasLimit(), Height: m.GetHeight()}
}

var rejectCodes = map[Reason]feev1.TxPrice_Reject{
	ReasonNone:               feev1.TxPrice_REJECT_NONE,
	ReasonGasUsedAboveLimit:  feev1.TxPrice_REJECT_GAS_USED_ABOVE_LIMIT,
	ReasonTipAboveFeeCap:     feev1.TxPrice_REJECT_TIP_ABOVE_FEE_CAP,
	ReasonFeeCapBelowBaseFee: feev1.TxPrice_REJECT_FEE_CAP_TOO_LOW,
	ReasonFeeCapOverflow:     feev1.TxPrice_REJECT_OVERFLOW,
	ReasonBlockGasLimit:      feev1.TxPrice_REJECT_BLOCK_GAS_LIMIT,
}

func splitProto(s Shares) *feev1.Split {
	return &feev1.Split{Burn: s.Burn, Treasury: s.Treasury, Sequencer: s.Sequencer, Prover: s.Prover}
}

// BaseFeeProto answers trellis.fee.v1 BaseFee.
func BaseFeeProto(p Params, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error) {
	b, err := NextBaseFee(p, ParentFromProto(req.GetParent()))
	if err != nil {
		return nil, err
	}
	return &feev1.BaseFeeResponse{BaseFee: b}, nil
}

// PriceBlockProto answers trellis.fee.v1 PriceBlock with PriceBlock. The
// block's gas limit is the parent's; req.gas_limit, when set, must agree. A
// transaction without a gas limit is taken to allow the gas it used.
func PriceBlockProto(p Params, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error) {
	par := ParentFromProto(req.GetParent())
	if gl := req.GetGasLimit(); gl != 0 && gl != par.GasLimit {
		return nil, fmt.Errorf("gas_limit %d differs from the parent's %d: this market keeps the gas limit constant", gl, par.GasLimit)
	}
	txs := make([]TxInput, len(req.GetTxs()))
	for i, t := range req.GetTxs() {
		gl := t.GetGasLimit()
		if gl == 0 {
			gl = t.GetGasUsed()
		}
		txs[i] = TxInput{GasLimit: gl, GasUsed: t.GetGasUsed(), MaxFeePerGas: t.GetMaxFeePerGas(), MaxPriorityFeePerGas: t.GetMaxPriorityFeePerGas()}
	}
	bp, err := PriceBlock(p, par, txs)
	if err != nil {
		return nil, err
	}
	resp := &feev1.PriceBlockResponse{BaseFee: bp.BaseFee, NextBaseFee: bp.NextBaseFee, GasUsed: bp.GasUsed, Totals: splitProto(bp.Totals),
		Txs: make([]*feev1.TxPrice, len(bp.Txs))}
	for i, r := range bp.Txs {
		tp := &feev1.TxPrice{Reject: rejectCodes[r.Reason], EffectiveGasPrice: r.EffectiveGasPrice, Fee: r.Fee, Tip: r.TipAmount,
			TipPerGas: r.TipPerGas, Split: splitProto(r.Shares)}
		if !r.Included() {
			tp.Reason = r.Err().Error()
		}
		resp.Txs[i] = tp
	}
	return resp, nil
}

// Local prices blocks in-process with fixed Params: the fee plugin's
// answers without its process, for hosts' tests and the simulator.
type Local struct{ Params Params }

// BaseFee answers trellis.fee.v1 BaseFee.
func (l Local) BaseFee(_ context.Context, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error) {
	return BaseFeeProto(l.Params, req)
}

// PriceBlock answers trellis.fee.v1 PriceBlock.
func (l Local) PriceBlock(_ context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error) {
	return PriceBlockProto(l.Params, req)
}
