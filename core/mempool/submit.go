package mempool

import (
	"context"
	"fmt"
	"sync"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Submitter signs the node's own transactions (proofs, slashing reports)
// with its account key, queues them in the pool and gossips them. It takes
// one at a time, each at the account's next pending nonce, so two callers
// never sign the same nonce.
type Submitter struct {
	ChainID string
	Pool    *Mempool
	From    account.Address
	// Sign signs with From's key (the host's signer).
	Sign func(*tx.Tx)
	// Quote prices a transaction for the next blocks (the fee plugin).
	Quote func(ctx context.Context) (maxFee, tip uint64, err error)
	// Broadcast gossips the transaction; nil without a network.
	Broadcast func(*tx.Tx)

	mu sync.Mutex
}

// Submit signs body with gasLimit at the quoted fees and queues it. The
// returned transaction is nil when pricing failed.
func (s *Submitter) Submit(ctx context.Context, body tx.Body, gasLimit uint64) (*tx.Tx, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	maxFee, tip, err := s.Quote(ctx)
	if err != nil {
		return nil, fmt.Errorf("pricing the %s transaction: %w", body.Type(), err)
	}
	t := &tx.Tx{ChainID: s.ChainID, Nonce: s.Pool.PendingNonce(s.From), GasLimit: gasLimit,
		MaxFeePerGas: maxFee, MaxPriorityFeePerGas: tip, Body: body}
	s.Sign(t)
	if err := s.Pool.Add(t); err != nil {
		return t, fmt.Errorf("queueing %s transaction %s from %s: %w", body.Type(), t.Hash(), s.From, err)
	}
	if s.Broadcast != nil {
		s.Broadcast(t)
	}
	return t, nil
}
