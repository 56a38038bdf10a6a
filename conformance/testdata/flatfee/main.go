// Command trellis-fee-flat is the example fee plugin of docs/plugin-authors.md:
// a flat-fee market. Every transaction pays the same configured price per
// gas, with no tip, and the whole fee goes to the block's sequencer.
//
// The conformance kit's tests build and check it, so the guide's code keeps
// compiling and keeps passing the kit.
package main

import (
	"context"
	"fmt"
	"math/bits"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/sdk"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// logger writes JSON lines to stderr, which the host forwards under the
// plugin's name. Never print to stdout: it carries the handshake.
var logger = sdk.Logger()

// config is the plugin's config {} block, as the host hands it over.
type config struct {
	Price uint64 `json:"price"`
}

type flat struct {
	mu    sync.Mutex
	price uint64 // 0 until Configure
}

func (f *flat) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindFee, Name: "flat", Version: "0.1.0", Capabilities: []string{"fee.quote"}}
}

func (f *flat) ConfigSchema() *schema.Schema {
	return schema.New(
		schema.Number("price").DefaultTo(cty.NumberIntVal(1000)).Describe("Price per gas every transaction pays."),
	)
}

func (f *flat) Configure(ctx context.Context, req sdk.ConfigureRequest) error {
	var c config
	if err := schema.DecodeJSON(req.Config, &c); err != nil {
		return err
	}
	if c.Price == 0 {
		return &sdk.ConfigError{Path: []string{"price"}, Summary: "must be at least 1"}
	}
	logger.Info("configured", "price", c.Price, "restarts", req.Node.Restarts)
	f.mu.Lock()
	f.price = c.Price
	f.mu.Unlock()
	return nil
}

func (f *flat) Health(context.Context) sdk.Health {
	if f.current() == 0 {
		return sdk.Health{Status: sdk.NotServing, Message: "not configured"}
	}
	return sdk.Health{Status: sdk.Serving}
}

func (f *flat) current() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.price
}

// BaseFee is the flat price, whatever the parent.
func (f *flat) BaseFee(context.Context, *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error) {
	return &feev1.BaseFeeResponse{BaseFee: f.current()}, nil
}

// PriceBlock charges gas_used × price to every transaction that can pay it
// and fits in the block; the others are rejected with a reason, not priced.
func (f *flat) PriceBlock(_ context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error) {
	price := f.current()
	limit := req.GetGasLimit()
	if limit == 0 {
		limit = req.GetParent().GetGasLimit()
	}
	resp := &feev1.PriceBlockResponse{BaseFee: price, NextBaseFee: price, Totals: &feev1.Split{}}
	for _, tx := range req.GetTxs() {
		gas := tx.GetGasUsed()
		hi, fee := bits.Mul64(gas, price)
		reject := func(code feev1.TxPrice_Reject, format string, args ...any) {
			resp.Txs = append(resp.Txs, &feev1.TxPrice{Reject: code, Reason: fmt.Sprintf(format, args...)})
		}
		switch {
		case tx.GetGasLimit() != 0 && gas > tx.GetGasLimit():
			reject(feev1.TxPrice_REJECT_GAS_USED_ABOVE_LIMIT, "gas used %d above the transaction's gas limit %d", gas, tx.GetGasLimit())
		case tx.GetMaxFeePerGas() < price:
			reject(feev1.TxPrice_REJECT_FEE_CAP_TOO_LOW, "max fee per gas %d below the price %d", tx.GetMaxFeePerGas(), price)
		case hi != 0 || resp.Totals.Sequencer+fee < resp.Totals.Sequencer:
			reject(feev1.TxPrice_REJECT_OVERFLOW, "fee of %d gas at %d does not fit in 64 bits", gas, price)
		case gas > limit-resp.GasUsed:
			reject(feev1.TxPrice_REJECT_BLOCK_GAS_LIMIT, "gas used %d above the %d gas left in the block", gas, limit-resp.GasUsed)
		default:
			resp.GasUsed += gas
			resp.Totals.Sequencer += fee
			resp.Txs = append(resp.Txs, &feev1.TxPrice{EffectiveGasPrice: price, Fee: fee, Split: &feev1.Split{Sequencer: fee}})
		}
	}
	return resp, nil
}

// Quote: the price is the price, within any number of blocks.
func (f *flat) Quote(context.Context, *feev1.QuoteRequest) (*feev1.QuoteResponse, error) {
	p := f.current()
	return &feev1.QuoteResponse{BaseFee: p, MaxFeePerGas: p}, nil
}

func main() {
	sdk.Serve(&flat{}, sdk.WithLogger(logger))
}
