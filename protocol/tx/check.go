package tx

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/vote"
)

// CheckStateless runs every check that needs no state: chain id, gas, fee
// fields, amounts, overflow, and the signature last (it is the expensive one).
func (t *Tx) CheckStateless(chainID string) error {
	if err := t.checkFields(chainID); err != nil {
		return err
	}
	return t.VerifySignature()
}

// checkFields is CheckStateless without the signature.
func (t *Tx) checkFields(chainID string) error {
	if t.Body == nil {
		return fmt.Errorf("%w: no body", ErrMalformed)
	}
	if err := checkChainID(t.ChainID); err != nil {
		return err
	}
	if t.ChainID != chainID {
		return fmt.Errorf("%w: signed for %q, this chain is %q", ErrChainID, t.ChainID, chainID)
	}
	if g := t.Gas(); t.GasLimit < g {
		return fmt.Errorf("%w: gas limit %d is below the %d gas a %s uses", ErrGas, t.GasLimit, g, t.Type())
	}
	if t.MaxPriorityFeePerGas > t.MaxFeePerGas {
		return fmt.Errorf("%w: max priority fee %d exceeds max fee %d", ErrFee, t.MaxPriorityFeePerGas, t.MaxFeePerGas)
	}
	switch t.Type() {
	case TypeTransfer, TypeBond, TypeUnbond, TypeDelegate:
		if t.Amount() == 0 {
			return fmt.Errorf("%w: a %s of 0", ErrAmount, t.Type())
		}
	}
	if _, ok := t.MaxCost(); !ok {
		return fmt.Errorf("%w: amount %d plus gas limit %d × max fee %d does not fit in 64 bits", ErrOverflow, t.Amount(), t.GasLimit, t.MaxFeePerGas)
	}
	switch b := t.Body.(type) {
	case Transfer:
		if b.To.IsZero() {
			return fmt.Errorf("%w: transfer to the zero address", ErrMalformed)
		}
	case Delegate:
		if b.Validator.IsZero() {
			return fmt.Errorf("%w: delegation to the zero address", ErrMalformed)
		}
	case Slash:
		if _, err := b.Decode(t.ChainID); err != nil {
			return err
		}
	case ProverRegister:
		if err := account.CheckProverKind(b.Kind); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if b.Throughput == 0 {
			return fmt.Errorf("%w: a prover registration claims a throughput of 0", ErrMalformed)
		}
	case Proof:
		if len(b.Proof) == 0 || len(b.Proof) > MaxProofSize {
			return fmt.Errorf("%w: proof of %d bytes, want 1..%d", ErrMalformed, len(b.Proof), MaxProofSize)
		}
	}
	return nil
}

// CheckAll runs CheckStateless on every transaction using up to workers
// goroutines (0 means all cores) and returns one error per transaction.
// Signatures are verified in batches (VerifyBatch), so the result is the
// same as CheckStateless one by one at about half the cost.
func CheckAll(txs []*Tx, chainID string, workers int) []error {
	errs := make([]error, len(txs))
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// A worker gets at least one full batch: smaller batches verify slower.
	workers = max(1, min(workers, len(txs)/BatchSize))
	chunk := (len(txs) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(txs); lo += chunk {
		hi := min(lo+chunk, len(txs))
		wg.Go(func() { checkRange(txs[lo:hi], chainID, errs[lo:hi]) })
	}
	wg.Wait()
	return errs
}

// checkRange checks txs into errs, batching the signatures of the
// transactions whose fields pass.
func checkRange(txs []*Tx, chainID string, errs []error) {
	pending := make([]*Tx, 0, min(len(txs), BatchSize))
	at := make([]int, 0, cap(pending))
	flush := func() {
		for k, err := range VerifyBatch(pending) {
			errs[at[k]] = err
		}
		pending, at = pending[:0], at[:0]
	}
	for i, t := range txs {
		if errs[i] = t.checkFields(chainID); errs[i] != nil {
			continue
		}
		pending = append(pending, t)
		at = append(at, i)
		if len(pending) == BatchSize {
			flush()
		}
	}
	flush()
}

// Decode parses the evidence and checks what needs no state: it is well
// formed, canonical, its two messages conflict, and they are for chainID.
// The signatures are checked at execution, against the offender's key in
// state. Errors wrap ErrEvidence.
func (s Slash) Decode(chainID string) (*vote.Evidence, error) {
	if len(s.Evidence) > vote.MaxEvidenceSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrEvidence, len(s.Evidence), vote.MaxEvidenceSize)
	}
	e, err := vote.DecodeEvidence([]byte(s.Evidence))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEvidence, err)
	}
	if e.A.ChainID != chainID {
		return nil, fmt.Errorf("%w: evidence of an offence on chain %q, this transaction is for %q", ErrEvidence, e.A.ChainID, chainID)
	}
	return e, nil
}
