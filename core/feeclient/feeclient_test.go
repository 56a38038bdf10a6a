package feeclient

import (
	"context"
	"testing"

	"github.com/trellis-chain/trellis/core/exec"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
)

// fake answers with fixed messages and records the requests.
type fake struct {
	base  *feev1.BaseFeeRequest
	price *feev1.PriceBlockRequest
	resp  *feev1.PriceBlockResponse
}

func (f *fake) BaseFee(_ context.Context, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error) {
	f.base = req
	return &feev1.BaseFeeResponse{BaseFee: 77}, nil
}

func (f *fake) PriceBlock(_ context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error) {
	f.price = req
	return f.resp, nil
}

// Every field crosses the boundary both ways; a rejection without a reason
// still says which.
func TestConversion(t *testing.T) {
	f := &fake{resp: &feev1.PriceBlockResponse{BaseFee: 10, NextBaseFee: 11, Txs: []*feev1.TxPrice{
		{Fee: 100, Tip: 20, Split: &feev1.Split{Burn: 40, Treasury: 10, Sequencer: 20, Prover: 30}},
		{Reject: feev1.TxPrice_REJECT_FEE_CAP_TOO_LOW, Reason: "fee cap 1 below base fee 10"},
		{Reject: feev1.TxPrice_REJECT_OVERFLOW},
	}}}
	c := Client{Service: f}
	parent := exec.FeeParent{Height: 5, BaseFee: 9, GasUsed: 7, GasLimit: 30}
	if bf, err := c.BaseFee(context.Background(), parent); err != nil || bf != 77 {
		t.Fatalf("BaseFee %d %v", bf, err)
	}
	if p := f.base.GetParent(); p.GetHeight() != 5 || p.GetBaseFee() != 9 || p.GetGasUsed() != 7 || p.GetGasLimit() != 30 {
		t.Fatalf("parent sent as %v", p)
	}
	bp, err := c.PriceBlock(context.Background(), parent, 30, []exec.TxFee{{GasUsed: 1, MaxFeePerGas: 2, MaxPriorityFeePerGas: 3, GasLimit: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if tx := f.price.GetTxs()[0]; f.price.GetGasLimit() != 30 || tx.GetGasUsed() != 1 || tx.GetMaxFeePerGas() != 2 || tx.GetMaxPriorityFeePerGas() != 3 || tx.GetGasLimit() != 4 {
		t.Fatalf("request %v", f.price)
	}
	want := exec.BlockPrice{BaseFee: 10, NextBaseFee: 11, Txs: []exec.TxPrice{
		{Fee: 100, Tip: 20, Split: exec.FeeSplit{Burn: 40, Treasury: 10, Sequencer: 20, Prover: 30}},
		{Rejected: true, Reason: "fee cap 1 below base fee 10"},
		{Rejected: true, Reason: "REJECT_OVERFLOW"},
	}}
	if bp.BaseFee != want.BaseFee || bp.NextBaseFee != want.NextBaseFee || len(bp.Txs) != 3 {
		t.Fatalf("got %+v", bp)
	}
	for i := range want.Txs {
		if bp.Txs[i] != want.Txs[i] {
			t.Errorf("tx %d: got %+v, want %+v", i, bp.Txs[i], want.Txs[i])
		}
	}
}
