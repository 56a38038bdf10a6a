package mempool

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/tx"
)

const rich = 1 << 40

// TestRejections covers every rejection reason with its sentinel and the
// numbers its message must carry.
func TestRejections(t *testing.T) {
	tampered := signed(1, 0, 10, 1)
	tampered.Signature[0] ^= 1
	otherChain := signed(1, 0, 10, 1)
	otherChain.ChainID = "other-chain"
	otherChain.Sign(key(1))
	highTip := unsigned(1, 0, 10, 11)
	highTip.Sign(key(1))
	lowGas := unsigned(1, 0, 10, 1)
	lowGas.GasLimit = 999
	lowGas.Sign(key(1))
	noBody := &tx.Tx{ChainID: chain}

	type tc struct {
		name  string
		cfg   Config
		state map[int][2]uint64 // sender → nonce, balance (default 0, rich)
		setup []*tx.Tx
		add   *tx.Tx
		want  []error
		msg   []string
	}
	tests := []tc{
		{name: "known", setup: []*tx.Tx{signed(1, 0, 10, 1)}, add: signed(1, 0, 10, 1),
			want: []error{ErrKnown}, msg: []string{"already known"}},
		{name: "nonce too low", state: map[int][2]uint64{1: {5, rich}}, add: signed(1, 4, 10, 1),
			want: []error{ErrNonceTooLow}, msg: []string{"replay of an executed nonce", "nonce 4", "state nonce 5"}},
		{name: "nonce gap empty", state: map[int][2]uint64{1: {3, rich}}, add: signed(1, 4, 10, 1),
			want: []error{ErrNonceGap}, msg: []string{"nonce gap: next expected 3, got 4"}},
		{name: "nonce gap after pending", setup: []*tx.Tx{signed(1, 0, 10, 1), signed(1, 1, 10, 1)}, add: signed(1, 3, 10, 1),
			want: []error{ErrNonceGap}, msg: []string{"next expected 2, got 3"}},
		{name: "insufficient funds first", state: map[int][2]uint64{1: {0, 1000}}, add: signed(1, 0, 1, 1),
			want: []error{ErrInsufficientFunds}, msg: []string{"balance 1000", "below 1001", "1 pending", "nonce 0", "max cost 1001"}},
		{name: "insufficient funds cumulative", state: map[int][2]uint64{1: {0, 2500}},
			setup: []*tx.Tx{signed(1, 0, 1, 1), signed(1, 1, 1, 1)}, add: signed(1, 2, 1, 1),
			want: []error{ErrInsufficientFunds}, msg: []string{"balance 2500", "below 3003", "3 pending", "nonce 2"}},
		{name: "insufficient funds replacement", state: map[int][2]uint64{1: {0, 2500}},
			setup: []*tx.Tx{signed(1, 0, 1, 1), signed(1, 1, 1, 1)}, add: signed(1, 0, 2, 2),
			want: []error{ErrInsufficientFunds}, msg: []string{"balance 2500", "below 3002", "2 pending"}},
		{name: "replacement underpriced", setup: []*tx.Tx{signed(1, 0, 100, 10)}, add: signed(1, 0, 109, 11),
			want: []error{ErrUnderpriced}, msg: []string{"max fee ≥ 110", "tip ≥ 11", "got max fee 109, tip 11", "10% bump"}},
		{name: "sender limit", cfg: Config{MaxPerSender: 2},
			setup: []*tx.Tx{signed(1, 0, 10, 1), signed(1, 1, 10, 1)}, add: signed(1, 2, 10, 1),
			want: []error{ErrSenderLimit}, msg: []string{"2 pending"}},
		{name: "pool full underpriced", cfg: Config{MaxTxs: 2},
			setup: []*tx.Tx{signed(1, 0, 10, 5), signed(2, 0, 10, 7)}, add: signed(3, 0, 10, 5),
			want: []error{ErrUnderpriced, ErrPoolFull}, msg: []string{"tip 5 does not exceed 5", "2 transactions"}},
		{name: "pool full nothing evictable", cfg: Config{MaxTxs: 2},
			setup: []*tx.Tx{signed(1, 0, 10, 1), signed(1, 1, 10, 1)}, add: signed(1, 2, 10, 9),
			want: []error{ErrPoolFull}, msg: []string{"nothing of another sender to evict"}},
		{name: "pool full bytes", cfg: Config{MaxBytes: 100}, add: signed(1, 0, 10, 1),
			want: []error{ErrPoolFull}, msg: []string{"exceeds the pool's 100-byte limit"}},
		{name: "bad signature", add: tampered, want: []error{tx.ErrSignature}},
		{name: "wrong chain", add: otherChain, want: []error{tx.ErrChainID}, msg: []string{"other-chain"}},
		{name: "tip above max fee", add: highTip, want: []error{tx.ErrFee}},
		{name: "gas below intrinsic", add: lowGas, want: []error{tx.ErrGas}},
		{name: "no body", add: noBody, want: []error{tx.ErrMalformed}},
		{name: "nil", add: nil, want: []error{tx.ErrMalformed}},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.ChainID = chain
			st := newState()
			for k := 1; k <= 3; k++ {
				st.set(addr(k), 0, rich)
			}
			for k, v := range c.state {
				st.set(addr(k), v[0], v[1])
			}
			m := New(c.cfg, st)
			mustAdd(t, m, c.setup...)
			before := m.Len()
			for _, add := range []func(*tx.Tx) error{m.Add, func(x *tx.Tx) error { return m.AddBatch([]*tx.Tx{x})[0] }} {
				err := add(c.add)
				for _, w := range c.want {
					if !errors.Is(err, w) {
						t.Fatalf("error %v, want %v", err, w)
					}
				}
				for _, s := range c.msg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
			}
			if m.Len() != before {
				t.Errorf("a rejection changed the pool: %d → %d", before, m.Len())
			}
			checkInvariants(t, m)
		})
	}
}

