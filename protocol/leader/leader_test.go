package leader

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"github.com/trellis-chain/trellis/protocol/bls"
)

var two256 = new(big.Float).SetMantExp(big.NewFloat(1), 256)

func toUnit(t *big.Int) float64 {
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(t), two256).Float64()
	return f
}

// TestThresholdAgainstFloat: the exact threshold agrees with the float64
// formula to float64's precision.
func TestThresholdAgainstFloat(t *testing.T) {
	for _, f := range []Coefficient{{1, 20}, {1, 10}, {1, 2}, {1, 1000}, {3, 7}} {
		for _, st := range [][2]uint64{{1, 1}, {1, 4}, {1, 3}, {7, 100}, {1, 1 << 40}, {999, 1000}} {
			th, err := Threshold(f, st[0], st[1])
			if err != nil {
				t.Fatal(err)
			}
			// −expm1(σ·log1p(−f)): 1 − (1 − f)^σ without float64's cancellation.
			want := -math.Expm1(float64(st[0]) / float64(st[1]) * math.Log1p(-float64(f.Num)/float64(f.Den)))
			if got := toUnit(th); math.Abs(got-want) > 1e-12*want {
				t.Errorf("f=%d/%d σ=%d/%d: %.17g, float64 says %.17g", f.Num, f.Den, st[0], st[1], got, want)
			}
		}
	}
}

// TestThresholdAggregation: splitting stake among keys changes nothing:
// 1 − φ(a+b) = (1 − φ(a))(1 − φ(b)), to ~2^-200.
func TestThresholdAggregation(t *testing.T) {
	f := Coefficient{1, 20}
	const total = 1_000_000
	for _, ab := range [][2]uint64{{1, 1}, {250_000, 250_000}, {123_457, 654_321}, {1, 999_998}} {
		ta, _ := Threshold(f, ab[0], total)
		tb, _ := Threshold(f, ab[1], total)
		tab, _ := Threshold(f, ab[0]+ab[1], total)
		one := new(big.Int).Lsh(big.NewInt(1), 256)
		qa, qb, qab := new(big.Int).Sub(one, ta), new(big.Int).Sub(one, tb), new(big.Int).Sub(one, tab)
		prod := new(big.Int).Rsh(new(big.Int).Mul(qa, qb), 256)
		diff := new(big.Int).Abs(new(big.Int).Sub(prod, qab))
		if diff.BitLen() > 56 { // 2^56 of 2^256
			t.Errorf("split %v: 1−φ(a+b) and (1−φ(a))(1−φ(b)) differ by 2^%d / 2^256", ab, diff.BitLen())
		}
	}
}

func TestThresholdEdges(t *testing.T) {
	f := Coefficient{1, 20}
	if th, err := Threshold(f, 0, 10); err != nil || th.Sign() != 0 {
		t.Errorf("no stake: %v %v", th, err)
	}
	th, err := Threshold(f, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	// All the stake leads with probability f: 2^256 / 20.
	want := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(20))
	if d := new(big.Int).Abs(new(big.Int).Sub(th, want)); d.BitLen() > 56 {
		t.Errorf("σ = 1: off by 2^%d", d.BitLen())
	}
	for _, bad := range []struct {
		f            Coefficient
		stake, total uint64
	}{{Coefficient{0, 1}, 1, 1}, {Coefficient{1, 1}, 1, 1}, {Coefficient{1, 0}, 1, 1}, {f, 2, 1}, {f, 1, 0}, {Coefficient{1 << 40, 1 << 41}, 1, 1}} {
		if _, err := Threshold(bad.f, bad.stake, bad.total); err == nil {
			t.Errorf("f=%d/%d stake %d/%d accepted", bad.f.Num, bad.f.Den, bad.stake, bad.total)
		}
	}
}

// TestLeaderRate: over many uniform outputs a quarter of the stake at
// f = 1/20 leads 1 − 0.95^0.25 ≈ 1.274 % of slots.
func TestLeaderRate(t *testing.T) {
	th, err := Threshold(Coefficient{1, 20}, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	const n = 200_000
	wins := 0
	var o Output
	for range n {
		for i := 0; i < OutputSize; i += 8 {
			binary.BigEndian.PutUint64(o[i:], rng.Uint64())
		}
		if Leads(o, th) {
			wins++
		}
	}
	p := 1 - math.Pow(0.95, 0.25)
	sd := math.Sqrt(n * p * (1 - p))
	if d := math.Abs(float64(wins) - n*p); d > 5*sd {
		t.Errorf("%d leaders in %d slots, expected %.0f ± %.0f", wins, n, n*p, sd)
	}
}

// TestLeaderProof: a ticket verifies only under its key, for its chain,
// nonce and slot; its output is a function of the proof alone.
func TestLeaderProof(t *testing.T) {
	sk, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := bls.GenerateKey(rand.Reader)
	msg := func(seed []byte, slot uint64) []byte {
		m, err := ProofMessage(seed, slot)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	seed := []byte("epoch 3 nonce")
	proof := bls.Sign(sk, msg(seed, 42))
	out, err := Verify(sk.PublicKey(), seed, 42, proof)
	if err != nil {
		t.Fatal(err)
	}
	if out != OutputOf(proof) {
		t.Fatal("Verify's output is not OutputOf the proof")
	}
	for name, check := range map[string]func() error{
		"another slot": func() error { _, err := Verify(sk.PublicKey(), seed, 43, proof); return err },
		"another seed": func() error { _, err := Verify(sk.PublicKey(), []byte("epoch 4 nonce"), 42, proof); return err },
		"another key":  func() error { _, err := Verify(other.PublicKey(), seed, 42, proof); return err },
		"a long seed":  func() error { _, err := Verify(sk.PublicKey(), make([]byte, MaxSeedLen+1), 42, proof); return err },
	} {
		if err := check(); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if OutputOf(bls.Sign(sk, msg(seed, 43))) == out {
		t.Error("two slots gave one output")
	}
}

func TestNextNonce(t *testing.T) {
	a, b := Output{1}, Output{2}
	n0 := [32]byte{9}
	if NextNonce(n0, []Output{a, b}) == NextNonce(n0, []Output{b, a}) {
		t.Error("the order of the outputs does not matter")
	}
	first, again := NextNonce(n0, []Output{a}), NextNonce(n0, []Output{a})
	if NextNonce(n0, nil) == n0 || first != again || first == NextNonce([32]byte{10}, []Output{a}) {
		t.Error("the nonce does not evolve, not deterministically, or ignores the previous nonce")
	}
}

func BenchmarkThreshold(b *testing.B) {
	for range b.N {
		if _, err := Threshold(Coefficient{1, 20}, 123_457, 1_000_000); err != nil {
			b.Fatal(err)
		}
	}
}
