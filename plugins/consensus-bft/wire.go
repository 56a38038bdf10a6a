package bft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/protocol/wire"
)

// Wire format constants.
const (
	// WireVersion is the first byte of every gossiped message.
	WireVersion = 1
	// MaxMessageSize bounds a gossiped message: the host's gossip limit.
	MaxMessageSize = 1 << 20
	// MaxRound bounds rounds so timeouts stay finite.
	MaxRound = 1 << 16
)

// Message types, the second byte.
const (
	TypeProposal = 1
	TypeVote     = 2
	TypeCommit   = 3
)

// Gossip topics; the host scopes them by chain id and plugin.
const (
	TopicProposal = "proposal"
	TopicVote     = "vote"
	TopicEvidence = "evidence"
)

// ErrMessage marks a gossiped message that is malformed.
var ErrMessage = errors.New("bft: malformed message")

// Proposal proposes Block (the host's encoding) with hash BlockHash for
// (Height, Round). POLRound is the round of a proof of lock on the block,
// -1 for none. The proposer signs vote.Message{Step: StepProposal,
// BlockHash, Extra: polExtra(POLRound)}.
type Proposal struct {
	Height    uint64
	Round     uint32
	POLRound  int32
	BlockHash [vote.HashSize]byte
	Signature [bls.SignatureSize]byte
	Block     []byte
}

// Vote is a signed prevote or precommit; BlockHash is empty for nil.
type Vote struct {
	Height    uint64
	Round     uint32
	Step      vote.Step
	BlockHash []byte
	Validator account.Address
	Signature [bls.SignatureSize]byte
}

// Commit hands a decided block and its certificate to a validator that is
// behind: it lets it decide without waiting for the host's sync.
type Commit struct {
	Certificate []byte
	Block       []byte
}

// polExtra encodes a proof-of-lock round as the Extra of a proposal's sign
// bytes: a big-endian int32, -1 (ff ff ff ff) for none.
func polExtra(pol int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(pol)) }

// SignMessage is what the proposer signed.
func (p *Proposal) SignMessage(chainID string) vote.Message {
	return vote.Message{ChainID: chainID, Height: p.Height, Round: p.Round, Step: vote.StepProposal,
		BlockHash: p.BlockHash[:], Extra: polExtra(p.POLRound)}
}

// SignMessage is what the validator signed.
func (v *Vote) SignMessage(chainID string) vote.Message {
	return vote.Message{ChainID: chainID, Height: v.Height, Round: v.Round, Step: v.Step, BlockHash: v.BlockHash}
}

// Encode returns the wire encoding: version, type, height, round, POL
// round, block hash, signature, block length (uint32), block.
func (p *Proposal) Encode() []byte {
	b := make([]byte, 0, 2+8+4+4+vote.HashSize+bls.SignatureSize+4+len(p.Block))
	b = append(b, WireVersion, TypeProposal)
	b = binary.BigEndian.AppendUint64(b, p.Height)
	b = binary.BigEndian.AppendUint32(b, p.Round)
	b = binary.BigEndian.AppendUint32(b, uint32(p.POLRound))
	b = append(b, p.BlockHash[:]...)
	b = append(b, p.Signature[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.Block)))
	return append(b, p.Block...)
}

// Encode returns the wire encoding: version, type, height, round, step,
// hash length (0 or 32), hash, validator address, signature.
func (v *Vote) Encode() []byte {
	b := make([]byte, 0, 2+8+4+2+len(v.BlockHash)+account.AddressSize+bls.SignatureSize)
	b = append(b, WireVersion, TypeVote)
	b = binary.BigEndian.AppendUint64(b, v.Height)
	b = binary.BigEndian.AppendUint32(b, v.Round)
	b = append(b, byte(v.Step), byte(len(v.BlockHash)))
	b = append(b, v.BlockHash...)
	b = append(b, v.Validator[:]...)
	return append(b, v.Signature[:]...)
}

