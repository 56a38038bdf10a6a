package block

import (
	"encoding/binary"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
)

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w: %s truncated at byte %d: need %d bytes, have %d", ErrMalformed, field, r.off, n, len(r.b)-r.off)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8(f string) uint8 {
	if v := r.take(1, f); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16(f string) uint16 {
	if v := r.take(2, f); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32(f string) uint32 {
	if v := r.take(4, f); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(f string) uint64 {
	if v := r.take(8, f); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) fixed(dst []byte, f string) {
	if v := r.take(len(dst), f); v != nil {
		copy(dst, v)
	}
}

func (r *reader) address(dst *account.Address, f string) {
	v := r.take(account.AddressSize, f)
	if v == nil {
		return
	}
	a, err := account.AddressFromBytes(v)
	if err != nil {
		r.err = fmt.Errorf("%w: %s: %v", ErrMalformed, f, err)
		return
	}
	*dst = a
}

func (r *reader) header(h *Header) {
	if v := r.u8("version"); r.err == nil && v != Version {
		r.err = fmt.Errorf("%w: header version %d, this node reads %d", ErrMalformed, v, Version)
		return
	}
	cl := int(r.u8("chain id length"))
	h.ChainID = string(r.take(cl, "chain id"))
	h.Height = r.u64("height")
	r.fixed(h.Parent[:], "parent hash")
	h.TimestampMs = int64(r.u64("timestamp"))
	r.address(&h.Proposer, "proposer")
	r.fixed(h.TxRoot[:], "tx root")
	if v := r.take(hash.DigestSize, "state root"); v != nil {
		d, err := hash.DigestFromBytes(v)
		if err != nil {
			r.err = fmt.Errorf("%w: state root: %v", ErrMalformed, err)
			return
		}
		h.StateRoot = d
	}
	r.fixed(h.ReceiptsRoot[:], "receipts root")
	h.BaseFee = r.u64("base fee")
	h.GasLimit = r.u64("gas limit")
	h.GasUsed = r.u64("gas used")
	if n := int(r.u8("DA commitment count")); n > 0 && r.err == nil {
		if n > MaxDACommitments {
			r.err = fmt.Errorf("%w: %d DA commitments, at most %d", ErrMalformed, n, MaxDACommitments)
			return
		}
		h.DACommitments = make([][]byte, n)
		for i := range h.DACommitments {
			l := int(r.u16("DA commitment length"))
			if l > MaxDACommitmentSize {
				r.err = fmt.Errorf("%w: DA commitment %d is %d bytes, at most %d", ErrMalformed, i, l, MaxDACommitmentSize)
				return
			}
			h.DACommitments[i] = append([]byte(nil), r.take(l, "DA commitment")...)
		}
	}
	cd := int(r.u32("consensus data length"))
	if cd > MaxConsensusData {
		r.err = fmt.Errorf("%w: consensus data is %d bytes, at most %d", ErrMalformed, cd, MaxConsensusData)
		return
	}
	if cd > 0 {
		h.ConsensusData = append([]byte(nil), r.take(cd, "consensus data")...)
	}
	if n := int(r.u8("proof count")); n > 0 && r.err == nil {
		if n > MaxProofs {
			r.err = fmt.Errorf("%w: %d proofs, at most %d", ErrMalformed, n, MaxProofs)
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
	if r.err == nil {
		if err := h.Check(); err != nil {
			r.err = err
		}
	}
}

// DecodeHeader parses a header encoding with nothing after it.
func DecodeHeader(b []byte) (*Header, error) {
	r := &reader{b: b}
	h := &Header{}
	r.header(h)
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes after the header", ErrMalformed, len(b)-r.off)
	}
	return h, nil
}

// Decode parses a block encoding. Transactions are decoded but their
// signatures are not checked.
func Decode(b []byte) (*Block, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxSize)
	}
	r := &reader{b: b}
	blk := &Block{}
	r.header(&blk.Header)
	n := int(r.u32("tx count"))
	if r.err != nil {
		return nil, r.err
	}
	if n > MaxTxs {
		return nil, fmt.Errorf("%w: %d transactions, at most %d", ErrMalformed, n, MaxTxs)
	}
	if n > (len(b)-r.off)/4 {
		return nil, fmt.Errorf("%w: %d transactions cannot fit in %d bytes", ErrMalformed, n, len(b)-r.off)
	}
	blk.Txs = make([]*tx.Tx, n)
	for i := range blk.Txs {
		l := int(r.u32("tx length"))
		if r.err == nil && l > tx.MaxEncodedSize {
			return nil, fmt.Errorf("%w: transaction %d of %d bytes, at most %d", ErrMalformed, i, l, tx.MaxEncodedSize)
		}
		raw := r.take(l, "transaction")
		if r.err != nil {
			return nil, r.err
		}
		t, err := tx.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: transaction %d: %w", ErrMalformed, i, err)
		}
		blk.Txs[i] = t
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes after the transactions", ErrMalformed, len(b)-r.off)
	}
	return blk, nil
}
