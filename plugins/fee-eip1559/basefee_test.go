package fee

import (
	"errors"
	"math"
	"testing"
)

func TestNextBaseFee(t *testing.T) {
	const gwei = 1_000_000_000
	eip := DefaultParams()
	eip.MinBaseFee = 0 // pure EIP-1559: no floor
	with := func(f func(*Params)) Params {
		p := eip
		f(&p)
		return p
	}
	tests := []struct {
		name   string
		params Params
		parent ParentInfo
		want   uint64
	}{
		// EIP-1559 reference numbers (go-ethereum's TestCalcBaseFee uses the
		// first three): gas limit 20M, target 10M.
		{"at target", eip, ParentInfo{BaseFee: gwei, GasUsed: 10_000_000, GasLimit: 20_000_000}, 1_000_000_000},
		{"below target", eip, ParentInfo{BaseFee: gwei, GasUsed: 9_000_000, GasLimit: 20_000_000}, 987_500_000},
		{"above target", eip, ParentInfo{BaseFee: gwei, GasUsed: 11_000_000, GasLimit: 20_000_000}, 1_012_500_000},
		{"full block +12.5%", eip, ParentInfo{BaseFee: gwei, GasUsed: 20_000_000, GasLimit: 20_000_000}, 1_125_000_000},
		{"empty block -12.5%", eip, ParentInfo{BaseFee: gwei, GasUsed: 0, GasLimit: 20_000_000}, 875_000_000},
		{"odd gas limit target floors", eip, ParentInfo{BaseFee: gwei, GasUsed: 10_000_000, GasLimit: 20_000_001}, 1_000_000_000},
		// The minimum increase of 1 when used > target.
		{"min +1 small fee", eip, ParentInfo{BaseFee: 7, GasUsed: 10_000_001, GasLimit: 20_000_000}, 8},
		{"min +1 full block small fee", eip, ParentInfo{BaseFee: 7, GasUsed: 20_000_000, GasLimit: 20_000_000}, 8},
		{"min +1 from zero", eip, ParentInfo{BaseFee: 0, GasUsed: 20_000_000, GasLimit: 20_000_000}, 1},
		{"one gas over target", eip, ParentInfo{BaseFee: gwei, GasUsed: 10_000_001, GasLimit: 20_000_000}, 1_000_000_012},
		{"min +1 large fee large target", eip, ParentInfo{BaseFee: gwei, GasUsed: 10_000_000_001, GasLimit: 20_000_000_000}, 1_000_000_001},
		{"no min decrease", eip, ParentInfo{BaseFee: 7, GasUsed: 0, GasLimit: 20_000_000}, 7},
		{"exact +1/8", eip, ParentInfo{BaseFee: 8, GasUsed: 20_000_000, GasLimit: 20_000_000}, 9},
		// Floor and ceiling.
		{"floor", with(func(p *Params) { p.MinBaseFee = 900_000_000 }),
			ParentInfo{BaseFee: gwei, GasUsed: 0, GasLimit: 20_000_000}, 900_000_000},
		{"parent below floor lifted", with(func(p *Params) { p.MinBaseFee = 5 }),
			ParentInfo{BaseFee: 1, GasUsed: 10_000_000, GasLimit: 20_000_000}, 5},
		{"default floor 1 from zero at target", DefaultParams(),
			ParentInfo{BaseFee: 0, GasUsed: 10_000_000, GasLimit: 20_000_000}, 1},
		{"ceiling", with(func(p *Params) { p.MaxBaseFee = 1_100_000_000 }),
			ParentInfo{BaseFee: gwei, GasUsed: 20_000_000, GasLimit: 20_000_000}, 1_100_000_000},
		{"parent above ceiling lowered", with(func(p *Params) { p.MaxBaseFee = 1_500_000_000 }),
			ParentInfo{BaseFee: 2 * gwei, GasUsed: 10_000_000, GasLimit: 20_000_000}, 1_500_000_000},
		{"floor equals ceiling", with(func(p *Params) { p.MinBaseFee, p.MaxBaseFee = 42, 42 }),
			ParentInfo{BaseFee: gwei, GasUsed: 20_000_000, GasLimit: 20_000_000}, 42},
		// Odd gas limit at elasticity 2: EIP-1559 counts the whole excess
		// (target + 1), so a full block is a hair above +1/D.
		{"odd limit full", eip, ParentInfo{BaseFee: 80, GasUsed: 21, GasLimit: 21}, 91},
		// The excess cap: with elasticity 4 a full block would be +37.5 %
		// under plain EIP-1559; Trellis counts at most target + (limit mod 4)
		// of excess.
		{"elasticity 4 quarter over", with(func(p *Params) { p.ElasticityMultiplier = 4 }),
			ParentInfo{BaseFee: gwei, GasUsed: 15_000_000, GasLimit: 40_000_000}, 1_062_500_000},
		{"elasticity 4 double target", with(func(p *Params) { p.ElasticityMultiplier = 4 }),
			ParentInfo{BaseFee: gwei, GasUsed: 20_000_000, GasLimit: 40_000_000}, 1_125_000_000},
		{"elasticity 4 full clamped", with(func(p *Params) { p.ElasticityMultiplier = 4 }),
			ParentInfo{BaseFee: gwei, GasUsed: 40_000_000, GasLimit: 40_000_000}, 1_125_000_000},
		{"elasticity 4 odd limit full", with(func(p *Params) { p.ElasticityMultiplier = 4 }),
			ParentInfo{BaseFee: 80, GasUsed: 43, GasLimit: 43}, 93},
		{"elasticity 3 full", with(func(p *Params) { p.ElasticityMultiplier = 3 }),
			ParentInfo{BaseFee: gwei, GasUsed: 20_000_000, GasLimit: 20_000_000}, 1_125_000_037},
		{"elasticity 1 full is target", with(func(p *Params) { p.ElasticityMultiplier = 1 }),
			ParentInfo{BaseFee: gwei, GasUsed: 10_000_000, GasLimit: 10_000_000}, 1_000_000_000},
		{"elasticity 1 half", with(func(p *Params) { p.ElasticityMultiplier = 1 }),
			ParentInfo{BaseFee: gwei, GasUsed: 5_000_000, GasLimit: 10_000_000}, 937_500_000},
		{"denominator 1 empty to floor", with(func(p *Params) { p.BaseFeeMaxChangeDenominator = 1; p.MinBaseFee = 3 }),
			ParentInfo{BaseFee: gwei, GasUsed: 0, GasLimit: 20_000_000}, 3},
		{"denominator 1 full doubles", with(func(p *Params) { p.BaseFeeMaxChangeDenominator = 1 }),
			ParentInfo{BaseFee: gwei, GasUsed: 20_000_000, GasLimit: 20_000_000}, 2 * gwei},
		// 128-bit products: 1e18 × 1.5e10 does not fit in 64 bits.
		{"128-bit product", eip, ParentInfo{BaseFee: 1_000_000_000_000_000_000, GasUsed: 30_000_000_000, GasLimit: 30_000_000_000},
			1_125_000_000_000_000_000},
		{"128-bit product elasticity 4", with(func(p *Params) { p.ElasticityMultiplier = 4 }),
			ParentInfo{BaseFee: 1_000_000_000_000_000_000, GasUsed: 30_000_000_000, GasLimit: 30_000_000_000}, 1_125_000_000_000_000_000},
		{"max uint64 quotient beyond 64 bits", with(func(p *Params) { p.ElasticityMultiplier = 1 << 40; p.MaxBaseFee = math.MaxUint64 }),
			ParentInfo{BaseFee: math.MaxUint64 / 2, GasUsed: 1 << 62, GasLimit: 1 << 62}, math.MaxUint64/2 + math.MaxUint64/2/8},
		{"128-bit quotient", with(func(p *Params) { p.BaseFeeMaxChangeDenominator = 16 }),
			ParentInfo{BaseFee: 1 << 63, GasUsed: 3, GasLimit: 3}, 1<<63 + 1<<60},
		{"delta beyond 64 bits hits ceiling", with(func(p *Params) { p.BaseFeeMaxChangeDenominator = 1; p.MaxBaseFee = 1 << 63 }),
			ParentInfo{BaseFee: math.MaxUint64, GasUsed: 3, GasLimit: 3}, 1 << 63},
		// uint64 extremes that fit.
		{"max at target", eip, ParentInfo{BaseFee: math.MaxUint64, GasUsed: 10, GasLimit: 20}, math.MaxUint64},
		{"max empty", eip, ParentInfo{BaseFee: math.MaxUint64, GasUsed: 0, GasLimit: 20}, 16_140_901_064_495_857_664},
		{"max full with ceiling saturates", with(func(p *Params) { p.MaxBaseFee = math.MaxUint64 }),
			ParentInfo{BaseFee: math.MaxUint64, GasUsed: 20, GasLimit: 20}, math.MaxUint64},
		{"overflowing sum with lower ceiling", with(func(p *Params) { p.MaxBaseFee = 1 << 63 }),
			ParentInfo{BaseFee: math.MaxUint64 - 1, GasUsed: 20, GasLimit: 20}, 1 << 63},
		{"max gas", eip, ParentInfo{BaseFee: gwei, GasUsed: math.MaxUint64, GasLimit: math.MaxUint64}, 1_125_000_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextBaseFee(tc.params, tc.parent)
			if err != nil {
				t.Fatalf("NextBaseFee(%+v) error: %v", tc.parent, err)
			}
			if got != tc.want {
				t.Fatalf("NextBaseFee(%+v) = %d, want %d", tc.parent, got, tc.want)
			}
		})
	}
}

