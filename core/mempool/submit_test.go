package mempool

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// Concurrent submitters of the node's account (the proving worker and the
// evidence sink) get consecutive nonces, each once, all in the pool and
// all broadcast.
func TestSubmitterNonces(t *testing.T) {
	st := newState()
	st.set(addr(1), 3, 1<<40)
	p := New(Config{ChainID: chain}, st)
	var mu sync.Mutex
	var sent []*tx.Tx
	s := &Submitter{ChainID: chain, Pool: p, From: addr(1), Sign: func(t *tx.Tx) { t.Sign(key(1)) },
		Quote:     func(context.Context) (uint64, uint64, error) { return 20, 2, nil },
		Broadcast: func(t *tx.Tx) { mu.Lock(); sent = append(sent, t); mu.Unlock() }}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if _, err := s.Submit(context.Background(), tx.Transfer{To: addr(2), Amount: uint64(i + 1)}, tx.GasTransfer); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var nonces []uint64
	for _, tx := range sent {
		nonces = append(nonces, tx.Nonce)
		if _, ok := p.Get(tx.Hash()); !ok {
			t.Errorf("nonce %d broadcast but not pooled", tx.Nonce)
		}
	}
	slices.Sort(nonces)
	for i, n := range nonces {
		if n != uint64(3+i) {
			t.Fatalf("nonces %v, want 3..18 once each", nonces)
		}
	}
	if len(nonces) != 16 {
		t.Fatalf("%d broadcast, want 16", len(nonces))
	}
	// A failed quote signs and queues nothing.
	s.Quote = func(context.Context) (uint64, uint64, error) { return 0, 0, errors.New("fee plugin down") }
	if tx, err := s.Submit(context.Background(), tx.Transfer{To: addr(2), Amount: 1}, tx.GasTransfer); tx != nil || err == nil || p.Len() != 16 {
		t.Fatalf("Submit with a failed quote: %v %v, pool %d", tx, err, p.Len())
	}
}