// Encode returns the wire encoding: version, type, certificate length
// (uint32), certificate, block length (uint32), block.
func (c *Commit) Encode() []byte {
	b := make([]byte, 0, 2+8+len(c.Certificate)+len(c.Block))
	b = append(b, WireVersion, TypeCommit)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Certificate)))
	b = append(b, c.Certificate...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Block)))
	return append(b, c.Block...)
}

// reader reads big-endian fields and remembers the first shortfall.
// reader is wire.Reader over a message after its version and type.
type reader struct{ wire.Reader }

// Decode parses one gossiped message: a *Proposal, *Vote or *Commit. It
// checks sizes and ranges but no signature.
func Decode(b []byte) (any, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMessage, len(b), MaxMessageSize)
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMessage, len(b))
	}
	if b[0] != WireVersion {
		return nil, fmt.Errorf("%w: version %d (want %d)", ErrMessage, b[0], WireVersion)
	}
	r := &reader{wire.NewReader(b[2:], ErrMessage)}
	switch b[1] {
	case TypeProposal:
		p := &Proposal{Height: r.U64(), Round: r.U32(), POLRound: int32(r.U32())}
		copy(p.BlockHash[:], r.Take(vote.HashSize))
		copy(p.Signature[:], r.Take(bls.SignatureSize))
		n := r.U32()
		if n == 0 || uint64(n) > MaxMessageSize {
			r.Fail(fmt.Errorf("%w: proposal block of %d bytes", ErrMessage, n))
		}
		p.Block = append([]byte(nil), r.Take(int(n))...)
		if err := r.Done(); err != nil {
			return nil, err
		}
		switch {
		case p.Height == 0:
			return nil, fmt.Errorf("%w: proposal at height 0", ErrMessage)
		case p.Round > MaxRound:
			return nil, fmt.Errorf("%w: round %d above %d", ErrMessage, p.Round, MaxRound)
		case p.POLRound < -1 || (p.POLRound >= 0 && uint32(p.POLRound) >= p.Round):
			return nil, fmt.Errorf("%w: POL round %d in round %d", ErrMessage, p.POLRound, p.Round)
		}
		return p, nil
	case TypeVote:
		v := &Vote{Height: r.U64(), Round: r.U32(), Step: vote.Step(r.U8())}
		if n := int(r.U8()); n != 0 && n != vote.HashSize {
			return nil, fmt.Errorf("%w: block hash of %d bytes", ErrMessage, n)
		} else if n > 0 {
			v.BlockHash = append([]byte(nil), r.Take(n)...)
		}
		copy(v.Validator[:], r.Take(account.AddressSize))
		copy(v.Signature[:], r.Take(bls.SignatureSize))
		if err := r.Done(); err != nil {
			return nil, err
		}
		switch {
		case v.Height == 0:
			return nil, fmt.Errorf("%w: vote at height 0", ErrMessage)
		case v.Round > MaxRound:
			return nil, fmt.Errorf("%w: round %d above %d", ErrMessage, v.Round, MaxRound)
		case v.Step != vote.StepPrevote && v.Step != vote.StepPrecommit:
			return nil, fmt.Errorf("%w: vote of %v", ErrMessage, v.Step)
		}
		return v, nil
	case TypeCommit:
		c := &Commit{}
		n := r.U32()
		if n > MaxCertificateSize {
			return nil, fmt.Errorf("%w: certificate of %d bytes", ErrMessage, n)
		}
		c.Certificate = append([]byte(nil), r.Take(int(n))...)
		n = r.U32()
		if n == 0 || uint64(n) > MaxMessageSize {
			return nil, fmt.Errorf("%w: block of %d bytes", ErrMessage, n)
		}
		c.Block = append([]byte(nil), r.Take(int(n))...)
		if err := r.Done(); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: type %d", ErrMessage, b[1])
}
