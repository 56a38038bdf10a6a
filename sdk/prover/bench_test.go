package prover

import (
	"fmt"
	"testing"

	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/stark"
)

// BenchmarkProve proves sample batches of several sizes on every core and
// reports the throughput in the unit Capabilities uses.
func BenchmarkProve(b *testing.B) {
	for _, n := range []int{8, 64, 256, 1024} {
		b.Run(fmt.Sprintf("updates=%d", n), func(b *testing.B) {
			pub, w, err := batch.Sample(n)
			if err != nil {
				b.Fatal(err)
			}
			be := stark.NewCPU(0)
			b.ResetTimer()
			for b.Loop() {
				if _, err := batch.Prove(pub, w, be, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(Permutations(w))*float64(b.N)/b.Elapsed().Seconds(), "perm/s")
		})
	}
}