// TestReplacementBump checks the bump boundary: both fees must rise by
// PriceBump percent, rounded up, and strictly.
func TestReplacementBump(t *testing.T) {
	tests := []struct {
		name           string
		bump           uint64
		oldFee, oldTip uint64
		newFee, newTip uint64
		ok             bool
	}{
		{"exactly 10%", 10, 100, 10, 110, 11, true},
		{"fee 1 short", 10, 100, 10, 109, 11, false},
		{"tip 1 short", 10, 100, 10, 110, 10, false},
		{"well above", 10, 100, 10, 1000, 100, true},
		{"rounds up: 16.5 needs 17", 10, 15, 5, 17, 6, true},
		{"rounds up: 16 is short", 10, 15, 5, 16, 6, false},
		{"zero tip must rise strictly", 10, 100, 0, 110, 0, false},
		{"zero tip raised to 1", 10, 100, 0, 110, 1, true},
		{"small fee must rise strictly", 10, 5, 1, 6, 2, true},
		{"small fee unchanged", 10, 5, 1, 5, 2, false},
		{"bump 100% exact", 100, 50, 20, 100, 40, true},
		{"bump 100% short", 100, 50, 20, 99, 40, false},
		{"default bump", 0, 100, 10, 110, 11, true},
		{"maximal old fee", 10, math.MaxUint64 / 1000, 1, math.MaxUint64 / 1000, 2, false},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			st := newState()
			st.set(addr(1), 0, math.MaxUint64)
			m := New(Config{ChainID: chain, PriceBump: c.bump}, st)
			old := signed(1, 0, c.oldFee, c.oldTip)
			mustAdd(t, m, old)
			ch, cancel := m.Subscribe()
			defer cancel()
			nw := signed(1, 0, c.newFee, c.newTip)
			err := m.Add(nw)
			if c.ok != (err == nil) {
				t.Fatalf("Add: %v, want ok=%v", err, c.ok)
			}
			_, hasOld := m.Get(old.Hash())
			_, hasNew := m.Get(nw.Hash())
			if m.Len() != 1 || hasOld == c.ok || hasNew != c.ok {
				t.Fatalf("len %d, old present %v, new present %v", m.Len(), hasOld, hasNew)
			}
			if c.ok {
				evs := drain(ch)
				if kinds(evs) != "replaced,added" || evs[0].Hash != old.Hash() || evs[1].Hash != nw.Hash() {
					t.Fatalf("events %v", evs)
				}
			} else if !errors.Is(err, ErrUnderpriced) {
				t.Fatalf("error %v, want ErrUnderpriced", err)
			}
			checkInvariants(t, m)
		})
	}
}

