package airs

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/stark"
)

// benchProve proves once per iteration and reports proof size, verifier time
// and (for Poseidon2) permutations proven per second.
func benchProve(b *testing.B, a stark.AIR, trace [][]fr.Element, perms int) {
	benchProveParams(b, a, trace, perms, stark.DefaultParams())
}

func benchProveParams(b *testing.B, a stark.AIR, trace [][]fr.Element, perms int, p stark.Params) {
	be := stark.NewCPU(0)
	var proof *stark.Proof
	cpu0 := cpuTime()
	for b.Loop() {
		var err error
		if proof, err = stark.Prove(a, trace, p, be); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpuPerProve := (cpuTime() - cpu0).Seconds() / float64(b.N)
	enc, err := proof.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	const vn = 20
	start := time.Now()
	for range vn {
		if err := stark.VerifyBytes(a, p, enc); err != nil {
			b.Fatal(err)
		}
	}
	perProve := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perProve*1e3, "prove-ms")
	// CPU time is robust to other processes sharing the machine: on an idle
	// machine with k cores, wall time ≈ cpu-ms / k (the loops are parallel).
	b.ReportMetric(cpuPerProve*1e3, "cpu-ms")
	b.ReportMetric(float64(len(enc)), "proof-bytes")
	b.ReportMetric(float64(time.Since(start).Microseconds())/vn/1e3, "verify-ms")
	if perms > 0 {
		b.ReportMetric(float64(perms)/perProve, "perms/s")
	}
	b.ReportMetric(0, "ns/op")
}

func BenchmarkFibonacci(b *testing.B) {
	for _, logN := range []int{12, 14, 16, 18} {
		b.Run(fmt.Sprintf("2^%d", logN), func(b *testing.B) {
			a, tr := NewFibonacci(1 << logN)
			benchProve(b, a, tr, 0)
		})
	}
}

func BenchmarkPoseidon2Chain(b *testing.B) {
	for _, logN := range []int{10, 12, 13, 14, 15} {
		b.Run(fmt.Sprintf("2^%d", logN), func(b *testing.B) {
			a, tr := NewPoseidon2Chain(1<<logN, seqState(1))
			benchProve(b, a, tr, 1<<logN)
		})
	}
}

func BenchmarkPoseidon2Rounds(b *testing.B) {
	for _, logPerms := range []int{7, 9} {
		b.Run(fmt.Sprintf("2^%d-perms", logPerms), func(b *testing.B) {
			a, tr := NewPoseidon2Rounds(1<<logPerms, seqState(1))
			benchProve(b, a, tr, 1<<logPerms)
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPoseidon2ChainBlowup4 measures the faster-prover parameter set.
func BenchmarkPoseidon2ChainBlowup4(b *testing.B) {
	for _, logN := range []int{13, 14, 15} {
		b.Run(fmt.Sprintf("2^%d", logN), func(b *testing.B) {
			a, tr := NewPoseidon2Chain(1<<logN, seqState(1))
			benchProveParams(b, a, tr, 1<<logN, stark.FastProverParams())
		})
	}
}
