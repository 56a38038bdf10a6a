package tx

import (
	"fmt"
	"testing"
)

func benchTransfers(n int) []*Tx {
	txs := make([]*Tx, n)
	for i := range txs {
		t := &Tx{
			ChainID: testChain, Nonce: uint64(i), GasLimit: GasTransfer, MaxFeePerGas: 10, MaxPriorityFeePerGas: 1,
			Body: Transfer{To: addr(2), Amount: uint64(i + 1)},
		}
		t.Sign(key(byte(1 + i%8)))
		txs[i] = t
	}
	return txs
}

// BenchmarkSign signs a transfer: building the signing bytes and one
// ed25519 signature.
func BenchmarkSign(b *testing.B) {
	t := benchTransfers(1)[0]
	priv := key(1)
	for b.Loop() {
		t.Sign(priv)
	}
}

// BenchmarkVerify checks one transfer's ed25519 signature.
func BenchmarkVerify(b *testing.B) {
	t := benchTransfers(1)[0]
	for b.Loop() {
		if err := t.VerifySignature(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckAll runs the stateless checks of 4096 transfers (a block's
// worth) on 1 and 2 workers and reports transactions per second.
func BenchmarkCheckAll(b *testing.B) {
	txs := benchTransfers(4096)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for b.Loop() {
				for i, err := range CheckAll(txs, testChain, w) {
					if err != nil {
						b.Fatalf("tx %d: %v", i, err)
					}
				}
			}
			b.ReportMetric(float64(len(txs))*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}

// BenchmarkDecode decodes one transfer; Decode also computes the hash and
// the sender address (one Poseidon2 hash of the public key).
func BenchmarkDecode(b *testing.B) {
	enc := benchTransfers(1)[0].Encode()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeHash encodes and hashes a freshly built transfer (no cache),
// which includes deriving the sender address.
func BenchmarkEncodeHash(b *testing.B) {
	src := benchTransfers(1)[0]
	for b.Loop() {
		t := fields(src)
		_ = t.Encode()
		_ = t.Hash()
	}
}
