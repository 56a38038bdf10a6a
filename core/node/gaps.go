package node

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/trellis-chain/trellis/core/account"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/tx"
)

// Gossiped transaction batches are validated concurrently, so a sender's
// later nonces can reach the mempool before its earlier ones, which the pool
// refuses as a nonce gap. Dropping them left those transactions to the one
// node that had them in order, to be included only when it next proposed:
// seconds of extra latency under load. The gap buffer keeps such
// transactions briefly and retries them once their sender's earlier nonces
// are admitted.
const (
	gapMax = 8192            // transactions held at most
	gapTTL = 5 * time.Second // then they are dropped
)

type gapEntry struct {
	t  *tx.Tx
	at time.Time
}

// gapBuffer holds gossiped transactions refused with mempool.ErrNonceGap,
// by sender. It never holds more than gapMax; when full, new ones are
// dropped, as they were before the buffer existed. Only a sender whose
// balance covers the transaction's max cost gets one parked, so junk from
// fresh, unfunded keys cannot crowd out honest transactions.
type gapBuffer struct {
	state  mempool.State
	mu     sync.Mutex
	n      int
	byFrom map[account.Address][]gapEntry
}

func newGapBuffer(st mempool.State) *gapBuffer {
	return &gapBuffer{state: st, byFrom: map[account.Address][]gapEntry{}}
}

// park keeps a transaction for a later retry; it reports false when the
// buffer is full or the sender cannot pay for it.
func (g *gapBuffer) park(e gapEntry) bool {
	cost, ok := e.t.MaxCost()
	if _, bal := g.state.Account(e.t.Sender()); !ok || bal < cost {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n >= gapMax {
		return false
	}
	from := e.t.Sender()
	g.byFrom[from] = append(g.byFrom[from], e)
	g.n++
	return true
}

// take removes and returns the unexpired transactions of the senders of
// added (of every sender when added is nil), oldest nonce first.
func (g *gapBuffer) take(added []*tx.Tx, now time.Time) []gapEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		return nil
	}
	var out []gapEntry
	grab := func(from account.Address) {
		es, ok := g.byFrom[from]
		if !ok {
			return
		}
		delete(g.byFrom, from)
		g.n -= len(es)
		for _, e := range es {
			if now.Sub(e.at) <= gapTTL {
				out = append(out, e)
			}
		}
	}
	if added == nil {
		for from := range g.byFrom {
			grab(from)
		}
	}
	for _, a := range added {
		grab(a.Sender())
	}
	// The pool admits a sender's transactions only in nonce order.
	slices.SortStableFunc(out, func(a, b gapEntry) int { return cmp.Compare(a.t.Nonce, b.t.Nonce) })
	return out
}

// admit adds txs to pool, parking the nonce-gapped ones, then retries the
// parked transactions of every sender that got one in. It returns the
// pool's error for each of txs (nil for a parked one), how many of txs were
// added and parked, and how many parked ones the retry let in.
func (g *gapBuffer) admit(pool *mempool.Mempool, txs []*tx.Tx, now time.Time) (errs []error, added, parked, unparked int) {
	errs = pool.AddBatch(txs)
	var in []*tx.Tx
	for i, err := range errs {
		switch {
		case err == nil:
			in = append(in, txs[i])
			added++
		case errors.Is(err, mempool.ErrNonceGap):
			if g.park(gapEntry{txs[i], now}) {
				errs[i] = nil
				parked++
			}
		}
	}
	if len(in) > 0 {
		unparked = g.retry(pool, in, now)
	}
	return errs, added, parked, unparked
}

// retry re-offers parked transactions to pool: those of the senders of
// added, or every one when added is nil; whatever a retry lets in may
// unblock more of the same senders. Signatures are not checked again
// (tx.Tx remembers they passed). It returns how many got in.
func (g *gapBuffer) retry(pool *mempool.Mempool, added []*tx.Tx, now time.Time) int {
	n := 0
	for {
		es := g.take(added, now)
		if len(es) == 0 {
			return n
		}
		txs := make([]*tx.Tx, len(es))
		for i, e := range es {
			txs[i] = e.t
		}
		added = added[:0:0]
		for i, err := range pool.AddBatch(txs) {
			switch {
			case err == nil:
				added = append(added, txs[i])
			case errors.Is(err, mempool.ErrNonceGap):
				g.park(es[i])
			}
		}
		n += len(added)
		if len(added) == 0 {
			return n
		}
	}
}
