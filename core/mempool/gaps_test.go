package mempool

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

type richState struct{}

func (richState) Account(account.Address) (uint64, uint64) { return 0, 1 << 60 }

// poorState funds nobody.
type poorState struct{}

func (poorState) Account(account.Address) (uint64, uint64) { return 0, 0 }

func gapTxs(t *testing.T, seed byte, n int) []*tx.Tx {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(append(make([]byte, 31), seed))
	out := make([]*tx.Tx, n)
	for i := range out {
		out[i] = &tx.Tx{ChainID: "gaps", Nonce: uint64(i), GasLimit: tx.GasTransfer, MaxFeePerGas: 10, MaxPriorityFeePerGas: 1,
			Body: tx.Transfer{To: account.Address{1}, Amount: 1}}
		out[i].Sign(priv)
	}
	return out
}

// TestGapBufferReorders feeds two senders' transactions in the worst order
// (later nonces first, as concurrent gossip validation can) and checks that
// all of them end up in the pool, in nonce order per sender.
func TestGapBufferReorders(t *testing.T) {
	pool := New(Config{ChainID: "gaps"}, richState{})
	g := newGapBuffer(richState{})
	a, b := gapTxs(t, 1, 6), gapTxs(t, 2, 3)
	now := time.Now()
	errs, added, parked, _ := g.admit(pool, []*tx.Tx{a[4], a[5], b[2]}, now)
	if added != 0 || parked != 3 {
		t.Fatalf("added %d parked %d, want 0 and 3 (errors %v)", added, parked, errs)
	}
	_, added, parked, unparked := g.admit(pool, []*tx.Tx{a[1], a[2], a[3], b[1]}, now)
	if added != 0 || parked != 4 || unparked != 0 {
		t.Fatalf("added %d parked %d unparked %d, want 0, 4, 0", added, parked, unparked)
	}
	// Nonce 0 of a unblocks a's five parked transactions; b waits.
	_, added, _, unparked = g.admit(pool, []*tx.Tx{a[0]}, now)
	if added != 1 || unparked != 5 || pool.Len() != 6 {
		t.Fatalf("added %d unparked %d pool %d, want 1, 5, 6", added, unparked, pool.Len())
	}
	// b's nonce 0 arrives by another way (a user, a block): the periodic
	// retry of everything picks the rest up.
	if err := pool.Add(b[0]); err != nil {
		t.Fatal(err)
	}
	if n := g.retryAll(pool, now); n != 2 || pool.Len() != 9 {
		t.Fatalf("retry let in %d, pool %d; want 2 and 9", n, pool.Len())
	}
	if g.n != 0 || len(g.byFrom) != 0 {
		t.Fatalf("buffer still holds %d", g.n)
	}
}

func TestGapBufferBoundsAndExpiry(t *testing.T) {
	pool := New(Config{ChainID: "gaps"}, richState{})
	g := newGapBuffer(richState{})
	txs := gapTxs(t, 3, 3)
	now := time.Now()
	g.admit(pool, txs[1:], now)
	// Expired entries are dropped, not retried.
	if err := pool.Add(txs[0]); err != nil {
		t.Fatal(err)
	}
	if n := g.retryAll(pool, now.Add(gapTTL+time.Second)); n != 0 || pool.Len() != 1 || g.n != 0 {
		t.Fatalf("expired retry let in %d (pool %d, held %d)", n, pool.Len(), g.n)
	}
	// A sender who cannot pay is not held.
	poor := newGapBuffer(poorState{})
	if poor.park(gapEntry{txs[2], now}) {
		t.Fatal("an unfunded sender's transaction was parked")
	}
	// A full buffer refuses more: the pool's gap error is returned.
	g.n = gapMax
	errs, _, parked, _ := g.admit(pool, []*tx.Tx{gapTxs(t, 4, 2)[1]}, now)
	if parked != 0 || !errors.Is(errs[0], ErrNonceGap) {
		t.Fatalf("full buffer: parked %d, error %v", parked, errs[0])
	}
}
