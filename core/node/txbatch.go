package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/core/tx"
)

// errTxBatch is wrapped by every error decoding a gossiped batch.
var errTxBatch = errors.New("malformed transaction batch")

// txBatchVersion is the gossip batch encoding: version, count (u16), then
// each transaction as a u16 length and its canonical encoding.
const txBatchVersion = 1

func encodeTxBatch(txs []*tx.Tx) []byte {
	b := []byte{txBatchVersion, 0, 0}
	binary.BigEndian.PutUint16(b[1:], uint16(len(txs)))
	for _, t := range txs {
		e := t.Encode()
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b
}

func decodeTxBatch(b []byte) ([]*tx.Tx, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: %d bytes", errTxBatch, len(b))
	}
	if b[0] != txBatchVersion {
		return nil, fmt.Errorf("%w: version %d (want %d)", errTxBatch, b[0], txBatchVersion)
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	if n == 0 || n > txBatchMax {
		return nil, fmt.Errorf("%w: %d transactions (want 1..%d)", errTxBatch, n, txBatchMax)
	}
	b = b[3:]
	txs := make([]*tx.Tx, 0, n)
	for i := 0; i < n; i++ {
		if len(b) < 2 {
			return nil, fmt.Errorf("%w: transaction %d truncated", errTxBatch, i)
		}
		l := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if l > len(b) || l > tx.MaxSize {
			return nil, fmt.Errorf("%w: transaction %d of %d bytes, %d left (limit %d)", errTxBatch, i, l, len(b), tx.MaxSize)
		}
		t, err := tx.Decode(b[:l])
		if err != nil {
			return nil, fmt.Errorf("%w: transaction %d: %w", errTxBatch, i, err)
		}
		txs = append(txs, t)
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errTxBatch, len(b))
	}
	return txs, nil
}
