package mempool

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/core/p2p"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// errTxBatch is wrapped by every error decoding a gossiped batch.
var errTxBatch = errors.New("malformed transaction batch")

// txBatchVersion is the gossip batch encoding: version, count (u16), then
// each transaction as a u32 length and its canonical encoding. Version 2
// widened the length from u16 because proof transactions run to hundreds
// of kilobytes.
const txBatchVersion = 2

// txBatchMaxBytes bounds an encoded batch: the gossip message limit.
const txBatchMaxBytes = p2p.MaxMessageSize

func encodeTxBatch(txs []*tx.Tx) []byte {
	b := []byte{txBatchVersion, 0, 0}
	binary.BigEndian.PutUint16(b[1:], uint16(len(txs)))
	for _, t := range txs {
		e := t.Encode()
		b = binary.BigEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

func decodeTxBatch(b []byte) ([]*tx.Tx, error) {
	if len(b) < 3 || len(b) > txBatchMaxBytes {
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
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: transaction %d truncated", errTxBatch, i)
		}
		l := uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
		if l > uint64(len(b)) {
			return nil, fmt.Errorf("%w: transaction %d of %d bytes, %d left", errTxBatch, i, l, len(b))
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
