package conformance

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/trellis-chain/trellis/core/plugin"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
)

// CapFeeQuote is the capability under which a fee plugin answers Quote.
const CapFeeQuote = "fee.quote"

// feeParent is the parent of every block the kit prices: half full, so an
// elastic market keeps its base fee for the child.
func feeParent() *feev1.Parent {
	return &feev1.Parent{Height: 41, BaseFee: 1_000_000_000, GasUsed: 15_000_000, GasLimit: 30_000_000}
}

func feeClient(p *plugin.Process) feev1.FeeClient { return p.Kind.(feev1.FeeClient) }

func feeCall(ctx context.Context, p *plugin.Process) error {
	_, err := feeClient(p).BaseFee(ctx, &feev1.BaseFeeRequest{Parent: feeParent()})
	return err
}

// pricedBlock is one PriceBlock call and its answer.
type pricedBlock struct {
	what string
	req  *feev1.PriceBlockRequest
	resp *feev1.PriceBlockResponse
	// mustReject is the index of a transaction whose fee cap is below the
	// base fee, or -1.
	mustReject int
}

// satAdd and satMul saturate instead of wrapping.
func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// affordable caps a fee cap so that gas times it fits in 64 bits.
func affordable(gas, feeCap uint64) uint64 { return min(feeCap, math.MaxUint64/max(gas, 1)) }

func tx(gas, gasLimit, feeCap, tip uint64) *feev1.TxFee {
	return &feev1.TxFee{GasUsed: gas, GasLimit: gasLimit, MaxFeePerGas: affordable(gas, feeCap), MaxPriorityFeePerGas: tip}
}

// variedBlock mixes fee caps and tips around base: at the base fee, above it
// with small and large tips, a tip above its own fee cap, and (when base is
// positive) a fee cap below the base fee, which must be rejected.
func variedBlock(base uint64) *pricedBlock {
	p := feeParent()
	b := &pricedBlock{what: "varied block", mustReject: -1}
	txs := []*feev1.TxFee{
		tx(21_000, 21_000, satAdd(satMul(base, 2), 10), 1),
		tx(50_000, 60_000, base, 0),
		tx(100_000, 100_000, satAdd(satMul(base, 3), 3), satAdd(base, 1)),
		nil, // below the base fee
		tx(33_333, 40_000, satAdd(base, 7), 100),
		tx(77_777, 80_000, satAdd(base, 5), satAdd(base, 6)),
	}
	if base > 0 {
		txs[3] = tx(1_000_000, 1_000_000, base-1, 0)
		b.mustReject = 3
	} else {
		txs[3] = tx(1_000_000, 1_000_000, 5, 1)
	}
	b.req = &feev1.PriceBlockRequest{Parent: p, GasLimit: p.GetGasLimit(), Txs: txs}
	return b
}

// fullBlock fills the gas limit exactly with generous transactions.
func fullBlock(base uint64) *pricedBlock {
	p := feeParent()
	third := p.GetGasLimit() / 3
	txs := []*feev1.TxFee{
		tx(third, third, satAdd(satMul(base, 3), 3), satAdd(base, 1)),
		tx(third, third, satAdd(satMul(base, 3), 3), satAdd(base, 1)),
		tx(p.GetGasLimit()-2*third, p.GetGasLimit()-2*third, satAdd(satMul(base, 3), 3), satAdd(base, 1)),
	}
	return &pricedBlock{what: "full block", mustReject: -1, req: &feev1.PriceBlockRequest{Parent: p, GasLimit: p.GetGasLimit(), Txs: txs}}
}

func included(tp *feev1.TxPrice) bool { return tp.GetReject() == feev1.TxPrice_REJECT_NONE }

// splitSum adds the four parts; ok is false on overflow.
func splitSum(s *feev1.Split) (uint64, bool) {
	var c1, c2, c3 uint64
	sum, c1 := bits.Add64(s.GetBurn(), s.GetTreasury(), 0)
	sum, c2 = bits.Add64(sum, s.GetSequencer(), 0)
	sum, c3 = bits.Add64(sum, s.GetProver(), 0)
	return sum, c1|c2|c3 == 0
}

func fmtSplit(s *feev1.Split) string {
	return fmt.Sprintf("burn %d + treasury %d + sequencer %d + prover %d", s.GetBurn(), s.GetTreasury(), s.GetSequencer(), s.GetProver())
}