func TestMinBump(t *testing.T) {
	tests := []struct {
		old, pct, need uint64
		ok             bool
	}{
		{0, 10, 1, true},
		{1, 10, 2, true},
		{10, 10, 11, true},
		{11, 10, 13, true}, // 12.1 → 13
		{100, 0, 101, true},
		{math.MaxUint64, 10, 0, false},
		{math.MaxUint64 - 1, 0, math.MaxUint64, true},
		{math.MaxUint64 / 2, 100, math.MaxUint64 - 1, true},
		{math.MaxUint64/2 + 1, 100, 0, false},
		{1 << 62, MaxPriceBump, 0, false},
	}
	for _, c := range tests {
		need, ok := minBump(c.old, c.pct)
		if need != c.need || ok != c.ok {
			t.Errorf("minBump(%d, %d) = %d, %v; want %d, %v", c.old, c.pct, need, ok, c.need, c.ok)
		}
	}
}

// TestLimits fills the per-sender and global limits.
func TestLimits(t *testing.T) {
	st := newState()
	for k := 1; k <= 4; k++ {
		st.set(addr(k), 0, rich)
	}
	m := New(Config{ChainID: chain, MaxTxs: 5, MaxPerSender: 3}, st)
	mustAdd(t, m, signed(1, 0, 10, 1), signed(1, 1, 10, 1), signed(1, 2, 10, 1))
	if err := m.Add(signed(1, 3, 10, 1)); !errors.Is(err, ErrSenderLimit) {
		t.Fatalf("fourth nonce: %v, want ErrSenderLimit", err)
	}
	// A replacement within the limit is still allowed.
	mustAdd(t, m, signed(1, 2, 20, 2))
	mustAdd(t, m, signed(2, 0, 10, 3), signed(2, 1, 10, 3))
	if m.Len() != 5 {
		t.Fatalf("len %d, want 5", m.Len())
	}
	// Full: a newcomer must pay a higher tip than the cheapest last
	// transaction of a sender (sender 1's nonce 2, tip 2).
	if err := m.Add(signed(3, 0, 10, 2)); !errors.Is(err, ErrUnderpriced) || !errors.Is(err, ErrPoolFull) {
		t.Fatalf("equal tip: %v, want ErrUnderpriced and ErrPoolFull", err)
	}
	mustAdd(t, m, signed(3, 0, 10, 4))
	if got := nonces(m, 1); !slices.Equal(got, []uint64{0, 1}) {
		t.Fatalf("sender 1 holds %v after eviction, want [0 1]", got)
	}
	if m.Len() != 5 || m.PendingNonce(addr(1)) != 2 {
		t.Fatalf("len %d pending nonce %d", m.Len(), m.PendingNonce(addr(1)))
	}
	checkInvariants(t, m)
}

