package mempool

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/trellis-chain/trellis/protocol/tx"
)

func testTxs(n int) []*tx.Tx {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	out := make([]*tx.Tx, n)
	for i := range out {
		t := &tx.Tx{ChainID: "c", Nonce: uint64(i), GasLimit: tx.GasTransfer, MaxFeePerGas: 10, MaxPriorityFeePerGas: 1,
			Body: &tx.Transfer{Amount: uint64(i + 1)}}
		t.Sign(priv)
		out[i] = t
	}
	return out
}

func TestTxBatchRoundTrip(t *testing.T) {
	txs := testTxs(3)
	got, err := decodeTxBatch(encodeTxBatch(txs))
	if err != nil {
		t.Fatal(err)
	}
	for i := range txs {
		if got[i].Hash() != txs[i].Hash() {
			t.Fatalf("tx %d differs", i)
		}
	}
}

func TestTxBatchRejects(t *testing.T) {
	good := encodeTxBatch(testTxs(2))
	tooMany := encodeTxBatch(testTxs(1))
	tooMany[1], tooMany[2] = 0xff, 0xff
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{1}, good[1:]...),
		"no txs":    {txBatchVersion, 0, 0},
		"too many":  tooMany,
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"bad tx":    {txBatchVersion, 0, 1, 0, 0, 0, 2, 9, 9},
		"huge len":  {txBatchVersion, 0, 1, 0xff, 0xff, 0xff, 0xff, 9},
	} {
		if _, err := decodeTxBatch(b); !errors.Is(err, errTxBatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeTxBatch(f *testing.F) {
	f.Add(encodeTxBatch(testTxs(2)))
	f.Add([]byte{txBatchVersion, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		txs, err := decodeTxBatch(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeTxBatch(txs), b) {
			t.Fatal("a decoded batch encodes differently")
		}
	})
}
