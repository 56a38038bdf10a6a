package mempool

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

const chain = "trellis-test"

// fakeState is an in-memory State.
type fakeState struct {
	mu  sync.Mutex
	acc map[account.Address][2]uint64
}

func newState() *fakeState { return &fakeState{acc: make(map[account.Address][2]uint64)} }

func (f *fakeState) Account(a account.Address) (uint64, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.acc[a]
	return v[0], v[1]
}

func (f *fakeState) set(a account.Address, nonce, balance uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acc[a] = [2]uint64{nonce, balance}
}

// clone returns an independent copy (a new head's state).
func (f *fakeState) clone() *fakeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := newState()
	for k, v := range f.acc {
		c.acc[k] = v
	}
	return c
}

var (
	keyMu  sync.Mutex
	keyMap = map[int]ed25519.PrivateKey{}
	addrs  = map[int]account.Address{}
)

// key returns a deterministic key for sender number k.
func key(k int) ed25519.PrivateKey {
	keyMu.Lock()
	defer keyMu.Unlock()
	if p, ok := keyMap[k]; ok {
		return p
	}
	seed := make([]byte, ed25519.SeedSize)
	binary.BigEndian.PutUint64(seed, uint64(k)+1)
	p := ed25519.NewKeyFromSeed(seed)
	keyMap[k] = p
	addrs[k] = account.FromPublicKey(p.Public().(ed25519.PublicKey))
	return p
}

// addr returns sender k's address.
func addr(k int) account.Address {
	key(k)
	keyMu.Lock()
	defer keyMu.Unlock()
	return addrs[k]
}

var recipient = func() account.Address {
	var a account.Address
	a[31] = 7
	return a
}()

// unsigned returns a transfer of 1 from sender k (signature left zero), for
// tests that bypass the stateless checks.
func unsigned(k int, nonce, maxFee, tip uint64) *tx.Tx {
	t := &tx.Tx{
		ChainID:              chain,
		Nonce:                nonce,
		GasLimit:             tx.GasTransfer,
		MaxFeePerGas:         maxFee,
		MaxPriorityFeePerGas: tip,
		Body:                 tx.Transfer{To: recipient, Amount: 1},
	}
	copy(t.PublicKey[:], key(k).Public().(ed25519.PublicKey))
	t.Hash()
	return t
}

// signed returns a signed transfer of 1 from sender k.
func signed(k int, nonce, maxFee, tip uint64) *tx.Tx {
	t := unsigned(k, nonce, maxFee, tip)
	t.Sign(key(k))
	t.Hash()
	return t
}

// signedBond returns a signed bond of 1 from sender k (a larger encoding
// and 10,000 gas).
func signedBond(k int, nonce, maxFee, tip uint64) *tx.Tx {
	t := &tx.Tx{
		ChainID:              chain,
		Nonce:                nonce,
		GasLimit:             tx.GasStaking,
		MaxFeePerGas:         maxFee,
		MaxPriorityFeePerGas: tip,
		Body:                 tx.Bond{Amount: 1},
	}
	t.Sign(key(k))
	t.Hash()
	return t
}

// cost is the max cost of a transfer of 1 built by the helpers.
func cost(t *tx.Tx) uint64 {
	c, _ := t.MaxCost()
	return c
}

// checkInvariants verifies every internal index against the others.
func checkInvariants(t testing.TB, m *Mempool) {
	t.Helper()
	m.mu.RLock()
	defer m.mu.RUnlock()
	count, bytes := 0, 0
	for a, s := range m.senders {
		if s.addr != a {
			t.Fatalf("sender %s filed under %s", s.addr, a)
		}
		if len(s.txs) == 0 {
			t.Fatalf("empty sender %s kept", a)
		}
		if len(s.txs) > m.cfg.MaxPerSender {
			t.Fatalf("sender %s has %d > %d", a, len(s.txs), m.cfg.MaxPerSender)
		}
		var sum uint64
		for i, e := range s.txs {
			if i > 0 && e.nonce <= s.txs[i-1].nonce {
				t.Fatalf("sender %s nonces out of order at %d", a, i)
			}
			if e.nonce < s.nonce {
				t.Fatalf("sender %s holds nonce %d below state nonce %d", a, e.nonce, s.nonce)
			}
			if e.sender != s || m.all[e.hash] != e {
				t.Fatalf("entry %s not indexed", e.hash)
			}
			sum += e.cost
			bytes += e.size
		}
		if sum != s.cost || s.cost > s.balance {
			t.Fatalf("sender %s cost %d (recorded %d), balance %d", a, sum, s.cost, s.balance)
		}
		if s.heapIdx < 0 || s.heapIdx >= len(m.evict) || m.evict[s.heapIdx] != s {
			t.Fatalf("sender %s not in the eviction heap", a)
		}
		count += len(s.txs)
	}
	if count != len(m.all) || bytes != m.bytes || len(m.evict) != len(m.senders) {
		t.Fatalf("count %d/%d bytes %d/%d heap %d senders %d", count, len(m.all), bytes, m.bytes, len(m.evict), len(m.senders))
	}
	if count > m.cfg.MaxTxs || bytes > m.cfg.MaxBytes {
		t.Fatalf("over the limits: %d txs, %d bytes", count, bytes)
	}
	for i := 1; i < len(m.evict); i++ {
		if m.evict.Less(i, (i-1)/2) {
			t.Fatalf("eviction heap out of order at %d", i)
		}
	}
}

// nonces lists sender k's pooled nonces.
func nonces(m *Mempool, k int) []uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []uint64
	if s := m.senders[addr(k)]; s != nil {
		for _, e := range s.txs {
			out = append(out, e.nonce)
		}
	}
	return out
}

// drain returns the events waiting on ch.
func drain(ch <-chan Event) []Event {
	var out []Event
	for {
		select {
		case ev := <-ch:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func kinds(evs []Event) string {
	s := ""
	for i, ev := range evs {
		if i > 0 {
			s += ","
		}
		s += ev.Kind.String()
	}
	return s
}

func mustAdd(t testing.TB, m *Mempool, txs ...*tx.Tx) {
	t.Helper()
	for _, x := range txs {
		if err := m.Add(x); err != nil {
			t.Fatalf("Add(sender %s nonce %d): %v", x.Sender(), x.Nonce, err)
		}
	}
}

func hashes(txs []*tx.Tx) []string {
	out := make([]string, len(txs))
	for i, x := range txs {
		out[i] = fmt.Sprintf("%s/%d", x.Sender().String()[:8], x.Nonce)
	}
	return out
}
