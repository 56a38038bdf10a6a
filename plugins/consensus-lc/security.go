package lc

import (
	"math"

	"github.com/trellis-chain/trellis/protocol/leader"
)

// phi is 1 − (1 − f)^σ, the chance that stake σ leads a slot.
func phi(f, sigma float64) float64 { return -math.Expm1(sigma * math.Log1p(-f)) }

// SettlementFailure estimates the chance that an adversary holding stake
// share beta ever reverts a block k deep, by Nakamoto's private-chain race
// (Bitcoin paper §11) with the slot rates of the lottery: the adversary
// extends at q = φ(β) blocks per slot; the honest chain counts only slots
// with an honest leader and no leader in the delta slots after it (a block
// that meets another in flight may fork instead of extending), p =
// φ(1−β)(1−f)^delta. It is the classic estimate, not Praos' proven bound
// (which is looser); docs/consensus-lc.md states which is which.
func SettlementFailure(p leader.Params, beta float64, delta int) float64 {
	f := float64(p.Active.Num) / float64(p.Active.Den)
	q := phi(f, beta)
	h := phi(f, 1-beta) * math.Pow(1-f, float64(delta))
	if q >= h {
		return 1
	}
	return nakamoto(q/h, int(p.K))
}

// nakamoto is the chance an attacker with relative speed r < 1 ever
// catches up from z blocks behind.
func nakamoto(r float64, z int) float64 {
	// P = Σ_{k≤z} Pois(λ;k)·(q/p)^(z−k) + Σ_{k>z} Pois(λ;k), summed
	// directly (1 − Σ… would cancel to nothing for small P).
	lambda := float64(z) * r
	term := math.Exp(-lambda) // Pois(λ; 0)
	sum := 0.0
	for k := 0; ; k++ {
		if k > 0 {
			term *= lambda / float64(k)
		}
		if k <= z {
			sum += term * math.Pow(r, float64(z-k))
		} else {
			sum += term
			if term < sum*1e-17 {
				break
			}
		}
	}
	return math.Min(1, sum)
}

// ExpectedBlockSeconds is the mean time between blocks with all stake
// taking part: a slot has a block with probability f.
func ExpectedBlockSeconds(p leader.Params) float64 {
	return float64(p.SlotMs) / 1000 * float64(p.Active.Den) / float64(p.Active.Num)
}
