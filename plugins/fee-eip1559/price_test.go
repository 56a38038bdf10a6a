package fee

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
)

// The worked example of docs/fee-market.md, number for number.
func TestPriceBlockWorkedExample(t *testing.T) {
	parent := ParentInfo{BaseFee: 1_000, GasUsed: 18_000_000, GasLimit: 30_000_000, Height: 41}
	txs := []TxInput{
		{GasLimit: 21_000, GasUsed: 21_000, MaxFeePerGas: 2_000, MaxPriorityFeePerGas: 10},
		{GasLimit: 100_000, GasUsed: 65_537, MaxFeePerGas: 1_030, MaxPriorityFeePerGas: 50},
		{GasLimit: 50_000, GasUsed: 50_000, MaxFeePerGas: 1_000, MaxPriorityFeePerGas: 1},
		{GasLimit: 5_000_000, GasUsed: 4_000_000, MaxFeePerGas: 3_000, MaxPriorityFeePerGas: 100},
	}
	got, err := PriceBlock(DefaultParams(), parent, txs)
	if err != nil {
		t.Fatal(err)
	}
	want := BlockPricing{
		Height: 42, BaseFee: 1_025, GasLimit: 30_000_000, GasTarget: 15_000_000, GasUsed: 4_086_537,
		Included: 3, Rejected: 1,
		Txs: []TxResult{
			{Index: 0, GasUsed: 21_000, EffectiveGasPrice: 1_035, TipPerGas: 10, BaseFeeAmount: 21_525_000, TipAmount: 210_000,
				Fee: 21_735_000, Shares: Shares{Burn: 10_762_500, Treasury: 2_152_500, Sequencer: 210_000, Prover: 8_610_000}},
			{Index: 1, GasUsed: 65_537, EffectiveGasPrice: 1_030, TipPerGas: 5, BaseFeeAmount: 67_175_425, TipAmount: 327_685,
				Fee: 67_503_110, Shares: Shares{Burn: 33_587_713, Treasury: 6_717_542, Sequencer: 327_685, Prover: 26_870_170}},
			{Index: 2, Reason: ReasonFeeCapBelowBaseFee, Detail: "max fee per gas 1000 is below base fee 1025"},
			{Index: 3, GasUsed: 4_000_000, EffectiveGasPrice: 1_125, TipPerGas: 100, BaseFeeAmount: 4_100_000_000, TipAmount: 400_000_000,
				Fee: 4_500_000_000, Shares: Shares{Burn: 2_050_000_000, Treasury: 410_000_000, Sequencer: 400_000_000, Prover: 1_640_000_000}},
		},
		TotalBaseFee: 4_188_700_425, TotalTip: 400_537_685, TotalFee: 4_589_238_110,
		Totals:      Shares{Burn: 2_094_350_213, Treasury: 418_870_042, Sequencer: 400_537_685, Prover: 1_675_480_170},
		NextBaseFee: 932,
	}
	if !equalPricing(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("PriceBlock =\n%s\nwant\n%s", g, w)
	}
	err = got.Txs[2].Err()
	var te *TxError
	if !errors.As(err, &te) || te.Index != 2 || !errors.Is(err, ErrFeeCapBelowBaseFee) || !errors.Is(err, ErrRejected) {
		t.Fatalf("Txs[2].Err() = %v, want a *TxError at index 2 wrapping ErrFeeCapBelowBaseFee", err)
	}
	if msg := err.Error(); msg != "fee: transaction 2 rejected (fee_cap_below_base_fee): max fee per gas 1000 is below base fee 1025" {
		t.Fatalf("error message %q", msg)
	}
	if got.Txs[0].Err() != nil || !got.Txs[0].Included() || got.Txs[2].Included() {
		t.Fatal("Included/Err disagree with Reason")
	}
}

func equalPricing(a, b BlockPricing) bool {
	return reflect.DeepEqual(a, b)
}

