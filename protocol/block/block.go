package block

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Header encoding versions.
const (
	// Version is the header without a transaction commitment.
	Version = 1
	// VersionTxCommitment adds TxCommitment after TxRoot: chains whose
	// genesis says header_version 2 write and require it.
	VersionTxCommitment = 2
)

// Limits on what a block may carry.
const (
	MaxTxs              = 1 << 16
	MaxSize             = 32 << 20
	MaxConsensusData    = 1 << 20
	MaxDACommitments    = 16
	MaxDACommitmentSize = 4096
	MaxProofs           = 64
	HashSize            = sha256.Size
)

// Hash is a block hash.
type Hash [HashSize]byte

func (h Hash) String() string { return "0x" + hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero hash (genesis's parent).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses 0x and 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := tx.ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = Hash(v)
	return nil
}

// ProofRef names a proof of an earlier block included in a header.
type ProofRef struct {
	Height    uint64
	BlockHash Hash
	ProofHash [32]byte
	Prover    account.Address
}

// Header is a block header.
type Header struct {
	ChainID     string
	Height      uint64
	Parent      Hash
	TimestampMs int64
	Proposer    account.Address
	TxRoot      [32]byte
	// TxCommitment is the Poseidon2 commitment to the ordered
	// transactions (TxCommitment); nil in a version 1 header. It is what a
	// block statement binds, beside the SHA-256 TxRoot that inclusion
	// proofs of transaction hashes use.
	TxCommitment  *hash.Digest
	StateRoot     hash.Digest
	ReceiptsRoot  [32]byte
	BaseFee       uint64
	GasLimit      uint64
	GasUsed       uint64
	DACommitments [][]byte
	ConsensusData []byte
	Proofs        []ProofRef
}

// Block is a header with its transactions.
type Block struct {
	Header Header
	Txs    []*tx.Tx
}

// Sentinel errors.
var (
	ErrMalformed = errors.New("malformed block")
	ErrTooLarge  = errors.New("block too large")
)

const hashDomain = "trellis/header/v1\x00"

// Encode returns the header's canonical encoding.
func (h *Header) Encode() []byte { return h.appendTo(nil) }

// Version is the header's encoding version.
func (h *Header) Version() int {
	if h.TxCommitment != nil {
		return VersionTxCommitment
	}
	return Version
}

func (h *Header) appendTo(b []byte) []byte {
	b = append(b, byte(h.Version()), byte(len(h.ChainID)))
	b = append(b, h.ChainID...)
	b = binary.BigEndian.AppendUint64(b, h.Height)
	b = append(b, h.Parent[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.TimestampMs))
	b = append(b, h.Proposer[:]...)
	b = append(b, h.TxRoot[:]...)
	if h.TxCommitment != nil {
		tc := h.TxCommitment.Bytes()
		b = append(b, tc[:]...)
	}
	sr := h.StateRoot.Bytes()
	b = append(b, sr[:]...)
	b = append(b, h.ReceiptsRoot[:]...)
	b = binary.BigEndian.AppendUint64(b, h.BaseFee)
	b = binary.BigEndian.AppendUint64(b, h.GasLimit)
	b = binary.BigEndian.AppendUint64(b, h.GasUsed)
	b = append(b, byte(len(h.DACommitments)))
	for _, c := range h.DACommitments {
		b = binary.BigEndian.AppendUint16(b, uint16(len(c)))
		b = append(b, c...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.ConsensusData)))
	b = append(b, h.ConsensusData...)
	b = append(b, byte(len(h.Proofs)))
	for _, p := range h.Proofs {
		b = binary.BigEndian.AppendUint64(b, p.Height)
		b = append(b, p.BlockHash[:]...)
		b = append(b, p.ProofHash[:]...)
		b = append(b, p.Prover[:]...)
	}
	return b
}

// Hash returns the block hash.
func (h *Header) Hash() Hash {
	s := sha256.New()
	s.Write([]byte(hashDomain))
	s.Write(h.Encode())
	var out Hash
	s.Sum(out[:0])
	return out
}

// Check verifies the limits Encode relies on.
func (h *Header) Check() error {
	if err := tx.CheckChainID(h.ChainID); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(h.DACommitments) > MaxDACommitments {
		return fmt.Errorf("%w: %d DA commitments, at most %d", ErrMalformed, len(h.DACommitments), MaxDACommitments)
	}
	for i, c := range h.DACommitments {
		if len(c) > MaxDACommitmentSize {
			return fmt.Errorf("%w: DA commitment %d is %d bytes, at most %d", ErrMalformed, i, len(c), MaxDACommitmentSize)
		}
	}
	if len(h.ConsensusData) > MaxConsensusData {
		return fmt.Errorf("%w: consensus data is %d bytes, at most %d", ErrMalformed, len(h.ConsensusData), MaxConsensusData)
	}
	if len(h.Proofs) > MaxProofs {
		return fmt.Errorf("%w: %d proofs, at most %d", ErrMalformed, len(h.Proofs), MaxProofs)
	}
	return nil
}

// Hash returns the block's hash (its header's).
func (b *Block) Hash() Hash { return b.Header.Hash() }

// Encode returns the block's canonical encoding.
func (b *Block) Encode() []byte {
	out := b.Header.appendTo(nil)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.Txs)))
	for _, t := range b.Txs {
		e := t.Encode()
		out = binary.BigEndian.AppendUint32(out, uint32(len(e)))
		out = append(out, e...)
	}
	return out
}

// TxHashes returns the hashes of the block's transactions in order.
func (b *Block) TxHashes() [][32]byte {
	hs := make([][32]byte, len(b.Txs))
	for i, t := range b.Txs {
		hs[i] = t.Hash()
	}
	return hs
}

// ComputeTxRoot returns the Merkle root over the transaction hashes.
func (b *Block) ComputeTxRoot() [32]byte { return MerkleRoot(b.TxHashes()) }

// ComputeTxCommitment returns TxCommitment(b.Txs).
func (b *Block) ComputeTxCommitment() hash.Digest { return TxCommitment(b.Txs) }

// TxCommitment is the Poseidon2 commitment to transactions in order: each
// transaction's SigningDigest (every field it signs, its key included;
// not the signature), chained under hash.TagTxs — one compression per
// transaction for a statement to recompute. The digests are computed
// through the 16-lane kernel on all CPUs.
func TxCommitment(txs []*tx.Tx) hash.Digest {
	in := make([][]fr.Element, len(txs))
	for i, t := range txs {
		in[i] = t.SigningElements()
	}
	ds := hash.HashMany(hash.TagTxMessage, in, 0)
	all := make([]fr.Element, 0, len(ds)*hash.DigestElements)
	for i := range ds {
		all = append(all, ds[i][:]...)
	}
	return hash.HashWithTag(hash.TagTxs, all)
}

// CheckTxCommitment reports whether the header's transaction commitment is
// the transactions' (a version 1 header has none to check).
func (b *Block) CheckTxCommitment() bool {
	return b.Header.TxCommitment == nil || *b.Header.TxCommitment == b.ComputeTxCommitment()
}
