package mempool

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// runOps interprets data as a sequence of pool operations on unsigned
// transactions (admission without the stateless checks) and checks every
// invariant after each one: indexes agree, limits hold, no sender is
// unaffordable, and Select returns only executable, affordable runs.
func runOps(t testing.TB, data []byte) {
	const senders = 6
	st := newState()
	for k := range senders {
		st.set(addr(k), 0, rich)
	}
	m := New(Config{ChainID: chain, MaxTxs: 12, MaxPerSender: 4, MaxBytes: 10 * unsigned(0, 0, 1, 1).Size()}, st)
	for len(data) >= 4 {
		op, k, v, w := data[0]%7, int(data[1])%senders, uint64(data[2]), uint64(data[3])
		data = data[4:]
		switch op {
		case 0, 1, 2: // add: replacement, next nonce or a gap
			nonce := m.PendingNonce(addr(k)) + w%3
			if nonce > 0 {
				nonce--
			}
			fee := 10 + v%20
			tip := min(fee, v%13)
			if v%17 == 0 {
				fee, tip = rich, rich // unaffordable
			}
			x := unsigned(k, nonce, fee, tip)
			m.mu.Lock()
			err := m.admit(x)
			m.mu.Unlock()
			if err == nil {
				if got, ok := m.Get(x.Hash()); !ok || got != x {
					t.Fatalf("admitted tx not in the pool")
				}
			} else if !errors.Is(err, ErrKnown) && !errors.Is(err, ErrNonceGap) && !errors.Is(err, ErrUnderpriced) &&
				!errors.Is(err, ErrInsufficientFunds) && !errors.Is(err, ErrSenderLimit) && !errors.Is(err, ErrPoolFull) &&
				!errors.Is(err, ErrNonceTooLow) {
				t.Fatalf("unexpected error %v", err)
			}
		case 3: // a new head: the sender's nonce moves on, its balance changes
			next := st.clone()
			n, _ := next.Account(addr(k))
			bal := uint64(rich)
			if v < 60 {
				bal = v * 3000
			}
			next.set(addr(k), n+w%3, bal)
			m.Update(next)
			st = next
		case 4: // a reorg: the sender's nonce moves back
			next := st.clone()
			n, b := next.Account(addr(k))
			next.set(addr(k), n-min(n, w%3), b)
			m.Update(next)
			st = next
		case 5: // remove one of the sender's transactions
			m.mu.RLock()
			var h tx.Hash
			s := m.senders[addr(k)]
			ok := s != nil
			if ok {
				h = s.txs[int(w)%len(s.txs)].hash
			}
			m.mu.RUnlock()
			if ok {
				m.Remove([]tx.Hash{h})
			}
		case 6:
			checkSelect(t, m, st, v%30, w*600, int(v%7))
		}
		checkInvariants(t, m)
	}
}

// checkSelect validates a selection against the state it was made for.
func checkSelect(t testing.TB, m *Mempool, st State, baseFee, maxGas uint64, maxTxs int) {
	t.Helper()
	got := m.Select(baseFee, maxGas, maxTxs)
	if maxTxs > 0 && len(got) > maxTxs {
		t.Fatalf("selected %d > %d", len(got), maxTxs)
	}
	var gas uint64
	next := map[account.Address]uint64{}
	spent := map[account.Address]uint64{}
	for _, x := range got {
		a := x.Sender()
		n, bal := st.Account(a)
		if _, ok := next[a]; !ok {
			next[a] = n
		}
		if x.Nonce != next[a] {
			t.Fatalf("sender %s: selected nonce %d, expected %d", a, x.Nonce, next[a])
		}
		next[a]++
		if x.MaxFeePerGas < baseFee {
			t.Fatalf("selected max fee %d below base fee %d", x.MaxFeePerGas, baseFee)
		}
		spent[a] += cost(x)
		if spent[a] > bal {
			t.Fatalf("sender %s: selected %d with balance %d", a, spent[a], bal)
		}
		gas += x.Gas()
	}
	if gas > maxGas {
		t.Fatalf("selected %d gas > %d", gas, maxGas)
	}
}

func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 5, 1, 0, 1, 5, 1, 6, 0, 0, 9})
	f.Add([]byte{0, 0, 1, 1, 0, 0, 2, 1, 0, 0, 3, 1, 3, 0, 100, 1, 4, 0, 0, 2, 0, 0, 1, 0, 6, 0, 0, 20})
	f.Add([]byte{0, 1, 10, 1, 1, 2, 11, 1, 2, 3, 12, 1, 0, 4, 3, 1, 5, 1, 0, 0, 3, 2, 10, 0, 6, 5, 0, 5})
	f.Add([]byte{0, 0, 17, 1, 0, 0, 12, 1, 0, 0, 12, 0, 0, 0, 50, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		runOps(t, data)
	})
}

// TestRandomOps runs long random operation sequences through runOps.
func TestRandomOps(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 99))
		data := make([]byte, 4*600)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		runOps(t, data)
	}
}

// TestConcurrent adds from several goroutines while a block producer
// selects, "executes" and updates, and readers poll; run with -race. Every
// transaction must be included exactly once, in nonce order.
func TestConcurrent(t *testing.T) {
	const senders, perSender = 8, 40
	st := newState()
	for k := range senders {
		st.set(addr(k), 0, rich)
	}
	txs := make([][]*tx.Tx, senders)
	for k := range senders {
		for n := range uint64(perSender) {
			txs[k] = append(txs[k], signed(k, n, 20+n%5, 1+uint64(k)%4))
		}
	}
	m := New(Config{ChainID: chain, Workers: 2}, st)
	evs, cancel := m.Subscribe()
	defer cancel()

	var adders sync.WaitGroup
	for k := range senders {
		adders.Go(func() {
			for i := 0; i < perSender; {
				if k%2 == 0 { // single adds
					if err := m.Add(txs[k][i]); err != nil {
						t.Errorf("sender %d nonce %d: %v", k, i, err)
						return
					}
					i++
					continue
				}
				j := min(i+7, perSender)
				for n, err := range m.AddBatch(txs[k][i:j]) {
					if err != nil {
						t.Errorf("sender %d nonce %d: %v", k, i+n, err)
						return
					}
				}
				i = j
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-evs:
			default:
				m.Len()
				m.Bytes()
				m.PendingNonce(addr(3))
				m.Get(txs[1][0].Hash())
				m.Select(21, 5000, 0)
			}
		}
	})

	included := map[tx.Hash]int{}
	done := make(chan struct{})
	go func() { adders.Wait(); close(done) }()
	finished := false
	for !finished {
		select {
		case <-done:
			finished = m.Len() == 0
		default:
		}
		block := m.Select(20, 8000, 0)
		next := st.clone()
		for _, x := range block {
			n, b := next.Account(x.Sender())
			if x.Nonce != n {
				t.Fatalf("block has nonce %d, state nonce %d", x.Nonce, n)
			}
			next.set(x.Sender(), n+1, b)
			included[x.Hash()]++
		}
		m.Update(next)
		st = next
	}
	close(stop)
	readers.Wait()
	for k := range senders {
		if n, _ := st.Account(addr(k)); n != perSender {
			t.Errorf("sender %d reached nonce %d, want %d", k, n, perSender)
		}
		for _, x := range txs[k] {
			if included[x.Hash()] != 1 {
				t.Errorf("sender %d nonce %d included %d times", k, x.Nonce, included[x.Hash()])
			}
		}
	}
	checkInvariants(t, m)
}
