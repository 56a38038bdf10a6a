package tx

import "errors"

// Sentinel errors; every rejection wraps one, with the detail in its text.
var (
	ErrTooLarge  = errors.New("transaction too large")
	ErrMalformed = errors.New("malformed transaction")
	ErrVersion   = errors.New("unsupported transaction version")
	ErrType      = errors.New("unsupported transaction type")
	ErrSignature = errors.New("invalid signature")
	ErrChainID   = errors.New("wrong chain id")
	ErrGas       = errors.New("invalid gas")
	ErrFee       = errors.New("invalid fee")
	ErrAmount    = errors.New("invalid amount")
	ErrOverflow  = errors.New("amount overflows")
	ErrEvidence  = errors.New("invalid evidence")
)
