// Package feeclient is the fee plugin as the chain sees it: exec.Pricer and
// chain.Fees over a trellis.fee.v1 service. The conversion between the
// plugin's protobuf messages and the chain's own fee types (core/exec)
// happens here and nowhere else, so regenerating the proto never touches
// the state machine.
package feeclient

import (
	"context"
	"fmt"

	"github.com/trellis-chain/trellis/core/exec"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
)

// Service is the part of trellis.fee.v1 the chain calls: a plugin's
// client, or the market in-process (plugins/fee-eip1559's Local, in tests).
type Service interface {
	BaseFee(ctx context.Context, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error)
	PriceBlock(ctx context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error)
}

// Client adapts a Service to the chain's fee interfaces.
type Client struct{ Service Service }

// ParentProto converts the chain's parent block to the protocol's.
func ParentProto(p exec.FeeParent) *feev1.Parent {
	return &feev1.Parent{Height: p.Height, BaseFee: p.BaseFee, GasUsed: p.GasUsed, GasLimit: p.GasLimit}
}

// BaseFee returns the base fee of parent's child.
func (c Client) BaseFee(ctx context.Context, parent exec.FeeParent) (uint64, error) {
	r, err := c.Service.BaseFee(ctx, &feev1.BaseFeeRequest{Parent: ParentProto(parent)})
	if err != nil {
		return 0, err
	}
	return r.GetBaseFee(), nil
}

// PriceBlock prices txs in block order.
func (c Client) PriceBlock(ctx context.Context, parent exec.FeeParent, gasLimit uint64, txs []exec.TxFee) (*exec.BlockPrice, error) {
	req := &feev1.PriceBlockRequest{Parent: ParentProto(parent), GasLimit: gasLimit, Txs: make([]*feev1.TxFee, len(txs))}
	for i, t := range txs {
		req.Txs[i] = &feev1.TxFee{GasUsed: t.GasUsed, MaxFeePerGas: t.MaxFeePerGas, MaxPriorityFeePerGas: t.MaxPriorityFeePerGas, GasLimit: t.GasLimit}
	}
	r, err := c.Service.PriceBlock(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &exec.BlockPrice{BaseFee: r.GetBaseFee(), NextBaseFee: r.GetNextBaseFee(), Txs: make([]exec.TxPrice, len(r.GetTxs()))}
	for i, tp := range r.GetTxs() {
		s := tp.GetSplit()
		p := exec.TxPrice{Fee: tp.GetFee(), Tip: tp.GetTip(),
			Split: exec.FeeSplit{Burn: s.GetBurn(), Treasury: s.GetTreasury(), Sequencer: s.GetSequencer(), Prover: s.GetProver()}}
		if rej := tp.GetReject(); rej != feev1.TxPrice_REJECT_NONE {
			p.Rejected, p.Reason = true, tp.GetReason()
			if p.Reason == "" {
				p.Reason = fmt.Sprint(rej)
			}
		}
		out.Txs[i] = p
	}
	return out, nil
}
