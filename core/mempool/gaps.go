package mempool

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
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

// gapBuffer holds gossiped transactions refused with ErrNonceGap,
// by sender. It never holds more than gapMax; when full, new ones are
// dropped, as they were before the buffer existed. Only a sender whose
// balance covers the transaction's max cost gets one parked, so junk from
// fresh, unfunded keys cannot crowd out honest transactions.
type gapBuffer struct {
	state  State
	mu     sync.Mutex
	n      int
	byFrom map[account.Address][]gapEntry
}

func newGapBuffer(st State) *gapBuffer {
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

// take removes and returns the unexpired parked transactions of the
// senders of added, oldest nonce first.
func (g *gapBuffer) take(added []*tx.Tx, now time.Time) []gapEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []gapEntry
	for _, a := range added {
		out = g.grab(out, a.Sender(), now)
	}
	return byNonce(out)
}

// takeAll removes and returns every unexpired parked transaction.
func (g *gapBuffer) takeAll(now time.Time) []gapEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []gapEntry
	for from := range g.byFrom {
		out = g.grab(out, from, now)
	}
	return byNonce(out)
}

// grab moves from's unexpired entries to out and drops the rest; g.mu held.
func (g *gapBuffer) grab(out []gapEntry, from account.Address, now time.Time) []gapEntry {
	es := g.byFrom[from]
	delete(g.byFrom, from)
	g.n -= len(es)
	for _, e := range es {
		if now.Sub(e.at) <= gapTTL {
			out = append(out, e)
		}
	}
	return out
}

// byNonce sorts es by nonce: the pool admits a sender's transactions only
// in nonce order.
func byNonce(es []gapEntry) []gapEntry {
	slices.SortStableFunc(es, func(a, b gapEntry) int { return cmp.Compare(a.t.Nonce, b.t.Nonce) })
	return es
}

// admit adds txs to pool, parking the nonce-gapped ones, then retries the
// parked transactions of every sender that got one in. It returns the
// pool's error for each of txs (nil for a parked one), how many of txs were
// added and parked, and how many parked ones the retry let in.
func (g *gapBuffer) admit(pool *Mempool, txs []*tx.Tx, now time.Time) (errs []error, added, parked, unparked int) {
	errs = pool.AddBatch(txs)
	var in []*tx.Tx
	for i, err := range errs {
		switch {
		case err == nil:
			in = append(in, txs[i])
			added++
		case errors.Is(err, ErrNonceGap):
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

// retry re-offers the parked transactions of the senders of added; it
// returns how many got in.
func (g *gapBuffer) retry(pool *Mempool, added []*tx.Tx, now time.Time) int {
	return g.offer(pool, g.take(added, now), now)
}

// retryAll re-offers every parked transaction, for gaps a block or a user
// filled; it returns how many got in.
func (g *gapBuffer) retryAll(pool *Mempool, now time.Time) int {
	return g.offer(pool, g.takeAll(now), now)
}

// offer adds es to pool, parking again the ones still gapped; whatever gets
// in may unblock more of the same senders, which are offered next.
// Signatures are not checked again (tx.Tx remembers they passed).
func (g *gapBuffer) offer(pool *Mempool, es []gapEntry, now time.Time) int {
	n := 0
	for len(es) > 0 {
		txs := make([]*tx.Tx, len(es))
		for i, e := range es {
			txs[i] = e.t
		}
		var in []*tx.Tx
		for i, err := range pool.AddBatch(txs) {
			switch {
			case err == nil:
				in = append(in, txs[i])
			case errors.Is(err, ErrNonceGap):
				g.park(es[i])
			}
		}
		n += len(in)
		es = g.take(in, now)
	}
	return n
}