func TestNextBaseFeeErrors(t *testing.T) {
	p := DefaultParams()
	tests := []struct {
		name   string
		params Params
		parent ParentInfo
		want   error
	}{
		{"overflow without ceiling", p, ParentInfo{BaseFee: math.MaxUint64, GasUsed: 20, GasLimit: 20}, ErrOverflow},
		{"delta beyond 64 bits", func() Params { q := p; q.BaseFeeMaxChangeDenominator = 1; return q }(),
			ParentInfo{BaseFee: math.MaxUint64, GasUsed: 3, GasLimit: 3}, ErrOverflow},
		{"overflow by one", p, ParentInfo{BaseFee: math.MaxUint64, GasUsed: 11, GasLimit: 20}, ErrOverflow},
		{"used above limit", p, ParentInfo{BaseFee: 1, GasUsed: 21, GasLimit: 20}, ErrInvalidParent},
		{"zero target", p, ParentInfo{BaseFee: 1, GasUsed: 0, GasLimit: 1}, ErrInvalidParent},
		{"zero gas limit", p, ParentInfo{BaseFee: 1}, ErrInvalidParent},
		{"last height", p, ParentInfo{BaseFee: 1, GasUsed: 10, GasLimit: 20, Height: math.MaxUint64}, ErrInvalidParent},
		{"invalid params", Params{}, ParentInfo{BaseFee: 1, GasUsed: 10, GasLimit: 20}, ErrInvalidParams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextBaseFee(tc.params, tc.parent)
			if !errors.Is(err, tc.want) {
				t.Fatalf("NextBaseFee(%+v) = %d, %v; want error %v", tc.parent, got, err, tc.want)
			}
		})
	}
}