// TestEviction checks the victim choice: the lowest tip among the senders'
// last transactions, the latest arrival among equals, never the newcomer's
// own sender, never a gap, and nothing lost when eviction cannot finish.
func TestEviction(t *testing.T) {
	st := newState()
	for k := 1; k <= 9; k++ {
		st.set(addr(k), 0, rich)
	}
	t.Run("lowest tail, no gaps", func(t *testing.T) {
		m := New(Config{ChainID: chain, MaxTxs: 5}, st)
		ch, cancel := m.Subscribe()
		defer cancel()
		// Sender 2's nonce 0 is the cheapest tx but not evictable without a gap.
		mustAdd(t, m, signed(1, 0, 10, 3), signed(1, 1, 10, 3), signed(1, 2, 10, 3), signed(2, 0, 10, 2), signed(2, 1, 10, 8))
		drain(ch)
		mustAdd(t, m, signed(3, 0, 10, 4))
		if got := nonces(m, 1); !slices.Equal(got, []uint64{0, 1}) {
			t.Fatalf("sender 1: %v", got)
		}
		evs := drain(ch)
		if kinds(evs) != "evicted,added" || !strings.Contains(evs[0].Reason, "pool full") {
			t.Fatalf("events %+v", evs)
		}
		mustAdd(t, m, signed(4, 0, 10, 4))
		if got := nonces(m, 1); !slices.Equal(got, []uint64{0}) {
			t.Fatalf("sender 1: %v", got)
		}
		// Now the tails are 1/0 tip 3, 2/1 tip 8, 3/0 tip 4, 4/0 tip 4.
		if err := m.Add(signed(5, 0, 10, 3)); !errors.Is(err, ErrUnderpriced) {
			t.Fatalf("tip 3: %v", err)
		}
		// Equal tips: the latest arrival (sender 4) goes before sender 3.
		mustAdd(t, m, signed(5, 0, 10, 5))
		mustAdd(t, m, signed(6, 0, 10, 5))
		if got := nonces(m, 4); len(got) != 0 {
			t.Fatalf("sender 4 kept %v; the later arrival of two equal tips goes first", got)
		}
		if got := nonces(m, 3); !slices.Equal(got, []uint64{0}) {
			t.Fatalf("sender 3: %v", got)
		}
		checkInvariants(t, m)
	})
	t.Run("never the own sender", func(t *testing.T) {
		m := New(Config{ChainID: chain, MaxTxs: 2}, st)
		mustAdd(t, m, signed(1, 0, 10, 1), signed(2, 0, 10, 5))
		mustAdd(t, m, signed(1, 1, 10, 9))
		if got := nonces(m, 1); !slices.Equal(got, []uint64{0, 1}) {
			t.Fatalf("sender 1: %v", got)
		}
		if m.Len() != 2 || len(nonces(m, 2)) != 0 {
			t.Fatalf("sender 2 should be evicted: %v", nonces(m, 2))
		}
		checkInvariants(t, m)
	})
	t.Run("bytes need two victims", func(t *testing.T) {
		small := signed(1, 0, 10, 1).Size()
		big := signedBond(9, 0, 10, 9).Size()
		m := New(Config{ChainID: chain, MaxBytes: 3 * small}, st)
		mustAdd(t, m, signed(1, 0, 10, 1), signed(2, 0, 10, 2), signed(3, 0, 10, 3))
		if big <= small || big > 2*small {
			t.Fatalf("test assumes a bond (%d bytes) between 1 and 2 transfers (%d)", big, small)
		}
		mustAdd(t, m, signedBond(9, 0, 10, 9))
		if m.Len() != 2 || len(nonces(m, 3)) != 1 || m.Bytes() != small+big {
			t.Fatalf("len %d bytes %d, sender 3 %v", m.Len(), m.Bytes(), nonces(m, 3))
		}
		checkInvariants(t, m)
	})
	t.Run("failed eviction restores", func(t *testing.T) {
		small := signed(1, 0, 10, 1).Size()
		m := New(Config{ChainID: chain, MaxBytes: 3 * small}, st)
		ch, cancel := m.Subscribe()
		defer cancel()
		cheap := signed(1, 0, 10, 1)
		mustAdd(t, m, cheap, signed(2, 0, 10, 5), signed(3, 0, 10, 5))
		drain(ch)
		// Evicting tip 1 frees too little; the next tail pays 5 > 3.
		err := m.Add(signedBond(9, 0, 10, 3))
		if !errors.Is(err, ErrUnderpriced) || !errors.Is(err, ErrPoolFull) {
			t.Fatalf("error %v", err)
		}
		if _, ok := m.Get(cheap.Hash()); !ok || m.Len() != 3 || m.Bytes() != 3*small {
			t.Fatalf("the tentative victim was lost: len %d bytes %d", m.Len(), m.Bytes())
		}
		if evs := drain(ch); len(evs) != 0 {
			t.Fatalf("events for a failed admission: %v", evs)
		}
		checkInvariants(t, m)
	})
	t.Run("replacement may evict for bytes", func(t *testing.T) {
		small := signed(1, 0, 10, 1).Size()
		m := New(Config{ChainID: chain, MaxBytes: 2 * small}, st)
		mustAdd(t, m, signed(1, 0, 10, 1), signed(2, 0, 10, 2))
		mustAdd(t, m, signedBond(2, 0, 20, 4)) // replaces 2/0, evicts 1/0
		if m.Len() != 1 || len(nonces(m, 1)) != 0 {
			t.Fatalf("len %d, sender 1 %v", m.Len(), nonces(m, 1))
		}
		checkInvariants(t, m)
	})
}

