package fee

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchTxs returns n realistic transactions: gas between 21,000 and 200,000,
// fee caps around 1.5–3× the base fee, tips 0–100; about 1 in 50 is priced
// out by its fee cap.
func benchTxs(n int, baseFee uint64) []TxInput {
	rng := rand.New(rand.NewPCG(1, 2))
	txs := make([]TxInput, n)
	for i := range txs {
		limit := 21_000 + rng.Uint64N(179_001)
		maxFee := baseFee + baseFee/2 + rng.Uint64N(baseFee*3/2+1)
		if rng.IntN(50) == 0 {
			maxFee = baseFee / 2
		}
		txs[i] = TxInput{
			GasLimit:             limit,
			GasUsed:              limit - rng.Uint64N(limit/4+1),
			MaxFeePerGas:         maxFee,
			MaxPriorityFeePerGas: rng.Uint64N(101),
		}
	}
	return txs
}

func BenchmarkPriceBlock(b *testing.B) {
	p := DefaultParams()
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("txs=%d", n), func(b *testing.B) {
			// A gas limit that holds every transaction.
			parent := ParentInfo{BaseFee: 1_000_000, GasUsed: uint64(n) * 100_000, GasLimit: uint64(n) * 200_000, Height: 1}
			txs := benchTxs(n, 1_000_000)
			b.ReportAllocs()
			for b.Loop() {
				bp, err := PriceBlock(p, parent, txs)
				if err != nil || bp.Included == 0 {
					b.Fatalf("%v, %d included", err, bp.Included)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/tx")
		})
	}
}

func BenchmarkNextBaseFee(b *testing.B) {
	p := DefaultParams()
	parent := ParentInfo{BaseFee: 1_000_000_000, GasUsed: 17_123_456, GasLimit: 30_000_000}
	for b.Loop() {
		if _, err := NextBaseFee(p, parent); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQuote(b *testing.B) {
	p := DefaultParams()
	parent := ParentInfo{BaseFee: 1_000_000_000, GasUsed: 17_123_456, GasLimit: 30_000_000}
	tips := make([]uint64, 1_000)
	for i := range tips {
		tips[i] = uint64(i * 7 % 101)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Quote(p, parent, 10, tips); err != nil {
			b.Fatal(err)
		}
	}
}
