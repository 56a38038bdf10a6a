package account

import "testing"

// BenchmarkAccountLeaf measures the leaf digest of one account: a plain one
// (29 elements, 4 compressions plus the address decode) and one with stake
// records, which also hashes the extra bytes under TagExtra.
func BenchmarkAccountLeaf(b *testing.B) {
	for _, c := range []struct {
		name string
		a    *Account
	}{
		{"plain", &Account{Address: addr(1), Balance: 1 << 40, Nonce: 12}},
		{"staked", staked()},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_ = c.a.Leaf()
			}
		})
	}
}

func BenchmarkRecord(b *testing.B) {
	a := staked()
	enc := a.Encode()
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			_ = a.Encode()
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
