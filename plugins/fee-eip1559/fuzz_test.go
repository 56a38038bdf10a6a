package fee

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
)

// refNextBaseFee is NextBaseFee written again with math/big, straight from
// EIP-1559's pseudocode plus Trellis's cap and clamps; ok is false when the
// result does not fit in a uint64.
func refNextBaseFee(p Params, parent ParentInfo) (uint64, bool) {
	b := new(big.Int).SetUint64(parent.BaseFee)
	used := new(big.Int).SetUint64(parent.GasUsed)
	target := new(big.Int).SetUint64(parent.GasLimit / p.ElasticityMultiplier)
	denom := new(big.Int).SetUint64(p.BaseFeeMaxChangeDenominator)
	next := new(big.Int).Set(b)
	switch used.Cmp(target) {
	case 1:
		d := new(big.Int).Sub(used, target)
		// excess ≤ gas limit − (e−1)·target
		excessCap := new(big.Int).SetUint64(p.ElasticityMultiplier - 1)
		excessCap.Mul(excessCap, target).Sub(new(big.Int).SetUint64(parent.GasLimit), excessCap)
		if d.Cmp(excessCap) > 0 {
			d = excessCap
		}
		d.Mul(d, b).Quo(d, target).Quo(d, denom)
		if d.Sign() == 0 {
			d.SetInt64(1)
		}
		next.Add(next, d)
	case -1:
		d := new(big.Int).Sub(target, used)
		d.Mul(d, b).Quo(d, target).Quo(d, denom)
		next.Sub(next, d)
	}
	if next.Cmp(new(big.Int).SetUint64(p.MinBaseFee)) < 0 {
		next.SetUint64(p.MinBaseFee)
	}
	if p.MaxBaseFee != 0 && next.Cmp(new(big.Int).SetUint64(p.MaxBaseFee)) > 0 {
		next.SetUint64(p.MaxBaseFee)
	}
	if !next.IsUint64() {
		return 0, false
	}
	return next.Uint64(), true
}

func fuzzParams(elasticity, denom, floor, ceiling uint64) Params {
	p := DefaultParams()
	p.ElasticityMultiplier = max(elasticity%9, 1)
	p.BaseFeeMaxChangeDenominator = max(denom%17, 1)
	p.MinBaseFee = floor
	p.MaxBaseFee = ceiling
	if ceiling != 0 && floor > ceiling {
		p.MinBaseFee, p.MaxBaseFee = ceiling, floor
	}
	return p
}

func FuzzNextBaseFee(f *testing.F) {
	f.Add(uint64(2), uint64(8), uint64(0), uint64(0), uint64(1_000_000_000), uint64(20_000_000), uint64(20_000_000))
	f.Add(uint64(2), uint64(8), uint64(0), uint64(0), uint64(1_000_000_000), uint64(0), uint64(20_000_000))
	f.Add(uint64(2), uint64(8), uint64(0), uint64(0), uint64(7), uint64(10_000_001), uint64(20_000_000))
	f.Add(uint64(4), uint64(1), uint64(5), uint64(100), uint64(50), uint64(40), uint64(40))
	f.Add(uint64(2), uint64(8), uint64(0), uint64(0), uint64(math.MaxUint64), uint64(20), uint64(20))
	f.Add(uint64(2), uint64(8), uint64(1), uint64(math.MaxUint64), uint64(math.MaxUint64-1), uint64(math.MaxUint64), uint64(math.MaxUint64))
	f.Add(uint64(1<<40), uint64(0), uint64(0), uint64(0), uint64(1<<63), uint64(1), uint64(0))
	f.Fuzz(func(t *testing.T, elasticity, denom, floor, ceiling, base, used, limit uint64) {
		p := fuzzParams(elasticity, denom, floor, ceiling)
		parent := ParentInfo{BaseFee: base, GasUsed: used, GasLimit: limit}
		got, err := NextBaseFee(p, parent)
		if used > limit || limit/p.ElasticityMultiplier == 0 {
			if !errors.Is(err, ErrInvalidParent) {
				t.Fatalf("parent %+v: got %d, %v; want ErrInvalidParent", parent, got, err)
			}
			return
		}
		want, ok := refNextBaseFee(p, parent)
		if !ok {
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("parent %+v params %+v: got %d, %v; want ErrOverflow", parent, p, got, err)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("parent %+v params %+v: got %d, %v; want %d", parent, p, got, err, want)
		}
		// Bounds.
		if got < p.MinBaseFee || (p.MaxBaseFee != 0 && got > p.MaxBaseFee) {
			t.Fatalf("base fee %d outside [%d, %d]", got, p.MinBaseFee, p.MaxBaseFee)
		}
		// Change at most base/D down, and up at most base·(target + gas
		// limit mod e)/target/D (1/D when e divides the limit) or 1, unless a
		// clamp set the value.
		if got != p.MinBaseFee && got != p.MaxBaseFee {
			target := limit / p.ElasticityMultiplier
			upBound, fits := scaledDelta(base, target+limit%p.ElasticityMultiplier, target, p.BaseFeeMaxChangeDenominator)
			if got > base && fits && got-base > max(upBound, 1) || got < base && base-got > base/p.BaseFeeMaxChangeDenominator {
				t.Fatalf("base fee %d → %d changes more than allowed (up %d, down %d)", base, got, upBound, base/p.BaseFeeMaxChangeDenominator)
			}
		}
		// Direction, for a parent within the bounds.
		if base >= p.MinBaseFee && (p.MaxBaseFee == 0 || base <= p.MaxBaseFee) {
			target := limit / p.ElasticityMultiplier
			if used > target && got < base || used < target && got > base || used == target && got != base {
				t.Fatalf("used %d target %d: base fee %d → %d goes the wrong way", used, target, base, got)
			}
		}
	})
}

