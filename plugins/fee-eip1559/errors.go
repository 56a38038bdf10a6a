package fee

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them, so callers
// can test with errors.Is.
var (
	// ErrInvalidParams reports a Params value that fails Validate.
	ErrInvalidParams = errors.New("fee: invalid params")
	// ErrInvalidParent reports parent block data the fee market cannot use
	// (gas used above the gas limit, a gas limit too small for a target, ...).
	ErrInvalidParent = errors.New("fee: invalid parent block")
	// ErrOverflow reports an amount that does not fit in a uint64. The package
	// never wraps around.
	ErrOverflow = errors.New("fee: uint64 overflow")
	// ErrInvalidQuote reports a fee quote request outside the supported range.
	ErrInvalidQuote = errors.New("fee: invalid quote request")

	// ErrRejected is wrapped by every transaction rejection; the more specific
	// sentinels below are wrapped too.
	ErrRejected = errors.New("fee: transaction rejected")
	// ErrGasUsedAboveLimit: the transaction used more gas than its gas limit.
	ErrGasUsedAboveLimit = fmt.Errorf("%w: gas used above gas limit", ErrRejected)
	// ErrTipAboveFeeCap: max priority fee per gas above max fee per gas.
	ErrTipAboveFeeCap = fmt.Errorf("%w: max priority fee per gas above max fee per gas", ErrRejected)
	// ErrFeeCapBelowBaseFee: max fee per gas below the block's base fee.
	ErrFeeCapBelowBaseFee = fmt.Errorf("%w: max fee per gas below base fee", ErrRejected)
	// ErrFeeCapOverflow: gas limit × max fee per gas does not fit in a uint64.
	ErrFeeCapOverflow = fmt.Errorf("%w: gas limit × max fee per gas overflows uint64", ErrRejected)
	// ErrBlockGasLimit: the transaction's gas used does not fit in what is left
	// of the block's gas limit.
	ErrBlockGasLimit = fmt.Errorf("%w: block gas limit exceeded", ErrRejected)
)

// Reason says why a transaction was rejected. The numeric values are part of
// the plugin's wire format: they never change meaning; new reasons get new
// numbers.
type Reason uint8

// Rejection reasons. ReasonNone means the transaction was priced and included.
const (
	ReasonNone               Reason = 0
	ReasonGasUsedAboveLimit  Reason = 1
	ReasonTipAboveFeeCap     Reason = 2
	ReasonFeeCapBelowBaseFee Reason = 3
	ReasonFeeCapOverflow     Reason = 4
	ReasonBlockGasLimit      Reason = 5
)

var reasonNames = [...]string{
	ReasonNone:               "none",
	ReasonGasUsedAboveLimit:  "gas_used_above_limit",
	ReasonTipAboveFeeCap:     "tip_above_fee_cap",
	ReasonFeeCapBelowBaseFee: "fee_cap_below_base_fee",
	ReasonFeeCapOverflow:     "fee_cap_overflow",
	ReasonBlockGasLimit:      "block_gas_limit",
}

var reasonErrs = [...]error{
	ReasonNone:               nil,
	ReasonGasUsedAboveLimit:  ErrGasUsedAboveLimit,
	ReasonTipAboveFeeCap:     ErrTipAboveFeeCap,
	ReasonFeeCapBelowBaseFee: ErrFeeCapBelowBaseFee,
	ReasonFeeCapOverflow:     ErrFeeCapOverflow,
	ReasonBlockGasLimit:      ErrBlockGasLimit,
}

// String returns the reason's stable snake_case name.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Err returns the sentinel error for the reason: nil for ReasonNone,
// ErrRejected for an unknown reason.
func (r Reason) Err() error {
	if int(r) < len(reasonErrs) {
		return reasonErrs[r]
	}
	return ErrRejected
}

// TxError is the typed error of a rejected transaction. It unwraps to the
// reason's sentinel (and so to ErrRejected).
type TxError struct {
	Index  int    // position in the block; -1 when the transaction was priced alone
	Reason Reason // why it was rejected
	Detail string // the numbers involved, for people
}

func (e *TxError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("fee: transaction rejected (%s): %s", e.Reason, e.Detail)
	}
	return fmt.Sprintf("fee: transaction %d rejected (%s): %s", e.Index, e.Reason, e.Detail)
}

// Unwrap returns the reason's sentinel error.
func (e *TxError) Unwrap() error { return e.Reason.Err() }

// ParamError names one Params field that fails validation. It unwraps to
// ErrInvalidParams.
type ParamError struct {
	Field string // the field's JSON name, e.g. "base_fee_split.burn"
	Msg   string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("fee: invalid params: %s: %s", e.Field, e.Msg)
}

// Unwrap returns ErrInvalidParams.
func (e *ParamError) Unwrap() error { return ErrInvalidParams }