// TestSelect checks nonce order, base fee, gas and count limits, tip
// ordering, tie-breaking by arrival and gaps.
func TestSelect(t *testing.T) {
	type add struct {
		k               int
		nonce, fee, tip uint64
		bond            bool
	}
	type sel struct {
		k     int
		nonce uint64
	}
	tests := []struct {
		name    string
		nonce   map[int]uint64 // state nonces (default 0)
		adds    []add
		baseFee uint64
		maxGas  uint64
		maxTxs  int
		want    []sel
	}{
		{name: "tip order across senders, nonce order within",
			adds:   []add{{1, 0, 100, 5, false}, {1, 1, 100, 20, false}, {2, 0, 100, 10, false}},
			maxGas: math.MaxUint64, want: []sel{{2, 0}, {1, 0}, {1, 1}}},
		{name: "effective tip is capped by max fee minus base fee",
			adds:    []add{{1, 0, 70, 60, false}, {2, 0, 100, 50, false}},
			baseFee: 50, maxGas: math.MaxUint64, want: []sel{{2, 0}, {1, 0}}},
		{name: "below base fee ends the sender's run",
			adds:    []add{{1, 0, 100, 1, false}, {1, 1, 50, 1, false}, {1, 2, 100, 1, false}, {2, 0, 59, 9, false}},
			baseFee: 60, maxGas: math.MaxUint64, want: []sel{{1, 0}}},
		{name: "ties by arrival",
			adds:   []add{{3, 0, 100, 7, false}, {1, 0, 100, 7, false}, {2, 0, 100, 7, false}},
			maxGas: math.MaxUint64, want: []sel{{3, 0}, {1, 0}, {2, 0}}},
		{name: "max gas: a staking tx that does not fit lets transfers through",
			adds:   []add{{1, 0, 100, 9, true}, {1, 1, 100, 9, false}, {2, 0, 100, 1, false}, {2, 1, 100, 1, false}, {3, 0, 100, 2, false}},
			maxGas: 2500, want: []sel{{3, 0}, {2, 0}}},
		{name: "max gas exact",
			adds:   []add{{1, 0, 100, 9, true}, {2, 0, 100, 1, false}},
			maxGas: 11000, want: []sel{{1, 0}, {2, 0}}},
		{name: "max txs",
			adds:   []add{{1, 0, 100, 1, false}, {1, 1, 100, 1, false}, {2, 0, 100, 3, false}},
			maxGas: math.MaxUint64, maxTxs: 2, want: []sel{{2, 0}, {1, 0}}},
		{name: "zero gas selects nothing",
			adds: []add{{1, 0, 100, 1, false}}, maxGas: 0},
		{name: "runs start at the state nonce",
			nonce:  map[int]uint64{1: 2},
			adds:   []add{{1, 2, 100, 1, false}, {2, 0, 100, 3, false}},
			maxGas: math.MaxUint64, want: []sel{{2, 0}, {1, 2}}},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			st := newState()
			for k := 1; k <= 3; k++ {
				st.set(addr(k), c.nonce[k], rich)
			}
			m := New(Config{ChainID: chain}, st)
			for _, a := range c.adds {
				x := signed(a.k, a.nonce, a.fee, a.tip)
				if a.bond {
					x = signedBond(a.k, a.nonce, a.fee, a.tip)
				}
				mustAdd(t, m, x)
			}
			got := m.Select(c.baseFee, c.maxGas, c.maxTxs)
			var gs []sel
			for _, x := range got {
				k := 0
				for i := 1; i <= 3; i++ {
					if x.Sender() == addr(i) {
						k = i
					}
				}
				gs = append(gs, sel{k, x.Nonce})
			}
			if !slices.Equal(gs, c.want) {
				t.Fatalf("selected %v, want %v", gs, c.want)
			}
			again := m.Select(c.baseFee, c.maxGas, c.maxTxs)
			if !slices.Equal(got, again) || m.Len() != len(c.adds) {
				t.Fatalf("Select is not repeatable or consumed the pool")
			}
		})
	}
}

