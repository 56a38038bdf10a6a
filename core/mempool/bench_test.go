package mempool

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// benchTxs returns senders×perSender transfers in arrival order (nonce-major,
// so each sender's nonces arrive in order), with pseudo-random fees, and a
// state in which every sender is rich. Hashes are cached, as after
// tx.Decode. signed decides whether they carry real signatures.
func benchTxs(senders, perSender int, sign bool) ([]*tx.Tx, *fakeState) {
	r := rand.New(rand.NewPCG(1, 2))
	st := newState()
	for k := range senders {
		st.set(addr(k), 0, rich)
	}
	out := make([]*tx.Tx, 0, senders*perSender)
	for n := range uint64(perSender) {
		for k := range senders {
			fee := 100 + r.Uint64N(100)
			tip := r.Uint64N(100)
			x := unsigned(k, n, fee, tip)
			if sign {
				x.Sign(key(k))
				x.Hash()
			}
			out = append(out, x)
		}
	}
	return out, st
}

var (
	signedOnce  sync.Once
	signedBatch []*tx.Tx
	signedState *fakeState
)

// BenchmarkAddBatch admits 10,000 signed transfers from 1,000 senders into
// an empty pool per iteration: parallel stateless checks (signatures
// dominate) plus admission.
func BenchmarkAddBatch(b *testing.B) {
	signedOnce.Do(func() { signedBatch, signedState = benchTxs(1000, 10, true) })
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				m := New(Config{ChainID: chain, Workers: workers}, signedState)
				for i, err := range m.AddBatch(signedBatch) {
					if err != nil {
						b.Fatalf("tx %d: %v", i, err)
					}
				}
			}
			b.ReportMetric(float64(len(signedBatch))*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}

// BenchmarkAdd measures admission alone (stateless checks done before): one
// transaction per op into a pool growing to 50,000 (1,000 senders × 50),
// lock included.
func BenchmarkAdd(b *testing.B) {
	txs, st := benchTxs(1000, 50, false)
	m := New(Config{ChainID: chain}, st)
	i := 0
	for b.Loop() {
		if i == len(txs) {
			b.StopTimer()
			m, i = New(Config{ChainID: chain}, st), 0
			b.StartTimer()
		}
		m.mu.Lock()
		err := m.admit(txs[i])
		m.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkAddEvicting measures admission into a full pool of 50,000 where
// every newcomer pays more and evicts the cheapest last transaction.
func BenchmarkAddEvicting(b *testing.B) {
	base, st := benchTxs(1000, 50, false)
	fresh := make([]*tx.Tx, 0, 10_000)
	for k := 1000; k < 1000+10_000; k++ { // one tx from each new sender
		st.set(addr(k), 0, rich)
		fresh = append(fresh, unsigned(k, 0, 1000, 500))
	}
	fill := func() *Mempool {
		m := New(Config{ChainID: chain}, st)
		m.mu.Lock()
		for _, x := range base {
			if err := m.admit(x); err != nil {
				b.Fatal(err)
			}
		}
		m.mu.Unlock()
		return m
	}
	m := fill()
	i := 0
	for b.Loop() {
		if i == len(fresh) {
			b.StopTimer()
			m, i = fill(), 0
			b.StartTimer()
		}
		m.mu.Lock()
		err := m.admit(fresh[i])
		m.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSelect selects 10,000 transactions from a pool of 50,000
// (1,000 senders × 50 nonces).
func BenchmarkSelect(b *testing.B) {
	txs, st := benchTxs(1000, 50, false)
	m := New(Config{ChainID: chain}, st)
	m.mu.Lock()
	for _, x := range txs {
		if err := m.admit(x); err != nil {
			b.Fatal(err)
		}
	}
	m.mu.Unlock()
	for b.Loop() {
		if got := m.Select(50, math.MaxUint64, 10_000); len(got) != 10_000 {
			b.Fatalf("selected %d", len(got))
		}
	}
	b.ReportMetric(10_000*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}
