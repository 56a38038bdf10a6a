package fee

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestQuote(t *testing.T) {
	atTarget := ParentInfo{BaseFee: 1_000_000_000, GasUsed: 15_000_000, GasLimit: 30_000_000, Height: 9}
	tips := []uint64{5, 1, 9, 3, 7, 2, 8, 4, 6, 10}
	withCeiling := DefaultParams()
	withCeiling.MaxBaseFee = 1_200_000_000
	elastic1 := DefaultParams()
	elastic1.ElasticityMultiplier = 1
	p90 := DefaultParams()
	p90.QuoteTipPercentile = 90
	floorTip := DefaultParams()
	floorTip.QuoteMinTip = 50
	tests := []struct {
		name   string
		params Params
		blocks uint64
		tips   []uint64
		want   QuoteResult
	}{
		{"next block no tips", DefaultParams(), 1, nil,
			QuoteResult{Blocks: 1, BaseFee: 1_000_000_000, WorstBaseFee: 1_000_000_000, MaxPriorityFeePerGas: 1, MaxFeePerGas: 1_000_000_001}},
		{"three blocks p60", DefaultParams(), 3, tips,
			QuoteResult{Blocks: 3, BaseFee: 1_000_000_000, WorstBaseFee: 1_265_625_000, MaxPriorityFeePerGas: 6, MaxFeePerGas: 1_265_625_006}},
		{"six blocks p90", p90, 6, tips,
			QuoteResult{Blocks: 6, BaseFee: 1_000_000_000, WorstBaseFee: 1_802_032_470, MaxPriorityFeePerGas: 9, MaxFeePerGas: 1_802_032_479}},
		{"tip floor", floorTip, 2, tips,
			QuoteResult{Blocks: 2, BaseFee: 1_000_000_000, WorstBaseFee: 1_125_000_000, MaxPriorityFeePerGas: 50, MaxFeePerGas: 1_125_000_050}},
		{"ceiling stops growth", withCeiling, MaxQuoteBlocks, tips,
			QuoteResult{Blocks: MaxQuoteBlocks, BaseFee: 1_000_000_000, WorstBaseFee: 1_200_000_000, MaxPriorityFeePerGas: 6, MaxFeePerGas: 1_200_000_006}},
		{"elasticity 1 never rises", elastic1, 100, nil,
			QuoteResult{Blocks: 100, BaseFee: 937_500_000, WorstBaseFee: 937_500_000, MaxPriorityFeePerGas: 1, MaxFeePerGas: 937_500_001}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.tips)
			got, err := Quote(tc.params, atTarget, tc.blocks, tc.tips)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Quote = %+v, want %+v", got, tc.want)
			}
			if !slices.Equal(before, tc.tips) {
				t.Fatal("Quote modified recentTips")
			}
		})
	}
}

// A transaction built from a quote stays includable in every block of the
// window, even when every block is full.
func TestQuoteCoversWindow(t *testing.T) {
	p := DefaultParams()
	parent := ParentInfo{BaseFee: 777_777, GasUsed: 29_000_000, GasLimit: 30_000_000}
	const window = 20
	q, err := Quote(p, parent, window, []uint64{3})
	if err != nil {
		t.Fatal(err)
	}
	tx := TxInput{GasLimit: 21_000, GasUsed: 21_000, MaxFeePerGas: q.MaxFeePerGas, MaxPriorityFeePerGas: q.MaxPriorityFeePerGas}
	for i := range window {
		// Every block is full with filler that pays exactly the base fee.
		filler := TxInput{GasLimit: 30_000_000 - 21_000, GasUsed: 30_000_000 - 21_000, MaxFeePerGas: math.MaxUint64 / 30_000_000}
		b, err := PriceBlock(p, parent, []TxInput{tx, filler})
		if err != nil {
			t.Fatal(err)
		}
		if r := b.Txs[0]; !r.Included() || r.TipPerGas != 3 {
			t.Fatalf("block %d: quoted tx %s (tip %d)", i+1, r.Reason, r.TipPerGas)
		}
		if i == window-1 && b.BaseFee != q.WorstBaseFee {
			t.Fatalf("last block base fee %d, quote's worst case %d", b.BaseFee, q.WorstBaseFee)
		}
		parent = ParentInfo{BaseFee: b.BaseFee, GasUsed: b.GasUsed, GasLimit: b.GasLimit, Height: b.Height}
	}
	// One block later the worst case is past the quote.
	b, err := PriceBlock(p, parent, []TxInput{tx})
	if err != nil {
		t.Fatal(err)
	}
	if b.Txs[0].Reason != ReasonFeeCapBelowBaseFee {
		t.Fatalf("block %d after the window: %s", window+1, b.Txs[0].Reason)
	}
}

func TestQuoteErrors(t *testing.T) {
	ok := ParentInfo{BaseFee: 1_000, GasUsed: 15, GasLimit: 30}
	tests := []struct {
		name   string
		params Params
		parent ParentInfo
		blocks uint64
		want   error
	}{
		{"zero blocks", DefaultParams(), ok, 0, ErrInvalidQuote},
		{"too many blocks", DefaultParams(), ok, MaxQuoteBlocks + 1, ErrInvalidQuote},
		{"invalid params", Params{}, ok, 1, ErrInvalidParams},
		{"invalid parent", DefaultParams(), ParentInfo{GasUsed: 31, GasLimit: 30}, 1, ErrInvalidParent},
		{"worst case overflows", DefaultParams(), ParentInfo{BaseFee: math.MaxUint64 / 2, GasUsed: 15, GasLimit: 30}, 10, ErrOverflow},
		{"tip overflows", DefaultParams(), ParentInfo{BaseFee: math.MaxUint64, GasUsed: 15, GasLimit: 30}, 1, ErrOverflow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Quote(tc.params, tc.parent, tc.blocks, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Quote = %+v, %v; want error %v", got, err, tc.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	vals := []uint64{50, 10, 40, 20, 30}
	for _, tc := range []struct {
		vals []uint64
		pct  uint64
		want uint64
	}{
		{nil, 60, 0}, {[]uint64{7}, 1, 7}, {[]uint64{7}, 100, 7},
		{vals, 1, 10}, {vals, 20, 10}, {vals, 21, 20}, {vals, 50, 30}, {vals, 60, 30}, {vals, 61, 40}, {vals, 100, 50},
	} {
		if got := percentile(tc.vals, tc.pct); got != tc.want {
			t.Errorf("percentile(%v, %d) = %d, want %d", tc.vals, tc.pct, got, tc.want)
		}
	}
}