// TestSelectGap: after a reorg moved the state nonce back, the sender's
// pending txs are not executable until the missing nonce is back.
func TestSelectGap(t *testing.T) {
	st := newState()
	st.set(addr(1), 5, rich)
	m := New(Config{ChainID: chain}, st)
	mustAdd(t, m, signed(1, 5, 100, 1), signed(1, 6, 100, 1))
	back := st.clone()
	back.set(addr(1), 4, rich)
	m.Update(back)
	if got := m.Select(0, math.MaxUint64, 0); len(got) != 0 {
		t.Fatalf("selected %v across a gap", hashes(got))
	}
	if n := m.PendingNonce(addr(1)); n != 4 {
		t.Fatalf("pending nonce %d, want 4", n)
	}
	if err := m.Add(signed(1, 7, 100, 1)); !errors.Is(err, ErrNonceGap) {
		t.Fatalf("nonce 7: %v", err)
	}
	mustAdd(t, m, signed(1, 4, 100, 1))
	if got := m.Select(0, math.MaxUint64, 0); len(got) != 3 || m.PendingNonce(addr(1)) != 7 {
		t.Fatalf("selected %v, pending nonce %d", hashes(got), m.PendingNonce(addr(1)))
	}
	checkInvariants(t, m)
}

// TestSelectDeterministic builds two pools with the same arrivals and
// expects the same selection, whatever the map orders inside.
func TestSelectDeterministic(t *testing.T) {
	st := newState()
	var txs []*tx.Tx
	for k := 1; k <= 40; k++ {
		st.set(addr(k), 0, rich)
		for n := uint64(0); n < 4; n++ {
			txs = append(txs, unsigned(k, n, 50+uint64(k%7)*10, uint64((k*13+int(n)*5)%11)))
		}
	}
	var first []*tx.Tx
	for round := 0; round < 5; round++ {
		m := New(Config{ChainID: chain}, st)
		m.mu.Lock()
		for _, x := range txs {
			if err := m.admit(x); err != nil {
				t.Fatal(err)
			}
		}
		m.mu.Unlock()
		got := m.Select(55, 60_000, 0)
		if len(got) != 60 {
			t.Fatalf("selected %d, want 60 (gas-bound)", len(got))
		}
		if round == 0 {
			first = got
		} else if !slices.Equal(first, got) {
			t.Fatalf("round %d selected a different block", round)
		}
	}
}

