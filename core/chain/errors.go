package chain

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrInvalidBlock: the block breaks a rule; InvalidError says which.
	ErrInvalidBlock = errors.New("invalid block")
	// ErrUnknownBlock: no committed block has that hash or height.
	ErrUnknownBlock = errors.New("unknown block")
	// ErrUnknownParent: the block's parent is not in the tree (yet).
	ErrUnknownParent = errors.New("unknown parent block")
	// ErrRevertFinal: the request would revert a final block.
	ErrRevertFinal = errors.New("would revert a final block")
	// ErrNotCanonical: the block is not on the canonical chain.
	ErrNotCanonical = errors.New("block is not canonical")
	// ErrGenesisMismatch: the data directory belongs to another network.
	ErrGenesisMismatch = errors.New("genesis does not match the stored chain")
	// ErrProofLag: under the longest-chain proof-lag rule this block must
	// carry a proof and the mempool offered none.
	ErrProofLag = errors.New("proof lag: the block must carry a proof")
	// ErrCorrupt: stored data contradicts itself.
	ErrCorrupt = errors.New("stored chain is inconsistent")
)

// InvalidError says why a block is invalid.
type InvalidError struct {
	Height uint64
	Reason string
	Err    error // underlying cause, if any
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid block at height %d: %s", e.Height, e.Reason)
}

func (e *InvalidError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidBlock, e.Err}
	}
	return []error{ErrInvalidBlock}
}

func invalid(h uint64, err error, format string, args ...any) error {
	return &InvalidError{Height: h, Reason: fmt.Sprintf(format, args...), Err: err}
}
