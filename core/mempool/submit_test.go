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

// Config.ProofCheck refuses proof transactions at admission, in Add and
// AddBatch alike, and leaves other transactions alone.
func TestProofCheckAtAdmission(t *testing.T) {
	st := newState()
	st.set(addr(1), 0, 1<<40)
	refused := errors.New("no open proof job")
	calls := 0
	p := New(Config{ChainID: chain, ProofCheck: func(*tx.Tx) error { calls++; return refused }}, st)
	proof := func(n uint64) *tx.Tx {
		b := tx.Proof{Height: 1, Proof: "garbage"}
		t := &tx.Tx{ChainID: chain, Nonce: n, GasLimit: tx.BodyGas(b), MaxFeePerGas: 20, MaxPriorityFeePerGas: 2, Body: b}
		t.Sign(key(1))
		return t
	}
	if err := p.Add(proof(0)); !errors.Is(err, refused) || !errors.Is(err, ErrProofRefused) {
		t.Fatalf("Add: %v", err)
	}
	if errs := p.AddBatch([]*tx.Tx{proof(0)}); !errors.Is(errs[0], refused) {
		t.Fatalf("AddBatch: %v", errs[0])
	}
	transfer := &tx.Tx{ChainID: chain, Nonce: 0, GasLimit: tx.GasTransfer, MaxFeePerGas: 20, MaxPriorityFeePerGas: 2, Body: tx.Transfer{To: addr(2), Amount: 1}}
	transfer.Sign(key(1))
	if err := p.Add(transfer); err != nil {
		t.Fatalf("a transfer: %v", err)
	}
	if p.Len() != 1 || calls != 2 {
		t.Fatalf("pool holds %d, ProofCheck called %d times; want 1 and 2", p.Len(), calls)
	}
}
