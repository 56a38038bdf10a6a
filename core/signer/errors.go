package signer

import (
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/vote"
)

// Sentinel errors; every error the package returns wraps one of them (or a
// store error), with the detail in its text.
var (
	// ErrConflict: the slot was already signed with other sign bytes.
	ErrConflict = errors.New("refusing to sign a conflicting consensus message")
	// ErrRegression: the slot is below the last one signed.
	ErrRegression = errors.New("refusing to sign below the last signed slot")
	// ErrCorrupt: a slashing protection record cannot be read or does not
	// match the key. It is never reset automatically.
	ErrCorrupt = errors.New("slashing protection record is corrupt")
	// ErrInvalid: a malformed request (message or leader proof input).
	ErrInvalid = errors.New("invalid signing request")
	// ErrKeyFile: a node key file that cannot be used.
	ErrKeyFile = errors.New("invalid node key file")
)

// Slot is a consensus message's position: height, then round, then step.
type Slot struct {
	Height uint64
	Round  uint32
	Step   vote.Step
}

func slotOf(m *vote.Message) Slot { return Slot{m.Height, m.Round, m.Step} }

// Compare orders slots: -1, 0 or +1.
func (s Slot) Compare(o Slot) int {
	switch {
	case s.Height != o.Height:
		return cmp(s.Height < o.Height)
	case s.Round != o.Round:
		return cmp(s.Round < o.Round)
	case s.Step != o.Step:
		return cmp(s.Step < o.Step)
	}
	return 0
}

func cmp(less bool) int {
	if less {
		return -1
	}
	return 1
}

func (s Slot) String() string {
	return fmt.Sprintf("height %d round %d step %v", s.Height, s.Round, s.Step)
}

// ConflictError is a request for a slot already signed with other bytes.
// It unwraps to ErrConflict.
type ConflictError struct {
	ChainID string
	Slot    Slot
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: chain %q %v was already signed with other sign bytes", ErrConflict, e.ChainID, e.Slot)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// RegressionError is a request for a slot below the last signed one. It
// unwraps to ErrRegression.
type RegressionError struct {
	ChainID    string
	Slot, Last Slot
}

func (e *RegressionError) Error() string {
	return fmt.Sprintf("%v: chain %q %v is below the last signed %v", ErrRegression, e.ChainID, e.Slot, e.Last)
}

func (e *RegressionError) Unwrap() error { return ErrRegression }
