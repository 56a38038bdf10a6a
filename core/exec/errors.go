package exec

import (
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// Reasons a transaction cannot be in a block.
var (
	ErrNonce             = errors.New("bad nonce")
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrFeeCap            = errors.New("fee cap below base fee")
	ErrBlockFull         = errors.New("block gas limit reached")
	ErrFeeRejected       = errors.New("rejected by the fee plugin")
	// ErrProof is a proof transaction that cannot settle a job: no open
	// job for its height, a sender that is not a registered prover or not
	// the assignee, or a proof that does not verify (the batch/stark
	// reason is wrapped too).
	ErrProof = errors.New("proof rejected")
	// ErrPricing is a fee plugin answer the host cannot use.
	ErrPricing = errors.New("fee plugin answer unusable")
	// ErrBaseFee is a block whose base fee is not the one the fee plugin
	// prices it at (Validate: the header's claim is wrong).
	ErrBaseFee = errors.New("base fee differs from the fee plugin's")
)

// TxError says which transaction made a block invalid.
type TxError struct {
	Index int
	Hash  tx.Hash
	Err   error
}

func (e *TxError) Error() string {
	return fmt.Sprintf("transaction %d (%s): %v", e.Index, e.Hash, e.Err)
}

func (e *TxError) Unwrap() error { return e.Err }

// failure is a body that failed: the transaction stays in the block with a
// failed receipt.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func fail(format string, args ...any) error { return &failure{msg: fmt.Sprintf(format, args...)} }