// TestUpdate drops executed and unaffordable transactions.
func TestUpdate(t *testing.T) {
	st := newState()
	st.set(addr(1), 0, rich)
	st.set(addr(2), 0, rich)
	st.set(addr(3), 0, rich)
	m := New(Config{ChainID: chain}, st)
	a := []*tx.Tx{signed(1, 0, 10, 1), signed(1, 1, 10, 1), signed(1, 2, 10, 1), signed(1, 3, 10, 1)}
	b := []*tx.Tx{signed(2, 0, 10, 1), signed(2, 1, 10, 1), signed(2, 2, 10, 1)}
	c := []*tx.Tx{signed(3, 0, 10, 1)}
	mustAdd(t, m, a...)
	mustAdd(t, m, b...)
	mustAdd(t, m, c...)
	ch, cancel := m.Subscribe()
	defer cancel()

	next := st.clone()
	next.set(addr(1), 2, rich)                  // a0, a1 included
	next.set(addr(2), 0, cost(b[0])+cost(b[1])) // b2 unaffordable
	next.set(addr(3), 1, 0)                     // c0 included, sender broke
	m.Update(next)

	if got := nonces(m, 1); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("sender 1: %v", got)
	}
	if got := nonces(m, 2); !slices.Equal(got, []uint64{0, 1}) {
		t.Fatalf("sender 2: %v", got)
	}
	if got := nonces(m, 3); len(got) != 0 {
		t.Fatalf("sender 3: %v", got)
	}
	reasons := map[tx.Hash]string{}
	for _, ev := range drain(ch) {
		if ev.Kind != Dropped {
			t.Fatalf("event %+v", ev)
		}
		reasons[ev.Hash] = ev.Reason
	}
	for _, x := range []*tx.Tx{a[0], a[1], c[0]} {
		if !strings.Contains(reasons[x.Hash()], "included or replayed") {
			t.Errorf("nonce %d: reason %q", x.Nonce, reasons[x.Hash()])
		}
	}
	if !strings.Contains(reasons[b[2].Hash()], "unaffordable") || len(reasons) != 4 {
		t.Errorf("reasons %v", reasons)
	}
	if n := m.PendingNonce(addr(1)); n != 4 {
		t.Errorf("pending nonce %d, want 4", n)
	}
	if n := m.PendingNonce(addr(4)); n != 0 {
		t.Errorf("pending nonce of an unknown sender %d", n)
	}
	// The new state view is used for later admissions.
	if err := m.Add(signed(1, 1, 10, 1)); !errors.Is(err, ErrNonceTooLow) {
		t.Errorf("replay after Update: %v", err)
	}
	checkInvariants(t, m)
}

// TestReinject: a reorg returns the abandoned blocks' transactions.
func TestReinject(t *testing.T) {
	st := newState()
	st.set(addr(1), 0, rich)
	st.set(addr(2), 0, rich)
	m := New(Config{ChainID: chain}, st)
	a := []*tx.Tx{signed(1, 0, 10, 1), signed(1, 1, 10, 1), signed(1, 2, 10, 1)}
	b := []*tx.Tx{signed(2, 0, 10, 1)}
	mustAdd(t, m, a...)
	mustAdd(t, m, b...)

	// Block X includes a0, a1, b0.
	afterX := st.clone()
	afterX.set(addr(1), 2, rich)
	afterX.set(addr(2), 1, rich)
	m.Update(afterX)
	if m.Len() != 1 {
		t.Fatalf("len %d after block X", m.Len())
	}
	// X is abandoned for Y, which includes only b0.
	afterY := st.clone()
	afterY.set(addr(2), 1, rich)
	m.Update(afterY)
	bad := signed(1, 0, 10, 1)
	bad.ChainID = "elsewhere"
	m.Reinject([]*tx.Tx{b[0], a[1], nil, bad, a[0]}) // any order
	if got := nonces(m, 1); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("sender 1: %v", got)
	}
	if len(nonces(m, 2)) != 0 {
		t.Fatalf("b0 was executed on the new branch and must not come back")
	}
	if got := m.Select(0, math.MaxUint64, 0); !slices.Equal(got, a) {
		t.Fatalf("selected %v", hashes(got))
	}
	checkInvariants(t, m)
}

// TestRemove drops a transaction and its sender's later nonces.
func TestRemove(t *testing.T) {
	st := newState()
	st.set(addr(1), 0, rich)
	m := New(Config{ChainID: chain}, st)
	a := []*tx.Tx{signed(1, 0, 10, 1), signed(1, 1, 10, 1), signed(1, 2, 10, 1)}
	mustAdd(t, m, a...)
	ch, cancel := m.Subscribe()
	defer cancel()
	m.Remove([]tx.Hash{a[1].Hash(), {1, 2, 3}})
	if got := nonces(m, 1); !slices.Equal(got, []uint64{0}) {
		t.Fatalf("sender 1: %v", got)
	}
	evs := drain(ch)
	if kinds(evs) != "dropped,dropped" || evs[0].Reason != "removed" || !strings.Contains(evs[1].Reason, "nonce gap") {
		t.Fatalf("events %+v", evs)
	}
	if m.PendingNonce(addr(1)) != 1 || m.Bytes() != a[0].Size() {
		t.Fatalf("pending nonce %d bytes %d", m.PendingNonce(addr(1)), m.Bytes())
	}
	m.Remove([]tx.Hash{a[0].Hash()})
	if m.Len() != 0 || m.Bytes() != 0 {
		t.Fatalf("len %d bytes %d", m.Len(), m.Bytes())
	}
	checkInvariants(t, m)
}

