package tx

import (
	"fmt"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/trellis-chain/trellis/protocol/hashsig"
)

// BatchSize is how many signatures VerifyBatch checks in one multiscalar
// multiplication. Larger batches are cheaper per signature (13 µs at 256
// against 16 µs at 64), but one bad signature sends its whole batch back to
// single checks, so the batch stays small enough to bound that cost.
const BatchSize = 128

// sigRule is the consensus rule for transaction signatures: RFC 8032
// verification with the cofactor ([8][S]B = [8]R + [8][k]A), S < L, A and R
// canonically encoded, and A not of small order (a small-order key is one
// anybody can sign for). The cofactored equation is what makes a batch
// verification agree with checking each signature alone; the encoding rules
// keep one encoding, so one hash, per transaction. Every signature that
// crypto/ed25519 produces passes it.
var sigRule = &voi.Options{Verify: voi.VerifyOptionsDefault}

// VerifySignature checks the ed25519 signature under the chain's rule.
func (t *Tx) VerifySignature() error {
	if t.verified.Load() {
		return nil
	}
	if t.HashSig != nil {
		if err := hashsig.Verify(t.HashSig.PublicKey, t.SigningDigest(), t.HashSig.Signature); err != nil {
			return fmt.Errorf("%w: sender %s: %v", ErrSignature, t.Sender(), err)
		}
		t.verified.Store(true)
		return nil
	}
	if !voi.VerifyWithOptions(t.PublicKey[:], t.SigningBytes(), t.Signature[:], sigRule) {
		return sigError(t)
	}
	t.verified.Store(true)
	return nil
}

// VerifyBatch checks the signatures of txs, returning one error (nil or
// wrapping ErrSignature) per transaction: the same results as VerifySignature
// on each. It verifies the batch at once and falls back to single checks
// only when the batch fails.
func VerifyBatch(txs []*Tx) []error {
	errs := make([]error, len(txs))
	todo := make([]int, 0, len(txs))
	var hs []hashsig.Item
	var hsAt []int
	for i, t := range txs {
		switch {
		case t.verified.Load():
		case t.HashSig != nil:
			hs = append(hs, hashsig.Item{Key: t.HashSig.PublicKey, Msg: t.SigningDigest(), Sig: t.HashSig.Signature})
			hsAt = append(hsAt, i)
		default:
			todo = append(todo, i)
		}
	}
	// Hash-based signatures are checked together, through the 16-lane
	// kernel, on this goroutine (CheckAll already spreads batches over
	// the cores).
	for k, err := range hashsig.VerifyMany(hs, 1) {
		t := txs[hsAt[k]]
		if err != nil {
			errs[hsAt[k]] = fmt.Errorf("%w: sender %s: %v", ErrSignature, t.Sender(), err)
		} else {
			t.verified.Store(true)
		}
	}
	switch len(todo) {
	case 0:
		return errs
	case 1:
		errs[todo[0]] = txs[todo[0]].VerifySignature()
		return errs
	}
	v := voi.NewBatchVerifierWithCapacity(len(todo))
	for _, i := range todo {
		t := txs[i]
		v.AddWithOptions(t.PublicKey[:], t.SigningBytes(), t.Signature[:], sigRule)
	}
	ok, valid := v.Verify(nil)
	for k, i := range todo {
		if ok || valid[k] {
			txs[i].verified.Store(true)
		} else {
			errs[i] = sigError(txs[i])
		}
	}
	return errs
}

func sigError(t *Tx) error {
	return fmt.Errorf("%w: sender %s", ErrSignature, t.Sender())
}
