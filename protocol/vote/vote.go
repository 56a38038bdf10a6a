package vote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Step is the step of a consensus message within a round.
type Step uint8

// Steps, in the order a round takes them.
const (
	StepProposal  Step = 1
	StepPrevote   Step = 2
	StepPrecommit Step = 3
	// StepBlock is a longest-chain leader's signature of its block: Height
	// is the slot, Round is 0, Extra is the block's height (8 bytes), so
	// one leader signs one block per slot and evidence names the height.
	StepBlock Step = 4
)

func (s Step) String() string {
	switch s {
	case StepProposal:
		return "proposal"
	case StepPrevote:
		return "prevote"
	case StepPrecommit:
		return "precommit"
	case StepBlock:
		return "block"
	}
	return fmt.Sprintf("step %d", uint8(s))
}

// Limits.
const (
	MaxChainIDLen = 64
	HashSize      = 32
	MaxExtra      = 32
)

// Domain separates consensus sign bytes from every other signed message.
const Domain = "trellis/consensus/v1"

// ErrInvalid is returned for a message or evidence that is malformed.
var ErrInvalid = errors.New("invalid consensus message")

// Message is what a validator signs. BlockHash is empty for a nil vote.
type Message struct {
	ChainID   string
	Height    uint64
	Round     uint32
	Step      Step
	BlockHash []byte
	// Extra is plugin data bound into the signature, such as a proposal's
	// proof-of-lock round.
	Extra []byte
}

// Check validates the fields' ranges.
func (m *Message) Check() error {
	switch {
	case m.ChainID == "" || len(m.ChainID) > MaxChainIDLen:
		return fmt.Errorf("%w: chain id of %d bytes (want 1..%d)", ErrInvalid, len(m.ChainID), MaxChainIDLen)
	case m.Step < StepProposal || m.Step > StepBlock:
		return fmt.Errorf("%w: %v", ErrInvalid, m.Step)
	case m.Step == StepBlock && (len(m.BlockHash) == 0 || m.Round != 0 || len(m.Extra) != 8):
		return fmt.Errorf("%w: a block signature needs a block hash, round 0 and the height as 8 bytes of extra", ErrInvalid)
	case len(m.BlockHash) != 0 && len(m.BlockHash) != HashSize:
		return fmt.Errorf("%w: block hash of %d bytes (want 0 or %d)", ErrInvalid, len(m.BlockHash), HashSize)
	case m.Step == StepProposal && len(m.BlockHash) == 0:
		return fmt.Errorf("%w: a proposal needs a block hash", ErrInvalid)
	case len(m.Extra) > MaxExtra:
		return fmt.Errorf("%w: extra of %d bytes (limit %d)", ErrInvalid, len(m.Extra), MaxExtra)
	}
	return nil
}

// SignBytes is the canonical encoding that is signed:
// domain, chain id, height, round, step, block hash and extra, each
// variable field length-prefixed.
func (m *Message) SignBytes() []byte {
	b := make([]byte, 0, len(Domain)+1+len(m.ChainID)+8+4+1+1+len(m.BlockHash)+2+len(m.Extra))
	b = append(b, Domain...)
	b = append(b, byte(len(m.ChainID)))
	b = append(b, m.ChainID...)
	b = binary.BigEndian.AppendUint64(b, m.Height)
	b = binary.BigEndian.AppendUint32(b, m.Round)
	b = append(b, byte(m.Step), byte(len(m.BlockHash)))
	b = append(b, m.BlockHash...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Extra)))
	return append(b, m.Extra...)
}

// BlockHeight is the block height a StepBlock message names (0 for other
// steps, whose Height is already the block height).
func (m *Message) BlockHeight() uint64 {
	if m.Step != StepBlock || len(m.Extra) != 8 {
		return m.Height
	}
	return binary.BigEndian.Uint64(m.Extra)
}

// SameSlot reports whether two messages are for one chain, height, round
// and step: a validator may sign only one message per slot.
func (m *Message) SameSlot(o *Message) bool {
	return m.ChainID == o.ChainID && m.Height == o.Height && m.Round == o.Round && m.Step == o.Step
}

// Equal reports whether two messages have the same sign bytes.
func (m *Message) Equal(o *Message) bool { return bytes.Equal(m.SignBytes(), o.SignBytes()) }

func (m *Message) encode(b []byte) []byte { return append(b, m.SignBytes()[len(Domain):]...) }

// decodeMessage reads one message written by encode and returns the rest.
func decodeMessage(b []byte) (Message, []byte, error) {
	var m Message
	short := fmt.Errorf("%w: truncated message", ErrInvalid)
	if len(b) < 1 {
		return m, nil, short
	}
	n := int(b[0])
	b = b[1:]
	if len(b) < n+8+4+1+1 {
		return m, nil, short
	}
	m.ChainID = string(b[:n])
	b = b[n:]
	m.Height = binary.BigEndian.Uint64(b)
	m.Round = binary.BigEndian.Uint32(b[8:])
	m.Step = Step(b[12])
	n = int(b[13])
	b = b[14:]
	if len(b) < n+2 {
		return m, nil, short
	}
	if n > 0 {
		m.BlockHash = append([]byte(nil), b[:n]...)
	}
	b = b[n:]
	n = int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < n {
		return m, nil, short
	}
	if n > 0 {
		m.Extra = append([]byte(nil), b[:n]...)
	}
	if err := m.Check(); err != nil {
		return m, nil, err
	}
	return m, b[n:], nil
}