// TestAddBatch: one error per transaction, in order, with repeats.
func TestAddBatch(t *testing.T) {
	st := newState()
	for k := 1; k <= 3; k++ {
		st.set(addr(k), 0, rich)
	}
	m := New(Config{ChainID: chain, Workers: 2}, st)
	pooled := signed(3, 0, 10, 1)
	mustAdd(t, m, pooled)
	bad := signed(2, 0, 10, 1)
	bad.Signature[5] ^= 1
	a0 := signed(1, 0, 10, 1)
	batch := []*tx.Tx{
		a0,
		signed(1, 1, 10, 1),
		a0,                  // same pointer again
		signed(1, 0, 10, 1), // same content, another pointer
		bad,
		bad, // a repeated failure fails the same way
		pooled,
		signed(1, 3, 10, 1),
		nil,
		signed(1, 2, 10, 1),
	}
	want := []error{nil, nil, ErrKnown, ErrKnown, tx.ErrSignature, tx.ErrSignature, ErrKnown, ErrNonceGap, tx.ErrMalformed, nil}
	errs := m.AddBatch(batch)
	for i := range want {
		if (want[i] == nil) != (errs[i] == nil) || (want[i] != nil && !errors.Is(errs[i], want[i])) {
			t.Errorf("tx %d: %v, want %v", i, errs[i], want[i])
		}
	}
	if got := nonces(m, 1); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("sender 1: %v", got)
	}
	if len(m.AddBatch(nil)) != 0 {
		t.Fatal("empty batch")
	}
	checkInvariants(t, m)
}

// TestSubscribe: events arrive in order, a cancelled subscription closes,
// and a subscriber that never reads does not block the pool.
func TestSubscribe(t *testing.T) {
	st := newState()
	st.set(addr(1), 0, rich)
	m := New(Config{ChainID: chain}, st)
	ch, cancel := m.Subscribe()
	slow, cancelSlow := m.Subscribe()
	defer cancelSlow()
	x := signed(1, 0, 10, 1)
	mustAdd(t, m, x)
	if ev := <-ch; ev.Kind != Added || ev.Hash != x.Hash() || ev.Reason != "" {
		t.Fatalf("event %+v", ev)
	}
	cancel()
	cancel()
	if _, open := <-ch; open {
		t.Fatal("channel open after cancel")
	}
	// The slow subscriber holds one event; fill its buffer and overflow it.
	m.mu.Lock()
	for i := 0; i < EventBuffer+10; i++ {
		m.emit(tx.Hash{}, Dropped, func() string { return "test" })
	}
	m.mu.Unlock()
	if n := m.LostEvents(); n != 11 {
		t.Fatalf("lost %d events, want 11", n)
	}
	if len(slow) != EventBuffer {
		t.Fatalf("slow subscriber holds %d", len(slow))
	}
	mustAdd(t, m, signed(1, 1, 10, 1)) // still not blocked
	if n := m.LostEvents(); n != 12 {
		t.Fatalf("lost %d events, want 12", n)
	}
	for _, k := range []EventKind{Added, Replaced, Evicted, Dropped, 0} {
		if k.String() == "" {
			t.Errorf("kind %d has no name", k)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := New(Config{ChainID: chain, PriceBump: math.MaxUint64}, newState()).Config()
	if c.MaxTxs != DefaultMaxTxs || c.MaxBytes != DefaultMaxBytes || c.MaxPerSender != DefaultMaxPerSender ||
		c.PriceBump != MaxPriceBump || c.Workers < 1 {
		t.Fatalf("defaults %+v", c)
	}
}
