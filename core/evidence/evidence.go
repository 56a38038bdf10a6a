package evidence

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
)

// Config is what a Sink needs of its node.
type Config struct {
	Chain *chain.Chain
	Pool  *mempool.Mempool
	// Submit sends the slashing transactions from the node's account.
	Submit *mempool.Submitter
}

// Sink turns double-sign evidence from plugins into slashing transactions
// signed by the node's account and queued in the mempool, which gossips
// them.
type Sink struct {
	chain  *chain.Chain
	pool   *mempool.Mempool
	submit *mempool.Submitter

	mu   sync.Mutex // one report at a time, so a validator is reported once
	sent map[account.Address]tx.Hash
}

// New returns the sink of a node.
func New(cfg Config) *Sink {
	return &Sink{chain: cfg.Chain, pool: cfg.Pool, submit: cfg.Submit, sent: map[account.Address]tx.Hash{}}
}

// Report implements hostsvc.EvidenceFunc. It verifies the evidence
// against the offender's key in the head state first, so that a plugin or
// peer cannot spend the node's fees on reports that would fail. It returns
// the zero hash for a validator already tombstoned, or one whose slashing
// transaction from this node is pending or in the chain.
func (s *Sink) Report(ctx context.Context, e *vote.Evidence) (tx.Hash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, a, err := statedb.AccountAt(s.chain.State(), e.Validator)
	if errors.Is(err, statedb.ErrNoAccount) || (err == nil && a.Validator == nil) {
		return tx.Hash{}, fmt.Errorf("%w: %s is not a validator", vote.ErrInvalid, e.Validator)
	}
	if err != nil {
		return tx.Hash{}, err
	}
	if a.Validator.Slashed > 0 {
		return tx.Hash{}, nil
	}
	pk, err := bls.PublicKeyFromBytes(a.Validator.BLSPublicKey[:])
	if err != nil {
		return tx.Hash{}, fmt.Errorf("%w: %s's registered BLS key is unusable: %w", vote.ErrInvalid, e.Validator, err)
	}
	if err := e.Verify(s.chain.ChainID(), pk); err != nil {
		return tx.Hash{}, fmt.Errorf("%w: evidence against %s: %w", vote.ErrInvalid, e.Validator, err)
	}
	if h, ok := s.sent[e.Validator]; ok {
		if _, pending := s.pool.Get(h); pending {
			return tx.Hash{}, nil
		}
		if _, included, err := s.chain.TxLocation(h); err != nil || included {
			return tx.Hash{}, err
		}
	}
	t, err := s.submit.Submit(ctx, tx.Slash{Evidence: string(e.Encode())}, tx.IntrinsicGas(tx.TypeSlash))
	if err != nil {
		return tx.Hash{}, err
	}
	s.sent[e.Validator] = t.Hash()
	return t.Hash(), nil
}