func TestPriceTx(t *testing.T) {
	p := DefaultParams()
	const base = 1_000
	tests := []struct {
		name   string
		tx     TxInput
		reason Reason
		price  uint64
		tip    uint64
		fee    uint64
	}{
		{"tip below cap", TxInput{GasLimit: 100, GasUsed: 100, MaxFeePerGas: 2_000, MaxPriorityFeePerGas: 3}, ReasonNone, 1_003, 3, 100_300},
		{"tip capped by max fee", TxInput{GasLimit: 100, GasUsed: 100, MaxFeePerGas: 1_002, MaxPriorityFeePerGas: 50}, ReasonNone, 1_002, 2, 100_200},
		{"max fee equals base fee", TxInput{GasLimit: 100, GasUsed: 100, MaxFeePerGas: 1_000, MaxPriorityFeePerGas: 1_000}, ReasonNone, 1_000, 0, 100_000},
		{"zero tip", TxInput{GasLimit: 100, GasUsed: 100, MaxFeePerGas: 5_000}, ReasonNone, 1_000, 0, 100_000},
		{"charged on gas used", TxInput{GasLimit: 1_000, GasUsed: 1, MaxFeePerGas: 5_000, MaxPriorityFeePerGas: 7}, ReasonNone, 1_007, 7, 1_007},
		{"zero gas used", TxInput{GasLimit: 10, MaxFeePerGas: 5_000, MaxPriorityFeePerGas: 7}, ReasonNone, 1_007, 7, 0},
		{"max fee below base fee", TxInput{GasLimit: 100, GasUsed: 100, MaxFeePerGas: 999}, ReasonFeeCapBelowBaseFee, 0, 0, 0},
		{"tip above fee cap", TxInput{GasLimit: 100, GasUsed: 100, MaxFeePerGas: 2_000, MaxPriorityFeePerGas: 2_001}, ReasonTipAboveFeeCap, 0, 0, 0},
		{"gas used above limit", TxInput{GasLimit: 100, GasUsed: 101, MaxFeePerGas: 2_000}, ReasonGasUsedAboveLimit, 0, 0, 0},
		{"fee cap overflow", TxInput{GasLimit: 1 << 32, GasUsed: 1, MaxFeePerGas: 1 << 32}, ReasonFeeCapOverflow, 0, 0, 0},
		{"fee cap just fits", TxInput{GasLimit: 1 << 32, GasUsed: 1 << 32, MaxFeePerGas: 1<<32 - 1, MaxPriorityFeePerGas: 1<<32 - 1},
			ReasonNone, 1<<32 - 1, 1<<32 - 1 - base, (1<<32 - 1) << 32},
		{"max values", TxInput{GasLimit: 1, GasUsed: 1, MaxFeePerGas: math.MaxUint64, MaxPriorityFeePerGas: math.MaxUint64},
			ReasonNone, math.MaxUint64, math.MaxUint64 - base, math.MaxUint64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := PriceTx(p, base, tc.tx)
			if r.Reason != tc.reason {
				t.Fatalf("reason %s (%s), want %s", r.Reason, r.Detail, tc.reason)
			}
			if tc.reason != ReasonNone {
				var te *TxError
				if !errors.As(err, &te) || te.Index != -1 || te.Reason != tc.reason || !errors.Is(err, tc.reason.Err()) {
					t.Fatalf("error %v, want *TxError(%s)", err, tc.reason)
				}
				if r.Fee != 0 || r.Shares != (Shares{}) || r.GasUsed != 0 {
					t.Fatalf("rejected tx priced: %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.EffectiveGasPrice != tc.price || r.TipPerGas != tc.tip || r.Fee != tc.fee {
				t.Fatalf("price %d tip %d fee %d, want %d %d %d", r.EffectiveGasPrice, r.TipPerGas, r.Fee, tc.price, tc.tip, tc.fee)
			}
			if sum, err := r.Shares.Sum(); err != nil || sum != r.Fee || r.BaseFeeAmount+r.TipAmount != r.Fee {
				t.Fatalf("shares %+v do not add up to fee %d", r.Shares, r.Fee)
			}
		})
	}
	if _, err := PriceTx(Params{}, base, TxInput{}); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("PriceTx with zero params: %v, want ErrInvalidParams", err)
	}
}

// Reasons are checked in the documented order.
func TestRejectPrecedence(t *testing.T) {
	tx := TxInput{GasLimit: 1 << 40, GasUsed: 1<<40 + 1, MaxFeePerGas: 1 << 40, MaxPriorityFeePerGas: 1<<40 + 1}
	want := []Reason{ReasonGasUsedAboveLimit, ReasonTipAboveFeeCap, ReasonFeeCapBelowBaseFee, ReasonFeeCapOverflow}
	base := uint64(1<<40 + 1)
	for i, w := range want {
		r, _ := PriceTx(DefaultParams(), base, tx)
		if r.Reason != w {
			t.Fatalf("step %d: reason %s, want %s", i, r.Reason, w)
		}
		switch w {
		case ReasonGasUsedAboveLimit:
			tx.GasUsed = tx.GasLimit
		case ReasonTipAboveFeeCap:
			tx.MaxPriorityFeePerGas = 0
		case ReasonFeeCapBelowBaseFee:
			base = 1
		}
	}
}

