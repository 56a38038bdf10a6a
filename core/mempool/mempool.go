package mempool

import (
	"container/heap"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/trellis-chain/trellis/internal/defaults"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// State is the pool's read-only view of the head state. Implementations must
// be safe for concurrent use; the pool calls Account while holding its lock,
// so it should be fast (an in-memory or cached read).
type State interface {
	// Account returns the next nonce and the spendable balance of addr; a
	// missing account has 0, 0.
	Account(addr account.Address) (nonce, balance uint64)
}

// Defaults for the zero fields of Config.
const (
	DefaultMaxTxs       = 50_000
	DefaultMaxBytes     = 64 << 20
	DefaultMaxPerSender = 64
	DefaultPriceBump    = 10
	// MaxPriceBump caps Config.PriceBump (a 10,000-fold raise).
	MaxPriceBump = 1_000_000
)

// Config sets the pool's limits. Zero (or negative) fields take the defaults.
type Config struct {
	// ChainID is the chain the pool admits transactions for.
	ChainID string
	// MaxTxs is the global count limit (default 50,000).
	MaxTxs int
	// MaxBytes limits the summed encoded size (default 64 MiB).
	MaxBytes int
	// MaxPerSender limits one sender's pending transactions (default 64).
	MaxPerSender int
	// ProofCheck, when set, checks a proof transaction against the head
	// after its stateless checks, before admission (exec.CheckProofTx): a
	// proof that could not settle a job is refused at the door instead of
	// occupying the pool. Other transactions skip it.
	ProofCheck func(*tx.Tx) error
	// PriceBump is the percentage by which a replacement must raise both the
	// max fee and the tip (default 10; values above MaxPriceBump are capped).
	// A replacement must also raise both strictly, whatever the percentage.
	PriceBump uint64
	// Workers is the number of goroutines for stateless checks; 0 means
	// GOMAXPROCS.
	Workers int
}

func (c Config) withDefaults() Config {
	defaults.Positive(&c.MaxTxs, DefaultMaxTxs)
	defaults.Positive(&c.MaxBytes, DefaultMaxBytes)
	defaults.Positive(&c.MaxPerSender, DefaultMaxPerSender)
	if c.PriceBump == 0 {
		c.PriceBump = DefaultPriceBump
	}
	c.PriceBump = min(c.PriceBump, MaxPriceBump)
	defaults.Positive(&c.Workers, runtime.GOMAXPROCS(0))
	return c
}

// entry is one pooled transaction with what the pool needs of it cached.
type entry struct {
	tx     *tx.Tx
	hash   tx.Hash
	sender *sender
	nonce  uint64
	tip    uint64 // MaxPriorityFeePerGas
	cost   uint64 // tx.MaxCost
	size   int
	seq    uint64 // arrival order, unique
}

// sender is one account's pending transactions, sorted by nonce with unique
// nonces, and its nonce and balance in the pool's state view.
type sender struct {
	addr    account.Address
	nonce   uint64 // state nonce
	balance uint64
	txs     []*entry
	cost    uint64 // sum of txs' cost; never above balance after an operation
	heapIdx int    // index in Mempool.evict, -1 when absent
}

// find returns the index of nonce n in s.txs, or where it would go.
func (s *sender) find(n uint64) (int, bool) {
	i := sort.Search(len(s.txs), func(i int) bool { return s.txs[i].nonce >= n })
	return i, i < len(s.txs) && s.txs[i].nonce == n
}

// run returns how many pending transactions follow the state nonce without
// a gap.
func (s *sender) run() int {
	// Nonces are sorted and unique, so nonce-i never decreases; the run is
	// the prefix where it equals the state nonce.
	return sort.Search(len(s.txs), func(i int) bool { return s.txs[i].nonce-uint64(i) != s.nonce })
}

// next returns the next nonce the sender may add.
func (s *sender) next() uint64 { return s.nonce + uint64(s.run()) }

// Mempool is the transaction pool. Its methods are safe for concurrent use.
type Mempool struct {
	cfg Config

	mu      sync.RWMutex
	state   State
	all     map[tx.Hash]*entry
	senders map[account.Address]*sender
	evict   evictHeap // every non-empty sender, by its last tx's tip, cheapest first
	bytes   int
	seq     uint64
	subs    map[uint64]chan Event
	nextSub uint64

	lostEvents atomic.Uint64
}

// New returns an empty pool for cfg with st as its state view. st must not
// be nil.
func New(cfg Config, st State) *Mempool {
	return &Mempool{
		cfg:     cfg.withDefaults(),
		state:   st,
		all:     make(map[tx.Hash]*entry),
		senders: make(map[account.Address]*sender),
		subs:    make(map[uint64]chan Event),
	}
}

// Config returns the configuration in effect, defaults filled in.
func (m *Mempool) Config() Config { return m.cfg }

// Add checks t statelessly (tx.CheckStateless, size, signature) and admits
// it under the rules in the package documentation. The error, if any, wraps
// a sentinel of this package or of package tx. Add caches t's hash: do not
// modify t afterwards, and do not pass the same *tx.Tx to two concurrent
// calls unless its hash was computed already (tx.Decode does).
func (m *Mempool) Add(t *tx.Tx) error {
	if err := precheck(t, m.cfg.ChainID); err != nil {
		return err
	}
	h := t.Hash()
	m.mu.RLock()
	_, known := m.all[h]
	m.mu.RUnlock()
	if known {
		return knownErr(t)
	}
	if err := stateless(t, m.cfg.ChainID); err != nil {
		return err
	}
	if err := m.checkProof(t); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.admit(t)
}

// AddBatch admits txs in order and returns one error (or nil) per
// transaction. Stateless checks run first on Config.Workers goroutines
// (tx.CheckAll), without the pool's lock; transactions the pool already
// holds skip them. A sender's transactions must come in nonce order, as each
// is admitted against the ones before it. The same caveats as Add apply.
func (m *Mempool) AddBatch(txs []*tx.Tx) []error {
	errs := make([]error, len(txs))
	// Pass 1: reject what cannot be hashed; note repeated pointers, which
	// must not be hashed by two goroutines at once.
	first := make(map[*tx.Tx]int, len(txs))
	uniq := make([]int, 0, len(txs))
	dup := make(map[int]int)
	for i, t := range txs {
		if err := precheck(t, m.cfg.ChainID); err != nil {
			errs[i] = err
			continue
		}
		if j, ok := first[t]; ok {
			dup[i] = j
			continue
		}
		first[t] = i
		uniq = append(uniq, i)
	}
	// Pass 2: hash (the sender's address costs Poseidon2) on all cores.
	parallel(len(uniq), m.cfg.Workers, func(k int) { txs[uniq[k]].Hash() })
	// Pass 3: skip the signature check for what the pool already holds.
	check := make([]*tx.Tx, 0, len(uniq))
	at := make([]int, 0, len(uniq))
	m.mu.RLock()
	for _, i := range uniq {
		if _, ok := m.all[txs[i].Hash()]; ok {
			errs[i] = knownErr(txs[i])
			continue
		}
		check = append(check, txs[i])
		at = append(at, i)
	}
	m.mu.RUnlock()
	// Pass 4: stateless checks, signatures included, in parallel.
	for k, err := range tx.CheckAll(check, m.cfg.ChainID, m.cfg.Workers) {
		if err == nil {
			err = checkSize(check[k])
		}
		if err == nil {
			err = m.checkProof(check[k])
		}
		errs[at[k]] = err
	}
	for i, j := range dup { // a repeat is admitted (as known) after its first
		errs[i] = errs[j]
	}
	// Pass 5: admission in order under one lock.
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, t := range txs {
		if errs[i] == nil {
			errs[i] = m.admit(t)
		}
	}
	return errs
}

// checkProof runs Config.ProofCheck on a proof transaction.
func (m *Mempool) checkProof(t *tx.Tx) error {
	if m.cfg.ProofCheck == nil || t.Type() != tx.TypeProof {
		return nil
	}
	if err := m.cfg.ProofCheck(t); err != nil {
		return fmt.Errorf("%w: %w", ErrProofRefused, err)
	}
	return nil
}

// Reinject re-admits transactions of blocks rolled back by a reorg, under
// the normal rules and against the current state view (call Update with the
// new head first), and silently drops those no longer valid. Each sender's
// transactions are admitted in nonce order whatever their order in txs.
func (m *Mempool) Reinject(txs []*tx.Tx) {
	in := make([]*tx.Tx, 0, len(txs))
	for _, t := range txs {
		if t != nil {
			in = append(in, t)
		}
	}
	sort.SliceStable(in, func(i, j int) bool { return in[i].Nonce < in[j].Nonce })
	m.AddBatch(in)
}

// precheck rejects what cannot even be hashed.
func precheck(t *tx.Tx, chainID string) error {
	if t == nil {
		return fmt.Errorf("%w: nil transaction", tx.ErrMalformed)
	}
	if t.Body == nil {
		return t.CheckStateless(chainID)
	}
	return nil
}

func stateless(t *tx.Tx, chainID string) error {
	if err := t.CheckStateless(chainID); err != nil {
		return err
	}
	return checkSize(t)
}

func checkSize(t *tx.Tx) error {
	if n, max := t.Size(), t.SizeLimit(); n > max {
		return fmt.Errorf("%w: %s of %d bytes, at most %d", tx.ErrTooLarge, t.Type(), n, max)
	}
	return nil
}

func knownErr(t *tx.Tx) error {
	return fmt.Errorf("%w: transaction %s", ErrKnown, t.Hash())
}

// parallel calls fn(0..n-1) on up to workers goroutines.
func parallel(n, workers int, fn func(int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// admit applies the stateful rules to t, which passed the stateless checks
// and has its hash cached. m.mu must be held for writing.
func (m *Mempool) admit(t *tx.Tx) error {
	h := t.Hash()
	if _, ok := m.all[h]; ok {
		return knownErr(t)
	}
	addr := t.Sender()
	s := m.senders[addr]
	if s == nil {
		nonce, bal := m.state.Account(addr)
		s = &sender{addr: addr, nonce: nonce, balance: bal, heapIdx: -1}
	}
	n := t.Nonce
	if n < s.nonce {
		return fmt.Errorf("%w: replay of an executed nonce: sender %s nonce %d, state nonce %d", ErrNonceTooLow, addr, n, s.nonce)
	}
	i, found := s.find(n)
	var old *entry
	if found {
		old = s.txs[i]
		if err := m.checkBump(old, t); err != nil {
			return err
		}
	} else {
		if next := s.next(); n != next {
			return fmt.Errorf("%w: next expected %d, got %d (sender %s)", ErrNonceGap, next, n, addr)
		}
		if len(s.txs) >= m.cfg.MaxPerSender {
			return fmt.Errorf("%w: sender %s has %d pending transactions, the limit", ErrSenderLimit, addr, len(s.txs))
		}
	}
	cost, _ := t.MaxCost() // CheckStateless rejected overflow
	total := s.cost
	if old != nil {
		total -= old.cost
	}
	total, carry := bits.Add64(total, cost, 0)
	if carry != 0 || total > s.balance {
		pending := len(s.txs)
		if old == nil {
			pending++
		}
		sum := fmt.Sprint(total)
		if carry != 0 {
			sum = "more than " + fmt.Sprint(uint64(math.MaxUint64))
		}
		return fmt.Errorf("%w: sender %s has balance %d, below %s, the summed max cost of its %d pending transactions including nonce %d (max cost %d)",
			ErrInsufficientFunds, addr, s.balance, sum, pending, n, cost)
	}

	e := &entry{tx: t, hash: h, sender: s, nonce: n, tip: t.MaxPriorityFeePerGas, cost: cost, size: t.Size()}
	addCount := 1
	addBytes := e.size
	if old != nil {
		addCount, addBytes = 0, e.size-old.size
	}
	victims, err := m.makeRoom(e, addCount, addBytes)
	if err != nil {
		return err
	}

	m.seq++
	e.seq = m.seq
	m.all[h] = e
	m.bytes += e.size
	if old != nil {
		delete(m.all, old.hash)
		m.bytes -= old.size
		s.cost -= old.cost
		s.txs[i] = e
	} else {
		s.txs = append(s.txs, nil)
		copy(s.txs[i+1:], s.txs[i:])
		s.txs[i] = e
	}
	s.cost += cost
	m.senders[addr] = s
	m.reindex(s)

	for _, v := range victims {
		m.emit(v.hash, Evicted, func() string {
			return fmt.Sprintf("pool full: evicted (tip %d, sender %s nonce %d) for %s paying tip %d", v.tip, v.sender.addr, v.nonce, h, e.tip)
		})
	}
	if old != nil {
		m.emit(old.hash, Replaced, func() string {
			return fmt.Sprintf("replaced by %s (max fee %d → %d, tip %d → %d)", h, old.tx.MaxFeePerGas, t.MaxFeePerGas, old.tip, e.tip)
		})
	}
	m.emit(h, Added, nil)
	return nil
}

// minBump returns the least value that raises old by pct percent and by at
// least one; ok is false when no uint64 does.
func minBump(old, pct uint64) (need uint64, ok bool) {
	hi, lo := bits.Mul64(old, 100+pct)
	lo, c := bits.Add64(lo, 99, 0) // ceil(old*(100+pct)/100)
	hi += c
	if hi >= 100 {
		return 0, false
	}
	need, _ = bits.Div64(hi, lo, 100)
	if need <= old {
		if old == math.MaxUint64 {
			return 0, false
		}
		need = old + 1
	}
	return need, true
}

func (m *Mempool) checkBump(old *entry, t *tx.Tx) error {
	o := old.tx
	needFee, okFee := minBump(o.MaxFeePerGas, m.cfg.PriceBump)
	needTip, okTip := minBump(o.MaxPriorityFeePerGas, m.cfg.PriceBump)
	if okFee && okTip && t.MaxFeePerGas >= needFee && t.MaxPriorityFeePerGas >= needTip {
		return nil
	}
	show := func(need uint64, ok bool) string {
		if !ok {
			return "more than " + fmt.Sprint(uint64(math.MaxUint64))
		}
		return fmt.Sprint(need)
	}
	return fmt.Errorf("%w: replacing nonce %d of sender %s (max fee %d, tip %d) needs a %d%% bump to max fee ≥ %s and tip ≥ %s, got max fee %d, tip %d",
		ErrUnderpriced, old.nonce, old.sender.addr, o.MaxFeePerGas, o.MaxPriorityFeePerGas, m.cfg.PriceBump,
		show(needFee, okFee), show(needTip, okTip), t.MaxFeePerGas, t.MaxPriorityFeePerGas)
}

// makeRoom evicts the cheapest evictable transactions until e fits, adding
// addCount transactions and addBytes bytes. Only other senders' last
// transactions are evictable, and only ones with a lower tip than e. On
// failure nothing is changed. The victims are returned for their events.
func (m *Mempool) makeRoom(e *entry, addCount, addBytes int) ([]*entry, error) {
	fits := func() bool {
		return len(m.all)+addCount <= m.cfg.MaxTxs && m.bytes+addBytes <= m.cfg.MaxBytes
	}
	if fits() {
		return nil, nil
	}
	if e.size > m.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: transaction of %d bytes exceeds the pool's %d-byte limit", ErrPoolFull, e.size, m.cfg.MaxBytes)
	}
	s := e.sender
	if s.heapIdx >= 0 { // never evict the newcomer's own sender
		heap.Remove(&m.evict, s.heapIdx)
	}
	defer m.reindex(s)
	var victims []*entry
	for !fits() {
		if len(m.evict) == 0 {
			m.restore(victims)
			return nil, fmt.Errorf("%w: %d transactions, %d bytes (limits %d, %d) and nothing of another sender to evict",
				ErrPoolFull, len(m.all), m.bytes, m.cfg.MaxTxs, m.cfg.MaxBytes)
		}
		vs := m.evict[0]
		v := vs.txs[len(vs.txs)-1]
		if e.tip <= v.tip {
			m.restore(victims)
			return nil, fmt.Errorf("%w: %w: %d transactions, %d bytes (limits %d, %d); tip %d does not exceed %d, the cheapest evictable tip",
				ErrUnderpriced, ErrPoolFull, len(m.all), m.bytes, m.cfg.MaxTxs, m.cfg.MaxBytes, e.tip, v.tip)
		}
		m.drop(vs, len(vs.txs)-1)
		victims = append(victims, v)
	}
	return victims, nil
}

// restore puts evicted transactions back, last evicted first, so each
// returns as its sender's last transaction.
func (m *Mempool) restore(victims []*entry) {
	for k := len(victims) - 1; k >= 0; k-- {
		v := victims[k]
		s := v.sender
		s.txs = append(s.txs, v)
		s.cost += v.cost
		m.all[v.hash] = v
		m.bytes += v.size
		m.senders[s.addr] = s
		m.reindex(s)
	}
}

// drop removes s.txs[from:] and returns them, keeping every index current.
func (m *Mempool) drop(s *sender, from int) []*entry {
	return m.dropRange(s, from, len(s.txs))
}

// dropRange removes s.txs[lo:hi] and returns them (a fresh slice).
func (m *Mempool) dropRange(s *sender, lo, hi int) []*entry {
	if lo >= hi {
		return nil
	}
	out := append([]*entry(nil), s.txs[lo:hi]...)
	for _, e := range out {
		delete(m.all, e.hash)
		m.bytes -= e.size
		s.cost -= e.cost
	}
	s.txs = append(s.txs[:lo], s.txs[hi:]...)
	clear(s.txs[len(s.txs):cap(s.txs)])
	m.reindex(s)
	return out
}

// reindex updates s's place in the eviction index after its list changed,
// and forgets s when it has nothing pending.
func (m *Mempool) reindex(s *sender) {
	switch {
	case len(s.txs) == 0:
		if s.heapIdx >= 0 {
			heap.Remove(&m.evict, s.heapIdx)
		}
		if m.senders[s.addr] == s {
			delete(m.senders, s.addr)
		}
	case s.heapIdx < 0:
		heap.Push(&m.evict, s)
	default:
		heap.Fix(&m.evict, s.heapIdx)
	}
}

// evictHeap orders senders by their last transaction: lowest tip first,
// and among equal tips the most recent arrival first.
type evictHeap []*sender

func (h evictHeap) Len() int { return len(h) }
func (h evictHeap) Less(i, j int) bool {
	a, b := h[i].txs[len(h[i].txs)-1], h[j].txs[len(h[j].txs)-1]
	if a.tip != b.tip {
		return a.tip < b.tip
	}
	return a.seq > b.seq
}
func (h evictHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *evictHeap) Push(x any) {
	s := x.(*sender)
	s.heapIdx = len(*h)
	*h = append(*h, s)
}
func (h *evictHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.heapIdx = -1
	return s
}

// Remove drops the transactions with the given hashes, and with each the
// same sender's later nonces, which could no longer execute. Unknown hashes
// are ignored.
func (m *Mempool) Remove(hashes []tx.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range hashes {
		e, ok := m.all[h]
		if !ok {
			continue
		}
		s := e.sender
		i, _ := s.find(e.nonce)
		for _, d := range m.drop(s, i) {
			m.emit(d.hash, Dropped, func() string {
				if d == e {
					return "removed"
				}
				return fmt.Sprintf("nonce gap: nonce %d of sender %s was removed", e.nonce, s.addr)
			})
		}
	}
}

// Update swaps in st, the state after a new head, and drops what it made
// invalid: transactions whose nonce is below their sender's state nonce
// (included, or replayed by another transaction), and each sender's highest
// nonces until its balance covers the summed max cost of the rest. st must
// not be nil. A state nonce that went backwards (a reorg) leaves the
// sender's transactions pending but not executable until the missing nonces
// are added back (see Reinject).
func (m *Mempool) Update(st State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = st
	for _, s := range m.senders {
		s.nonce, s.balance = st.Account(s.addr)
		lo, _ := s.find(s.nonce)
		for _, d := range m.dropRange(s, 0, lo) {
			m.emit(d.hash, Dropped, func() string {
				return fmt.Sprintf("nonce %d below state nonce %d of sender %s: included or replayed", d.nonce, s.nonce, s.addr)
			})
		}
		if s.cost <= s.balance {
			continue
		}
		var sum uint64
		cut := 0
		for cut < len(s.txs) && sum+s.txs[cut].cost >= sum && sum+s.txs[cut].cost <= s.balance {
			sum += s.txs[cut].cost
			cut++
		}
		for _, d := range m.drop(s, cut) {
			m.emit(d.hash, Dropped, func() string {
				return fmt.Sprintf("unaffordable: sender %s balance %d covers only its first %d pending transactions (max cost %d)", s.addr, s.balance, cut, sum)
			})
		}
	}
}

// Get returns the pooled transaction with hash h.
func (m *Mempool) Get(h tx.Hash) (*tx.Tx, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if e, ok := m.all[h]; ok {
		return e.tx, true
	}
	return nil, false
}

// Len returns the number of pooled transactions.
func (m *Mempool) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.all)
}

// Bytes returns the summed encoded size of the pooled transactions.
func (m *Mempool) Bytes() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.bytes
}

// PendingNonce returns the nonce addr's next transaction should carry: its
// state nonce plus the number of pending transactions that follow it
// without a gap.
func (m *Mempool) PendingNonce(addr account.Address) uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if s := m.senders[addr]; s != nil {
		return s.next()
	}
	n, _ := m.state.Account(addr)
	return n
}
