package batch

import (
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/core/stark"
)

var errNotYet = errors.New("not implemented yet")

// Params is the one parameter set batch/v1 proofs use.
func Params() stark.Params { return stark.FastProverParams() }

// Prove checks w against pub and proves it.
func Prove(pub Public, w *Witness, b stark.Backend, progress stark.Progress) ([]byte, error) {
	return nil, fmt.Errorf("%w: %w", ErrWitness, errNotYet)
}

// Verify checks a batch/v1 proof of pub.
func Verify(pub Public, proof []byte) error {
	return fmt.Errorf("%w: %w", ErrProof, errNotYet)
}