func TestPriceBlockGasLimit(t *testing.T) {
	parent := ParentInfo{BaseFee: 100, GasUsed: 50, GasLimit: 100, Height: 7}
	tx := func(gas uint64) TxInput {
		return TxInput{GasLimit: gas, GasUsed: gas, MaxFeePerGas: 200, MaxPriorityFeePerGas: 1}
	}
	got, err := PriceBlock(DefaultParams(), parent, []TxInput{tx(60), tx(50), tx(40), tx(1)})
	if err != nil {
		t.Fatal(err)
	}
	reasons := []Reason{ReasonNone, ReasonBlockGasLimit, ReasonNone, ReasonBlockGasLimit}
	for i, w := range reasons {
		if got.Txs[i].Reason != w {
			t.Fatalf("tx %d: reason %s, want %s", i, got.Txs[i].Reason, w)
		}
	}
	if want := "gas used 50 is above the 40 gas left of block 8's gas limit 100"; got.Txs[1].Detail != want {
		t.Fatalf("detail %q, want %q", got.Txs[1].Detail, want)
	}
	if !errors.Is(got.Txs[1].Err(), ErrBlockGasLimit) {
		t.Fatalf("Txs[1].Err() = %v", got.Txs[1].Err())
	}
	// Full block: 100 + 100·50/50/8 = 112.
	if got.GasUsed != 100 || got.Included != 2 || got.Rejected != 2 || got.Height != 8 || got.BaseFee != 100 || got.NextBaseFee != 112 {
		t.Fatalf("block %+v", got)
	}
}

func TestPriceBlockEmpty(t *testing.T) {
	for _, txs := range [][]TxInput{nil, {}} {
		got, err := PriceBlock(DefaultParams(), ParentInfo{BaseFee: 1_000_000_000, GasUsed: 20_000_000, GasLimit: 20_000_000}, txs)
		if err != nil {
			t.Fatal(err)
		}
		// This block's base fee rises 12.5 % after the full parent; being
		// empty, the next one falls 12.5 % from there.
		if got.BaseFee != 1_125_000_000 || got.NextBaseFee != 984_375_000 || len(got.Txs) != 0 || got.TotalFee != 0 {
			t.Fatalf("empty block: %+v", got)
		}
	}
}

func TestPriceBlockErrors(t *testing.T) {
	good := ParentInfo{BaseFee: 1 << 62, GasUsed: 10, GasLimit: 20}
	big := TxInput{GasLimit: 3, GasUsed: 3, MaxFeePerGas: 1 << 62}
	tests := []struct {
		name   string
		params Params
		parent ParentInfo
		txs    []TxInput
		want   error
	}{
		{"invalid params", Params{}, good, nil, ErrInvalidParams},
		{"bad parent", DefaultParams(), ParentInfo{GasUsed: 2, GasLimit: 1}, nil, ErrInvalidParent},
		{"last height", DefaultParams(), ParentInfo{GasUsed: 1, GasLimit: 2, Height: math.MaxUint64}, nil, ErrInvalidParent},
		{"base fee overflow", DefaultParams(), ParentInfo{BaseFee: math.MaxUint64, GasUsed: 20, GasLimit: 20}, nil, ErrOverflow},
		{"total fee overflow", DefaultParams(), good, []TxInput{big, big}, ErrOverflow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PriceBlock(tc.params, tc.parent, tc.txs)
			if !errors.Is(err, tc.want) {
				t.Fatalf("PriceBlock = %+v, %v; want error %v", got, err, tc.want)
			}
		})
	}
	// One such transaction alone fits.
	if _, err := PriceBlock(DefaultParams(), good, []TxInput{big}); err != nil {
		t.Fatalf("single large tx: %v", err)
	}
}

func TestReasonStrings(t *testing.T) {
	want := map[Reason]string{
		ReasonNone: "none", ReasonGasUsedAboveLimit: "gas_used_above_limit", ReasonTipAboveFeeCap: "tip_above_fee_cap",
		ReasonFeeCapBelowBaseFee: "fee_cap_below_base_fee", ReasonFeeCapOverflow: "fee_cap_overflow",
		ReasonBlockGasLimit: "block_gas_limit", Reason(200): "reason(200)",
	}
	for r, s := range want {
		if r.String() != s {
			t.Errorf("Reason(%d).String() = %q, want %q", r, r.String(), s)
		}
	}
	if ReasonNone.Err() != nil || Reason(200).Err() != ErrRejected {
		t.Error("Reason.Err for none/unknown")
	}
}
