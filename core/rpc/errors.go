package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// JSON-RPC error codes. -32700..-32603 are the JSON-RPC 2.0 ones; -32000 and
// below are this API's.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	CodeTxRejected     = -32000 // the node refused a transaction; Reason says why
	CodeNotFound       = -32001 // no such transaction or block
	CodeUnauthorized   = -32004 // an admin method without the node's admin token
	CodeLimitExceeded  = -32005 // a per-connection limit, e.g. subscriptions
)

// Error is a JSON-RPC error object. The client returns server errors as
// *Error, so callers can switch on Code and Reason.
type Error struct {
	Code    int
	Message string
	// Reason is a short stable code for CodeTxRejected and CodeLimitExceeded
	// ("nonce_gap", "insufficient_funds", ...); empty otherwise.
	Reason string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("rpc error %d (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) true for a CodeNotFound error the
// client received.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Code == CodeNotFound
}

type errorData struct {
	Reason string `json:"reason"`
}

type wireError struct {
	Code    int        `json:"code"`
	Message string     `json:"message"`
	Data    *errorData `json:"data,omitempty"`
}

// MarshalJSON writes {"code","message","data":{"reason"}}.
func (e *Error) MarshalJSON() ([]byte, error) {
	w := wireError{Code: e.Code, Message: e.Message}
	if e.Reason != "" {
		w.Data = &errorData{Reason: e.Reason}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads an error object; data without a reason is ignored.
func (e *Error) UnmarshalJSON(b []byte) error {
	var w struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	e.Code, e.Message, e.Reason = w.Code, w.Message, ""
	var d errorData
	if len(w.Data) > 0 && json.Unmarshal(w.Data, &d) == nil {
		e.Reason = d.Reason
	}
	return nil
}

// Reasons for CodeTxRejected: stable strings a wallet can switch on.
const (
	ReasonMalformed          = "malformed"
	ReasonTooLarge           = "too_large"
	ReasonUnsupportedVersion = "unsupported_version"
	ReasonUnsupportedType    = "unsupported_type"
	ReasonBadSignature       = "bad_signature"
	ReasonWrongChainID       = "wrong_chain_id"
	ReasonBadGas             = "bad_gas"
	ReasonBadFee             = "bad_fee"
	ReasonBadAmount          = "bad_amount"
	ReasonOverflow           = "overflow"
	ReasonKnown              = "already_known"
	ReasonNonceTooLow        = "nonce_too_low"
	ReasonNonceGap           = "nonce_gap"
	ReasonInsufficientFunds  = "insufficient_funds"
	ReasonUnderpriced        = "underpriced"
	ReasonSenderLimit        = "sender_limit"
	ReasonPoolFull           = "pool_full"
	ReasonProofRefused       = "proof_refused"
	// ReasonTooManySubscriptions goes with CodeLimitExceeded.
	ReasonTooManySubscriptions = "too_many_subscriptions"
	// ReasonTooManyConnections goes with CodeLimitExceeded, at a WebSocket
	// upgrade.
	ReasonTooManyConnections = "too_many_connections"
)

// errorTable maps sentinel errors to codes: the one place where Go errors
// become API errors. The first entry errors.Is matches wins.
var errorTable = []struct {
	err    error
	code   int
	reason string
}{
	{ErrNotFound, CodeNotFound, ""},
	{tx.ErrTooLarge, CodeTxRejected, ReasonTooLarge},
	{tx.ErrMalformed, CodeTxRejected, ReasonMalformed},
	{tx.ErrVersion, CodeTxRejected, ReasonUnsupportedVersion},
	{tx.ErrType, CodeTxRejected, ReasonUnsupportedType},
	{tx.ErrSignature, CodeTxRejected, ReasonBadSignature},
	{tx.ErrChainID, CodeTxRejected, ReasonWrongChainID},
	{tx.ErrGas, CodeTxRejected, ReasonBadGas},
	{tx.ErrFee, CodeTxRejected, ReasonBadFee},
	{tx.ErrAmount, CodeTxRejected, ReasonBadAmount},
	{tx.ErrOverflow, CodeTxRejected, ReasonOverflow},
	{mempool.ErrKnown, CodeTxRejected, ReasonKnown},
	{mempool.ErrNonceTooLow, CodeTxRejected, ReasonNonceTooLow},
	{mempool.ErrNonceGap, CodeTxRejected, ReasonNonceGap},
	{mempool.ErrInsufficientFunds, CodeTxRejected, ReasonInsufficientFunds},
	{mempool.ErrProofRefused, CodeTxRejected, ReasonProofRefused},
	// Underpriced before pool full: a full pool refuses a low tip with both,
	// and paying more is what the sender can do about it.
	{mempool.ErrUnderpriced, CodeTxRejected, ReasonUnderpriced},
	{mempool.ErrSenderLimit, CodeTxRejected, ReasonSenderLimit},
	{mempool.ErrPoolFull, CodeTxRejected, ReasonPoolFull},
}

// toError maps any error a method returns to the error object sent.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var pe *ParamError
	if errors.As(err, &pe) {
		return &Error{Code: CodeInvalidParams, Message: pe.Error()}
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			return &Error{Code: m.code, Message: err.Error(), Reason: m.reason}
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeInternal, Message: "request timed out: " + err.Error()}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeInternal, Message: "request canceled"}
	}
	return &Error{Code: CodeInternal, Message: "internal error: " + err.Error()}
}

// ParamError reports a parameter that is missing or wrong; it maps to
// CodeInvalidParams.
type ParamError struct {
	Index int    // position in params, -1 for the params as a whole
	Name  string // what the parameter is, e.g. "address"
	Err   error
}

func (e *ParamError) Error() string {
	if e.Index < 0 {
		return "invalid params: " + e.Err.Error()
	}
	return fmt.Sprintf("invalid params: param %d (%s): %v", e.Index, e.Name, e.Err)
}

func (e *ParamError) Unwrap() error { return e.Err }
