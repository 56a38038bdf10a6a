package vote

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
)

// ErrNoConflict is returned for evidence whose two messages are not for the
// same slot or are the same message.
var ErrNoConflict = errors.New("messages do not conflict")

// EvidenceVersion is the evidence encoding this package writes.
const EvidenceVersion = 1

// MaxEvidenceSize bounds an encoded evidence.
const MaxEvidenceSize = 1 + account.AddressSize + 2*(1+MaxChainIDLen+8+4+1+1+HashSize+2+MaxExtra+bls.SignatureSize)

// Evidence shows that Validator signed two different messages for one
// slot. A and B are ordered by sign bytes so one offence has one encoding.
type Evidence struct {
	Validator account.Address
	A, B      Message
	SigA      [bls.SignatureSize]byte
	SigB      [bls.SignatureSize]byte
}

// NewEvidence orders the two signed messages canonically and checks that
// they conflict. It does not check the signatures.
func NewEvidence(validator account.Address, a Message, sigA []byte, b Message, sigB []byte) (*Evidence, error) {
	if len(sigA) != bls.SignatureSize || len(sigB) != bls.SignatureSize {
		return nil, fmt.Errorf("%w: signature of %d and %d bytes (want %d)", ErrInvalid, len(sigA), len(sigB), bls.SignatureSize)
	}
	if bytes.Compare(a.SignBytes(), b.SignBytes()) > 0 {
		a, b, sigA, sigB = b, a, sigB, sigA
	}
	e := &Evidence{Validator: validator, A: a, B: b}
	copy(e.SigA[:], sigA)
	copy(e.SigB[:], sigB)
	return e, e.checkConflict()
}

func (e *Evidence) checkConflict() error {
	if err := e.A.Check(); err != nil {
		return err
	}
	if err := e.B.Check(); err != nil {
		return err
	}
	if !e.A.SameSlot(&e.B) {
		return fmt.Errorf("%w: slots %d/%d/%v and %d/%d/%v differ", ErrNoConflict, e.A.Height, e.A.Round, e.A.Step, e.B.Height, e.B.Round, e.B.Step)
	}
	if c := bytes.Compare(e.A.SignBytes(), e.B.SignBytes()); c >= 0 {
		if c == 0 {
			return fmt.Errorf("%w: the two messages are the same", ErrNoConflict)
		}
		return fmt.Errorf("%w: messages are not in canonical order", ErrInvalid)
	}
	return nil
}

// Verify checks that the evidence is well formed, conflicting, for
// chainID, and that both signatures verify under pk.
func (e *Evidence) Verify(chainID string, pk bls.PublicKey) error {
	if err := e.checkConflict(); err != nil {
		return err
	}
	if e.A.ChainID != chainID {
		return fmt.Errorf("%w: evidence for chain %q, not %q", ErrInvalid, e.A.ChainID, chainID)
	}
	for i, m := range []struct {
		msg *Message
		sig []byte
	}{{&e.A, e.SigA[:]}, {&e.B, e.SigB[:]}} {
		sig, err := bls.SignatureFromBytes(m.sig)
		if err != nil {
			return fmt.Errorf("%w: signature %d: %w", ErrInvalid, i+1, err)
		}
		if err := bls.Verify(pk, m.msg.SignBytes(), sig); err != nil {
			return fmt.Errorf("signature %d: %w", i+1, err)
		}
	}
	return nil
}

// Height is the height of the offence: the block height of the messages,
// the lower of the two for longest-chain blocks (whose slot may hold
// blocks at different heights).
func (e *Evidence) Height() uint64 { return min(e.A.BlockHeight(), e.B.BlockHeight()) }

// Encode returns the canonical encoding.
func (e *Evidence) Encode() []byte {
	b := make([]byte, 0, MaxEvidenceSize)
	b = append(b, EvidenceVersion)
	b = append(b, e.Validator[:]...)
	b = e.A.encode(b)
	b = append(b, e.SigA[:]...)
	b = e.B.encode(b)
	return append(b, e.SigB[:]...)
}

// DecodeEvidence parses an encoding written by Encode and checks that it is
// canonical and conflicting; signatures are checked by Verify.
func DecodeEvidence(b []byte) (*Evidence, error) {
	if len(b) > MaxEvidenceSize {
		return nil, fmt.Errorf("%w: evidence of %d bytes (limit %d)", ErrInvalid, len(b), MaxEvidenceSize)
	}
	if len(b) < 1+account.AddressSize {
		return nil, fmt.Errorf("%w: truncated evidence", ErrInvalid)
	}
	if b[0] != EvidenceVersion {
		return nil, fmt.Errorf("%w: evidence version %d (want %d)", ErrInvalid, b[0], EvidenceVersion)
	}
	e := &Evidence{}
	copy(e.Validator[:], b[1:])
	rest := b[1+account.AddressSize:]
	var err error
	for _, p := range []struct {
		m   *Message
		sig []byte
	}{{&e.A, e.SigA[:]}, {&e.B, e.SigB[:]}} {
		if *p.m, rest, err = decodeMessage(rest); err != nil {
			return nil, err
		}
		if len(rest) < bls.SignatureSize {
			return nil, fmt.Errorf("%w: truncated signature", ErrInvalid)
		}
		copy(p.sig, rest)
		rest = rest[bls.SignatureSize:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrInvalid, len(rest))
	}
	if err := e.checkConflict(); err != nil {
		return nil, err
	}
	return e, nil
}
