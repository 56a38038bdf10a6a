package block

import (
	"encoding/binary"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// Status is a transaction's outcome in a block.
type Status uint8

// Statuses. A failed transaction is still included: its nonce advances and
// its fee is paid, but its body had no effect.
const (
	StatusOK     Status = 0
	StatusFailed Status = 1
)

func (s Status) String() string {
	if s == StatusOK {
		return "ok"
	}
	return "failed"
}

// MaxReasonLen bounds a receipt's failure reason.
const MaxReasonLen = 255

// Receipt records what a transaction did.
type Receipt struct {
	TxHash  tx.Hash
	Status  Status
	GasUsed uint64
	// FeePaid is gas used × effective gas price; Tip is its priority part.
	FeePaid uint64
	Tip     uint64
	// Reason says why a failed transaction had no effect.
	Reason string
}

const receiptVersion = 1

// Encode returns the canonical encoding:
// version u8 | tx hash [32] | status u8 | gas u64 | fee u64 | tip u64 | reason len u8 + bytes.
func (r *Receipt) Encode() []byte {
	reason := r.Reason
	if len(reason) > MaxReasonLen {
		reason = reason[:MaxReasonLen]
	}
	b := make([]byte, 0, 1+32+1+24+1+len(reason))
	b = append(b, receiptVersion)
	b = append(b, r.TxHash[:]...)
	b = append(b, byte(r.Status))
	b = binary.BigEndian.AppendUint64(b, r.GasUsed)
	b = binary.BigEndian.AppendUint64(b, r.FeePaid)
	b = binary.BigEndian.AppendUint64(b, r.Tip)
	b = append(b, byte(len(reason)))
	return append(b, reason...)
}

// DecodeReceipt parses a receipt encoding.
func DecodeReceipt(b []byte) (*Receipt, error) {
	const fixed = 1 + 32 + 1 + 24 + 1
	if len(b) < fixed || b[0] != receiptVersion {
		return nil, fmt.Errorf("%w: receipt of %d bytes is not version %d", ErrMalformed, len(b), receiptVersion)
	}
	r := &Receipt{}
	copy(r.TxHash[:], b[1:33])
	r.Status = Status(b[33])
	if r.Status > StatusFailed {
		return nil, fmt.Errorf("%w: receipt status %d", ErrMalformed, r.Status)
	}
	r.GasUsed = binary.BigEndian.Uint64(b[34:])
	r.FeePaid = binary.BigEndian.Uint64(b[42:])
	r.Tip = binary.BigEndian.Uint64(b[50:])
	n := int(b[58])
	if len(b) != fixed+n {
		return nil, fmt.Errorf("%w: receipt reason of %d bytes in %d remaining", ErrMalformed, n, len(b)-fixed)
	}
	r.Reason = string(b[fixed:])
	return r, nil
}

// ReceiptsRoot returns the Merkle root over the receipts' SHA-256 hashes.
func ReceiptsRoot(rs []*Receipt) [32]byte {
	leaves := make([][32]byte, len(rs))
	for i, r := range rs {
		leaves[i] = sha256Sum(r.Encode())
	}
	return MerkleRoot(leaves)
}
