package block

import (
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/wire"
)

// reader is wire.Reader with every read naming its field.
type reader struct{ wire.Reader }

func (r *reader) take(n int, f string) []byte { return r.At(f).Take(n) }
func (r *reader) u8(f string) uint8           { return r.At(f).U8() }
func (r *reader) u16(f string) uint16         { return r.At(f).U16() }
func (r *reader) u32(f string) uint32         { return r.At(f).U32() }
func (r *reader) u64(f string) uint64         { return r.At(f).U64() }
func (r *reader) fixed(dst []byte, f string)  { r.At(f).Fixed(dst) }

func (r *reader) address(dst *account.Address, f string) {
	v := r.take(account.AddressSize, f)
	if v == nil {
		return
	}
	a, err := account.AddressFromBytes(v)
	if err != nil {
		r.Fail(fmt.Errorf("%w: %s: %v", ErrMalformed, f, err))
		return
	}
	*dst = a
}

func (r *reader) header(h *Header) {
	v := r.u8("version")
	if r.Err() == nil && v != Version && v != VersionTxCommitment {
		r.Fail(fmt.Errorf("%w: header version %d, this node reads %d and %d", ErrMalformed, v, Version, VersionTxCommitment))
		return
	}
	cl := int(r.u8("chain id length"))
	h.ChainID = string(r.take(cl, "chain id"))
	h.Height = r.u64("height")
	r.fixed(h.Parent[:], "parent hash")
	h.TimestampMs = int64(r.u64("timestamp"))
	r.address(&h.Proposer, "proposer")
	r.fixed(h.TxRoot[:], "tx root")
	if v == VersionTxCommitment {
		if b := r.take(hash.DigestSize, "tx commitment"); b != nil {
			d, err := hash.DigestFromBytes(b)
			if err != nil {
				r.Fail(fmt.Errorf("%w: tx commitment: %v", ErrMalformed, err))
				return
			}
			h.TxCommitment = &d
		}
	}
	if v := r.take(hash.DigestSize, "state root"); v != nil {
		d, err := hash.DigestFromBytes(v)
		if err != nil {
			r.Fail(fmt.Errorf("%w: state root: %v", ErrMalformed, err))
			return
		}
		h.StateRoot = d
	}
	r.fixed(h.ReceiptsRoot[:], "receipts root")
	h.BaseFee = r.u64("base fee")
	h.GasLimit = r.u64("gas limit")
	h.GasUsed = r.u64("gas used")
	if n := int(r.u8("DA commitment count")); n > 0 && r.Err() == nil {
		if n > MaxDACommitments {
			r.Fail(fmt.Errorf("%w: %d DA commitments, at most %d", ErrMalformed, n, MaxDACommitments))
			return
		}
		h.DACommitments = make([][]byte, n)
		for i := range h.DACommitments {
			l := int(r.u16("DA commitment length"))
			if l > MaxDACommitmentSize {
				r.Fail(fmt.Errorf("%w: DA commitment %d is %d bytes, at most %d", ErrMalformed, i, l, MaxDACommitmentSize))
				return
			}
			h.DACommitments[i] = append([]byte(nil), r.take(l, "DA commitment")...)
		}
	}
	cd := int(r.u32("consensus data length"))
	if cd > MaxConsensusData {
		r.Fail(fmt.Errorf("%w: consensus data is %d bytes, at most %d", ErrMalformed, cd, MaxConsensusData))
		return
	}
	if cd > 0 {
		h.ConsensusData = append([]byte(nil), r.take(cd, "consensus data")...)
	}
	if n := int(r.u8("proof count")); n > 0 && r.Err() == nil {
		if n > MaxProofs {
			r.Fail(fmt.Errorf("%w: %d proofs, at most %d", ErrMalformed, n, MaxProofs))
			return
		}
		h.Proofs = make([]ProofRef, n)
		for i := range h.Proofs {
			p := &h.Proofs[i]
			p.Height = r.u64("proof height")
			r.fixed(p.BlockHash[:], "proof block hash")
			r.fixed(p.ProofHash[:], "proof hash")
			r.address(&p.Prover, "prover")
		}
	}
	if r.Err() == nil {
		if err := h.Check(); err != nil {
			r.Fail(err)
		}
	}
}

// DecodeHeader parses a header encoding with nothing after it.
func DecodeHeader(b []byte) (*Header, error) {
	r := &reader{wire.NewReader(b, ErrMalformed)}
	h := &Header{}
	r.header(h)
	if err := r.Err(); err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after the header", ErrMalformed, r.Len())
	}
	return h, nil
}

// Decode parses a block encoding. Transactions are decoded but their
// signatures are not checked.
func Decode(b []byte) (*Block, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxSize)
	}
	r := &reader{wire.NewReader(b, ErrMalformed)}
	blk := &Block{}
	r.header(&blk.Header)
	n := int(r.u32("tx count"))
	if err := r.Err(); err != nil {
		return nil, err
	}
	if n > MaxTxs {
		return nil, fmt.Errorf("%w: %d transactions, at most %d", ErrMalformed, n, MaxTxs)
	}
	if n > (r.Len())/4 {
		return nil, fmt.Errorf("%w: %d transactions cannot fit in %d bytes", ErrMalformed, n, r.Len())
	}
	blk.Txs = make([]*tx.Tx, n)
	for i := range blk.Txs {
		l := int(r.u32("tx length"))
		if r.Err() == nil && l > tx.MaxEncodedSize {
			return nil, fmt.Errorf("%w: transaction %d of %d bytes, at most %d", ErrMalformed, i, l, tx.MaxEncodedSize)
		}
		raw := r.take(l, "transaction")
		if err := r.Err(); err != nil {
			return nil, err
		}
		t, err := tx.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: transaction %d: %w", ErrMalformed, i, err)
		}
		blk.Txs[i] = t
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after the transactions", ErrMalformed, r.Len())
	}
	return blk, nil
}