func feeChecks(ctx context.Context, r *runner, p *plugin.Process) {
	fc := feeClient(p)
	caps := p.Info.GetCapabilities()
	var base uint64
	haveBase := false
	r.run(ctx, "fee/base-fee-deterministic", func(ctx context.Context) error {
		first, err := fc.BaseFee(ctx, &feev1.BaseFeeRequest{Parent: feeParent()})
		if err != nil {
			return callErr(p, "BaseFee", err)
		}
		for range 2 {
			again, err := fc.BaseFee(ctx, &feev1.BaseFeeRequest{Parent: feeParent()})
			if err != nil {
				return callErr(p, "BaseFee", err)
			}
			if again.GetBaseFee() != first.GetBaseFee() {
				return violation("BaseFee of the same parent answered %d, then %d", first.GetBaseFee(), again.GetBaseFee())
			}
		}
		base, haveBase = first.GetBaseFee(), true
		return nil
	})

	empty := &pricedBlock{what: "empty block", mustReject: -1,
		req: &feev1.PriceBlockRequest{Parent: feeParent(), GasLimit: feeParent().GetGasLimit()}}
	r.run(ctx, "fee/price-block-empty", func(ctx context.Context) error {
		resp, err := fc.PriceBlock(ctx, empty.req)
		if err != nil {
			return callErr(p, "PriceBlock of an empty block", err)
		}
		if n := len(resp.GetTxs()); n != 0 {
			return violation("PriceBlock of an empty block returned %d transaction prices", n)
		}
		if resp.GetGasUsed() != 0 {
			return violation("PriceBlock of an empty block reports gas_used %d", resp.GetGasUsed())
		}
		if sum, ok := splitSum(resp.GetTotals()); !ok || sum != 0 {
			return violation("PriceBlock of an empty block has non-zero totals: %s", fmtSplit(resp.GetTotals()))
		}
		empty.resp = resp
		return nil
	})
	if !haveBase && empty.resp != nil {
		base, haveBase = empty.resp.GetBaseFee(), true
	}
	if !haveBase {
		r.skip("fee/price-block-*", "needs the block's base fee, and both BaseFee and PriceBlock failed")
		return
	}

	varied, full := variedBlock(base), fullBlock(base)
	r.run(ctx, "fee/price-block-one-result-per-tx", func(ctx context.Context) error {
		resp, err := fc.PriceBlock(ctx, varied.req)
		if err != nil {
			return callErr(p, "PriceBlock of a varied block", err)
		}
		if got, want := len(resp.GetTxs()), len(varied.req.GetTxs()); got != want {
			return violation("PriceBlock of %d transactions returned %d prices; want one per transaction, in order", want, got)
		}
		varied.resp = resp
		n := 0
		for i, tp := range resp.GetTxs() {
			if included(tp) && i != varied.mustReject {
				n++
			}
		}
		if n == 0 {
			return violation("PriceBlock rejected every transaction of the varied block, even those whose fee cap is 2-3 times the base fee %d", base)
		}
		return nil
	})
	r.run(ctx, "fee/price-block-full", func(ctx context.Context) error {
		resp, err := fc.PriceBlock(ctx, full.req)
		if err != nil {
			return callErr(p, "PriceBlock of a full block", err)
		}
		if got, want := len(resp.GetTxs()), len(full.req.GetTxs()); got != want {
			return violation("PriceBlock of %d transactions returned %d prices", want, got)
		}
		full.resp = resp
		for i, tp := range resp.GetTxs() {
			if !included(tp) {
				return violation("a block of %d transactions that exactly fill its gas limit %d, each with a fee cap of 3x the base fee %d: transaction %d was rejected (%s: %s)",
					len(resp.GetTxs()), full.req.GetGasLimit(), base, i, tp.GetReject(), tp.GetReason())
			}
		}
		if resp.GetGasUsed() != full.req.GetGasLimit() {
			return violation("the full block reports gas_used %d, its transactions used %d", resp.GetGasUsed(), full.req.GetGasLimit())
		}
		return nil
	})

	var blocks []*pricedBlock
	for _, b := range []*pricedBlock{empty, varied, full} {
		if b.resp != nil {
			blocks = append(blocks, b)
		}
	}
	perTx := func(name string, check func(b *pricedBlock, i int, t *feev1.TxFee, tp *feev1.TxPrice) error) {
		r.run(ctx, name, func(context.Context) error {
			if varied.resp == nil && full.resp == nil {
				return skipf("no block with transactions was priced")
			}
			for _, b := range blocks {
				for i, tp := range b.resp.GetTxs() {
					if err := check(b, i, b.req.GetTxs()[i], tp); err != nil {
						return fmt.Errorf("%s, transaction %d (gas_used %d, max_fee_per_gas %d, max_priority_fee_per_gas %d): %w",
							b.what, i, b.req.GetTxs()[i].GetGasUsed(), b.req.GetTxs()[i].GetMaxFeePerGas(), b.req.GetTxs()[i].GetMaxPriorityFeePerGas(), err)
					}
				}
			}
			return nil
		})
	}

	r.run(ctx, "fee/price-block-base-fee", func(context.Context) error {
		for _, b := range blocks {
			if b.resp.GetBaseFee() != base {
				return violation("PriceBlock of the %s says base_fee %d; BaseFee of the same parent says %d", b.what, b.resp.GetBaseFee(), base)
			}
		}
		return nil
	})
	perTx("fee/price-block-split-sums", func(_ *pricedBlock, _ int, _ *feev1.TxFee, tp *feev1.TxPrice) error {
		sum, ok := splitSum(tp.GetSplit())
		if !ok || sum != tp.GetFee() {
			return violation("split %s does not sum to fee %d", fmtSplit(tp.GetSplit()), tp.GetFee())
		}
		return nil
	})
	r.run(ctx, "fee/price-block-totals", func(context.Context) error {
		for _, b := range blocks {
			var tot feev1.Split
			var gas uint64
			for _, tp := range b.resp.GetTxs() {
				s := tp.GetSplit()
				tot.Burn = satAdd(tot.Burn, s.GetBurn())
				tot.Treasury = satAdd(tot.Treasury, s.GetTreasury())
				tot.Sequencer = satAdd(tot.Sequencer, s.GetSequencer())
				tot.Prover = satAdd(tot.Prover, s.GetProver())
			}
			for i, tp := range b.resp.GetTxs() {
				if included(tp) {
					gas = satAdd(gas, b.req.GetTxs()[i].GetGasUsed())
				}
			}
			got := b.resp.GetTotals()
			if got.GetBurn() != tot.Burn || got.GetTreasury() != tot.Treasury || got.GetSequencer() != tot.Sequencer || got.GetProver() != tot.Prover {
				return violation("%s: totals %s; the transactions' splits add up to %s", b.what, fmtSplit(got), fmtSplit(&tot))
			}
			if b.resp.GetGasUsed() != gas {
				return violation("%s: gas_used %d; the included transactions used %d", b.what, b.resp.GetGasUsed(), gas)
			}
		}
		return nil
	})
	perTx("fee/price-block-fee-is-gas-times-price", func(_ *pricedBlock, _ int, t *feev1.TxFee, tp *feev1.TxPrice) error {
		if !included(tp) {
			return nil
		}
		hi, lo := bits.Mul64(t.GetGasUsed(), tp.GetEffectiveGasPrice())
		if hi != 0 || lo != tp.GetFee() {
			return violation("fee %d is not gas_used × effective_gas_price = %d × %d", tp.GetFee(), t.GetGasUsed(), tp.GetEffectiveGasPrice())
		}
		return nil
	})
	perTx("fee/price-block-price-bounds", func(b *pricedBlock, _ int, t *feev1.TxFee, tp *feev1.TxPrice) error {
		if !included(tp) {
			return nil
		}
		if eff := tp.GetEffectiveGasPrice(); eff > t.GetMaxFeePerGas() || eff < b.resp.GetBaseFee() {
			return violation("effective_gas_price %d is outside [base fee %d, max_fee_per_gas %d]", eff, b.resp.GetBaseFee(), t.GetMaxFeePerGas())
		}
		return nil
	})
	perTx("fee/price-block-tip", func(b *pricedBlock, _ int, t *feev1.TxFee, tp *feev1.TxPrice) error {
		if !included(tp) {
			return nil
		}
		hi, lo := bits.Mul64(t.GetGasUsed(), tp.GetTipPerGas())
		switch {
		case hi != 0 || lo != tp.GetTip():
			return violation("tip %d is not gas_used × tip_per_gas = %d × %d", tp.GetTip(), t.GetGasUsed(), tp.GetTipPerGas())
		case tp.GetTip() > tp.GetFee():
			return violation("tip %d exceeds fee %d", tp.GetTip(), tp.GetFee())
		case tp.GetTipPerGas() > t.GetMaxPriorityFeePerGas():
			return violation("tip_per_gas %d exceeds max_priority_fee_per_gas %d", tp.GetTipPerGas(), t.GetMaxPriorityFeePerGas())
		case tp.GetEffectiveGasPrice() < b.resp.GetBaseFee() || tp.GetTipPerGas() > tp.GetEffectiveGasPrice()-b.resp.GetBaseFee():
			return violation("tip_per_gas %d exceeds effective_gas_price %d minus base fee %d", tp.GetTipPerGas(), tp.GetEffectiveGasPrice(), b.resp.GetBaseFee())
		}
		return nil
	})
	perTx("fee/price-block-rejects-fee-cap-below-base-fee", func(b *pricedBlock, i int, _ *feev1.TxFee, tp *feev1.TxPrice) error {
		if included(tp) && i != b.mustReject {
			return nil
		}
		if i == b.mustReject && included(tp) {
			return violation("max_fee_per_gas is below the base fee %d, yet the transaction was priced (fee %d) instead of rejected", b.resp.GetBaseFee(), tp.GetFee())
		}
		// Every rejected transaction: a reject code and nothing charged.
		if sum, _ := splitSum(tp.GetSplit()); tp.GetFee() != 0 || tp.GetTip() != 0 || sum != 0 {
			return violation("rejected (%s) but charged: fee %d, tip %d, split %s", tp.GetReject(), tp.GetFee(), tp.GetTip(), fmtSplit(tp.GetSplit()))
		}
		return nil
	})
	r.run(ctx, "fee/price-block-deterministic", func(ctx context.Context) error {
		for _, b := range blocks {
			again, err := fc.PriceBlock(ctx, b.req)
			if err != nil {
				return callErr(p, "PriceBlock of the "+b.what+" again", err)
			}
			if !proto.Equal(again, b.resp) {
				return violation("PriceBlock of the same %s answered differently the second time:\nfirst:  %v\nsecond: %v", b.what, b.resp, again)
			}
		}
		return nil
	})
	r.run(ctx, "fee/next-base-fee-follows-demand", func(context.Context) error {
		if empty.resp == nil || full.resp == nil {
			return skipf("needs both the empty and the full block priced")
		}
		if e := empty.resp; e.GetNextBaseFee() > e.GetBaseFee() {
			return violation("after an empty block the base fee rises from %d to %d", e.GetBaseFee(), e.GetNextBaseFee())
		}
		if f := full.resp; f.GetNextBaseFee() < f.GetBaseFee() {
			return violation("after a full block the base fee falls from %d to %d", f.GetBaseFee(), f.GetNextBaseFee())
		}
		return nil
	})
	r.run(ctx, "fee/next-base-fee-matches-base-fee", func(ctx context.Context) error {
		for _, b := range blocks {
			child := &feev1.Parent{Height: b.req.GetParent().GetHeight() + 1, BaseFee: b.resp.GetBaseFee(),
				GasUsed: b.resp.GetGasUsed(), GasLimit: b.req.GetGasLimit()}
			got, err := fc.BaseFee(ctx, &feev1.BaseFeeRequest{Parent: child})
			if err != nil {
				return callErr(p, "BaseFee of the priced "+b.what, err)
			}
			if got.GetBaseFee() != b.resp.GetNextBaseFee() {
				return violation("PriceBlock of the %s says next_base_fee %d; BaseFee with that block as parent says %d",
					b.what, b.resp.GetNextBaseFee(), got.GetBaseFee())
			}
		}
		return nil
	})
	r.run(ctx, "fee/quote", func(ctx context.Context) error {
		if !slices.Contains(caps, CapFeeQuote) {
			return skipf("capability %q not declared", CapFeeQuote)
		}
		for _, within := range []uint32{1, 10} {
			q, err := fc.Quote(ctx, &feev1.QuoteRequest{Parent: feeParent(), WithinBlocks: within})
			if err != nil {
				return callErr(p, fmt.Sprintf("Quote within %d blocks", within), err)
			}
			if q.GetMaxFeePerGas() < q.GetBaseFee() || q.GetMaxPriorityFeePerGas() > q.GetMaxFeePerGas() {
				return violation("Quote within %d blocks: base_fee %d, max_fee_per_gas %d, max_priority_fee_per_gas %d; want base_fee ≤ max_fee_per_gas and max_priority_fee_per_gas ≤ max_fee_per_gas",
					within, q.GetBaseFee(), q.GetMaxFeePerGas(), q.GetMaxPriorityFeePerGas())
			}
		}
		return nil
	})
}
