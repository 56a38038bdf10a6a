package bls

import "errors"

// Sentinel errors; every error the package returns wraps one of them, with
// the detail (what was wrong, and where) in its text.
var (
	// ErrSecretKey marks a secret key that is malformed, zero or not below
	// the group order, or a key file that does not hold a usable key.
	ErrSecretKey = errors.New("bls: invalid secret key")
	// ErrPublicKey marks a public key encoding that is malformed, not on
	// the curve, outside the prime-order subgroup or the identity, and an
	// empty or degenerate set of keys to aggregate.
	ErrPublicKey = errors.New("bls: invalid public key")
	// ErrSignature marks a signature encoding that is malformed, not on the
	// curve, outside the prime-order subgroup or the identity, and an empty
	// or degenerate set of signatures to aggregate.
	ErrSignature = errors.New("bls: invalid signature")
	// ErrVerify marks a signature or proof of possession that does not
	// verify.
	ErrVerify = errors.New("bls: verification failed")
)
