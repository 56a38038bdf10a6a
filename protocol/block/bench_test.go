package block

import "testing"

// BenchmarkBlockDecode decodes a block of 4096 transfers (without checking
// signatures) and reports transactions per second.
func BenchmarkBlockDecode(b *testing.B) {
	blk := &Block{Header: *header(), Txs: transfers(4096)}
	enc := blk.Encode()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(blk.Txs))*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

func BenchmarkMerkleRoot4096(b *testing.B) {
	hs := (&Block{Txs: transfers(4096)}).TxHashes()
	for b.Loop() {
		_ = MerkleRoot(hs)
	}
}

// BenchmarkTxCommitment commits to a block of 1,024 transfers (every
// node computes it for every block of a header_version 2 chain).
func BenchmarkTxCommitment(b *testing.B) {
	txs := transfers(1024)
	for b.Loop() {
		TxCommitment(txs)
	}
}