// fuzzTxs decodes txs from bytes: 4 fields per tx, each one byte of right
// shift and 8 bytes little-endian, so that small and huge values both occur.
func fuzzTxs(data []byte) []TxInput {
	const field, maxTxs = 9, 64
	var txs []TxInput
	for len(data) >= 4*field && len(txs) < maxTxs {
		var v [4]uint64
		for i := range v {
			v[i] = binary.LittleEndian.Uint64(data[1:9]) >> (data[0] % 64)
			data = data[field:]
		}
		txs = append(txs, TxInput{GasLimit: v[0], GasUsed: v[1], MaxFeePerGas: v[2], MaxPriorityFeePerGas: v[3]})
	}
	return txs
}

func fuzzSplit(a, b, c uint16) Split {
	x, y, z := uint32(a)%10_001, uint32(b)%10_001, uint32(c)%10_001
	// Sort three cut points of [0, 10000].
	if x > y {
		x, y = y, x
	}
	if y > z {
		y, z = z, y
	}
	if x > y {
		x, y = y, x
	}
	return Split{Burn: x, Treasury: y - x, Sequencer: z - y, Prover: BasisPoints - z}
}

func FuzzPriceBlock(f *testing.F) {
	tx := func(shift byte, gasLimit, gasUsed, maxFee, maxTip uint64) []byte {
		var b []byte
		for _, v := range []uint64{gasLimit, gasUsed, maxFee, maxTip} {
			b = append(b, shift)
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		return b
	}
	worked := append(append(append(tx(0, 21_000, 21_000, 2_000, 10), tx(0, 100_000, 65_537, 1_030, 50)...),
		tx(0, 50_000, 50_000, 1_000, 1)...), tx(0, 5_000_000, 4_000_000, 3_000, 100)...)
	f.Add(uint64(1_000), uint64(18_000_000), uint64(30_000_000), uint64(41), uint64(0), uint64(0),
		uint16(5_000), uint16(6_000), uint16(6_000), uint16(0), uint16(0), uint16(10_000), worked)
	f.Add(uint64(1<<62), uint64(10), uint64(20), uint64(0), uint64(1), uint64(1<<63),
		uint16(1), uint16(2), uint16(3), uint16(3333), uint16(6666), uint16(9999), append(tx(0, 3, 3, 1<<62, 0), tx(0, 3, 3, 1<<62, 0)...))
	f.Add(uint64(math.MaxUint64), uint64(0), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(0), uint64(0),
		uint16(0), uint16(0), uint16(0), uint16(0), uint16(0), uint16(0), tx(63, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64))
	f.Add(uint64(100), uint64(50), uint64(100), uint64(7), uint64(3), uint64(0),
		uint16(2500), uint16(5000), uint16(7500), uint16(10_000), uint16(10_000), uint16(10_000),
		append(append(tx(0, 60, 60, 200, 1), tx(0, 50, 50, 200, 1)...), tx(0, 40, 40, 200, 300)...))
	f.Fuzz(func(t *testing.T, base, used, limit, height, floor, ceiling uint64, b1, b2, b3, t1, t2, t3 uint16, txData []byte) {
		p := fuzzParams(height>>3, height>>7, floor, ceiling)
		p.BaseFeeSplit = fuzzSplit(b1, b2, b3)
		p.TipSplit = fuzzSplit(t1, t2, t3)
		parent := ParentInfo{BaseFee: base, GasUsed: used, GasLimit: limit, Height: height}
		txs := fuzzTxs(txData)
		got, err := PriceBlock(p, parent, txs)
		if err != nil {
			if !errors.Is(err, ErrInvalidParent) && !errors.Is(err, ErrOverflow) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		again, err := PriceBlock(p, parent, txs)
		if err != nil || !reflect.DeepEqual(got, again) {
			t.Fatal("PriceBlock is not deterministic")
		}
		if want, err := NextBaseFee(p, parent); err != nil || got.BaseFee != want {
			t.Fatalf("block base fee %d, NextBaseFee %d (%v)", got.BaseFee, want, err)
		}
		if len(got.Txs) != len(txs) || got.Included+got.Rejected != len(txs) || got.Height != height+1 {
			t.Fatalf("counts: %d results, %d+%d for %d txs, height %d", len(got.Txs), got.Included, got.Rejected, len(txs), got.Height)
		}
		var gas uint64
		var totals Shares
		var totalBase, totalTip, totalFee uint64
		for i, r := range got.Txs {
			tx := txs[i]
			if r.Index != i {
				t.Fatalf("tx %d: index %d", i, r.Index)
			}
			if !r.Included() {
				if r.Fee != 0 || r.GasUsed != 0 || r.Shares != (Shares{}) || r.Detail == "" || r.Err() == nil {
					t.Fatalf("tx %d rejected (%s) but priced: %+v", i, r.Reason, r)
				}
				if r.Reason == ReasonFeeCapBelowBaseFee && tx.MaxFeePerGas >= got.BaseFee {
					t.Fatalf("tx %d rejected below base fee with max fee %d ≥ %d", i, tx.MaxFeePerGas, got.BaseFee)
				}
				continue
			}
			// Pricing per EIP-1559.
			if tx.MaxFeePerGas < got.BaseFee || tx.MaxPriorityFeePerGas > tx.MaxFeePerGas || tx.GasUsed > tx.GasLimit {
				t.Fatalf("tx %d included but invalid: %+v at base fee %d", i, tx, got.BaseFee)
			}
			if r.TipPerGas != min(tx.MaxPriorityFeePerGas, tx.MaxFeePerGas-got.BaseFee) ||
				r.EffectiveGasPrice != got.BaseFee+r.TipPerGas || r.EffectiveGasPrice > tx.MaxFeePerGas {
				t.Fatalf("tx %d: tip %d price %d for %+v at base fee %d", i, r.TipPerGas, r.EffectiveGasPrice, tx, got.BaseFee)
			}
			hi, lo := mul(r.GasUsed, r.EffectiveGasPrice)
			if hi != 0 || lo != r.Fee || r.BaseFeeAmount+r.TipAmount != r.Fee || r.GasUsed != tx.GasUsed {
				t.Fatalf("tx %d: fee %d ≠ %d × %d", i, r.Fee, r.GasUsed, r.EffectiveGasPrice)
			}
			// Conservation, and the two splits applied separately.
			if sum, err := r.Shares.Sum(); err != nil || sum != r.Fee {
				t.Fatalf("tx %d: shares %+v sum to %d, fee %d", i, r.Shares, sum, r.Fee)
			}
			want, _ := p.BaseFeeSplit.apply(r.BaseFeeAmount).add(p.TipSplit.apply(r.TipAmount))
			if r.Shares != want {
				t.Fatalf("tx %d: shares %+v, want %+v", i, r.Shares, want)
			}
			gas += r.GasUsed
			totals, _ = totals.add(r.Shares)
			totalBase += r.BaseFeeAmount
			totalTip += r.TipAmount
			totalFee += r.Fee
		}
		if gas != got.GasUsed || got.GasUsed > got.GasLimit || got.GasLimit != limit {
			t.Fatalf("gas used %d (sum %d), limit %d", got.GasUsed, gas, got.GasLimit)
		}
		if totals != got.Totals || totalBase != got.TotalBaseFee || totalTip != got.TotalTip || totalFee != got.TotalFee {
			t.Fatalf("totals %+v %d %d %d disagree with the transactions", got.Totals, got.TotalBaseFee, got.TotalTip, got.TotalFee)
		}
		if sum, err := got.Totals.Sum(); err != nil || sum != got.TotalFee {
			t.Fatalf("block totals %+v sum to %d, total fee %d", got.Totals, sum, got.TotalFee)
		}
		// nextBaseFee: the block may be at the last height, which
		// NextBaseFee refuses as a parent.
		next, err := nextBaseFee(p, ParentInfo{BaseFee: got.BaseFee, GasUsed: got.GasUsed, GasLimit: got.GasLimit, Height: got.Height})
		if err != nil || next != got.NextBaseFee {
			t.Fatalf("next base fee %d, NextBaseFee %d (%v)", got.NextBaseFee, next, err)
		}
	})
}

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"elasticity_multiplier": 0}`,
		`{"elasticity_multiplier": 4, "base_fee_max_change_denominator": 16, "min_base_fee": 100, "max_base_fee": 1000000}`,
		`{"base_fee_split": {"burn": 10000}, "tip_split": {"sequencer": 8000, "prover": 2000}}`,
		`{"base_fee_split": {"burn": 4294967295, "treasury": 4294967295}}`,
		`{"max_base_fee": 18446744073709551615, "min_base_fee": 18446744073709551615}`,
		`{"quote_tip_percentile": 100, "quote_min_tip": 0}`, `{"min_base_fee": 1e3}`, `{"x": 1}`, `{} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseParams(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("error %v does not wrap ErrInvalidParams", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParseParams accepted invalid params: %v", err)
		}
		enc, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseParams(enc)
		if err != nil || back != p {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, p)
		}
	})
}

func mul(a, b uint64) (hi, lo uint64) {
	x := new(big.Int).Mul(new(big.Int).SetUint64(a), new(big.Int).SetUint64(b))
	lo = new(big.Int).And(x, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi = new(big.Int).Rsh(x, 64).Uint64()
	return hi, lo
}
