package hashsig

import (
	"fmt"
	"testing"
)

// go test -run '^$' -bench . -benchtime 3x ./protocol/hashsig/
func BenchmarkNewKey(b *testing.B) {
	for _, h := range []int{10, DefaultLogLifetime} {
		b.Run(fmt.Sprintf("h=%d", h), func(b *testing.B) {
			var seed [SeedSize]byte
			for b.Loop() {
				if _, err := NewKey(seed, h, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignVerify(b *testing.B) {
	k := testKey(b, 1, 10)
	m := msgOf("bench")
	b.Run("sign", func(b *testing.B) {
		i := uint32(0)
		for b.Loop() {
			if _, err := k.SignAt(i%1024, m); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	sig, _ := k.SignAt(3, m)
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := Verify(k.Public(), m, sig); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(3+VerifySteps+65+k.pub.LogLifetime), "compressions")
		b.ReportMetric(float64(len(sig.Bytes())), "sig-bytes")
	})
}

// BenchmarkSignLoaded signs with a key loaded from its cache, as the
// keystore does: each signature rebuilds the subtree of its index.
func BenchmarkSignLoaded(b *testing.B) {
	var seed [SeedSize]byte
	full, err := NewKey(seed, DefaultLogLifetime, 0)
	if err != nil {
		b.Fatal(err)
	}
	m := msgOf("bench")
	b.ResetTimer()
	for b.Loop() {
		k, err := LoadKey(seed, full.Public(), full.Cache(), 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.SignAt(12345, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyMany checks 256 signatures at once (a block's worth of
// hash-signed transactions) and reports the cost per signature.
func BenchmarkVerifyMany(b *testing.B) {
	k := testKey(b, 1, 10)
	items := make([]Item, 256)
	for i := range items {
		m := msgOf(fmt.Sprint(i))
		sig, err := k.SignAt(uint32(i), m)
		if err != nil {
			b.Fatal(err)
		}
		items[i] = Item{Key: k.Public(), Msg: m, Sig: sig}
	}
	for _, w := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for b.Loop() {
				for _, err := range VerifyMany(items, w) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N*len(items)), "µs/sig")
		})
	}
}