func TestGasTarget(t *testing.T) {
	p := DefaultParams()
	for _, tc := range []struct{ limit, want uint64 }{
		{20_000_000, 10_000_000}, {20_000_001, 10_000_000}, {2, 1}, {math.MaxUint64, math.MaxUint64 / 2},
	} {
		got, err := GasTarget(p, tc.limit)
		if err != nil || got != tc.want {
			t.Errorf("GasTarget(%d) = %d, %v; want %d", tc.limit, got, err, tc.want)
		}
	}
	if _, err := GasTarget(p, 1); !errors.Is(err, ErrInvalidParent) {
		t.Errorf("GasTarget(1) error = %v, want ErrInvalidParent", err)
	}
}

// A chain of full blocks compounds +12.5 % each; a chain of empty blocks
// decays to the floor and stays there.
func TestNextBaseFeeSequences(t *testing.T) {
	p := DefaultParams()
	fee := uint64(1_000_000_000)
	wantUp := []uint64{1_125_000_000, 1_265_625_000, 1_423_828_125, 1_601_806_640, 1_802_032_470}
	for i, want := range wantUp {
		var err error
		fee, err = NextBaseFee(p, ParentInfo{BaseFee: fee, GasUsed: 30_000_000, GasLimit: 30_000_000, Height: uint64(i)})
		if err != nil || fee != want {
			t.Fatalf("full block %d: base fee %d, %v; want %d", i+1, fee, err, want)
		}
	}
	p.MinBaseFee = 100
	fee = 1_000
	var steps int
	for fee > 100 {
		next, err := NextBaseFee(p, ParentInfo{BaseFee: fee, GasUsed: 0, GasLimit: 30_000_000})
		if err != nil {
			t.Fatal(err)
		}
		if next >= fee {
			t.Fatalf("empty block did not lower %d (got %d)", fee, next)
		}
		fee = next
		steps++
	}
	// 1000 → 875 → 766 → 671 → 588 → 515 → 451 → 395 → 346 → 303 → 266 → 233
	// → 204 → 179 → 157 → 138 → 121 → 106 → 100 (floor)
	if steps != 18 {
		t.Fatalf("reached the floor 100 after %d empty blocks, want 18", steps)
	}
}
