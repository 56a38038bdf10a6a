//go:build linux

package testnet

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Load generator limits.
const (
	// maxOutstanding bounds one account's submitted, unfinalized
	// transfers, below the mempool's per-sender limit (64).
	maxOutstanding  = 48
	loadCallTimeout = 10 * time.Second
)

// loadAccount is one sending account; a worker owns it.
type loadAccount struct {
	idx    int
	key    ed25519.PrivateKey
	addr   account.Address
	to     account.Address
	nonce  uint64
	home   int // index into loadRun.nodes
	resync bool
	retry  time.Time
	// outstanding counts submitted transfers not yet final or rejected; the
	// tracker decrements it.
	outstanding atomic.Int64
}

type pendingTx struct {
	sent time.Time
	acct *loadAccount
}

// loadRun is one `testnet load`.
type loadRun struct {
	voters   func([]byte) []int
	dir      string
	st       *State
	nodes    []Node // the nodes load sends to
	clients  []*rpc.Client
	chainID  string
	amount   uint64
	batchMax int
	quote    atomic.Pointer[rpc.FeeQuote]

	sent, accepted, rejected, finalized atomic.Int64
	finalBlocks, finalTxs               atomic.Int64

	mu          sync.Mutex
	pending     map[tx.Hash]pendingTx
	latencies   []time.Duration
	reasons     map[string]int
	lastFinalAt time.Time
	heights     map[uint64]string // final height -> block hash, to catch conflicts
	seenFinal   []FinalTx
	stop        <-chan struct{}
	conflicts   int
	lastHeight  uint64
	// provenWait > 0 follows final transfers until their block is proven.
	provenWait time.Duration
	provenAt   map[uint64]time.Time // final height -> when seen proven
}

// LoadOptions is one load run.
type LoadOptions struct {
	Rate     float64       // transfers per second to send
	Duration time.Duration // how long to send
	Accounts int           // load accounts to send from; 0: every one of the genesis
	Nodes    []int         // nodes to send to; each account sticks to one
	Watch    int           // node whose finalizedHeads measures finality; -1: the first of Nodes
	Workers  int           // concurrent senders
	Batch    int           // transactions per JSON-RPC batch
	Drain    time.Duration // after sending, how long to wait for accepted transfers to finalize
	// ProvenWait, when positive, follows the final transfers' blocks on
	// the watched node until they are proven, waiting at most this long
	// after the drain, and reports submit→proven latency.
	ProvenWait time.Duration
	Amount     uint64 // base units per transfer
	// Stop, when it closes, ends the sending before Duration; the drain
	// still runs.
	Stop <-chan struct{}
	// Voters, when set, reads from a final block's consensus data the
	// validator-set indexes of the validators whose votes it carries (the
	// parent's commit), for ChainStats.Voters; the caller knows the
	// consensus plugin's format, testnet does not.
	Voters func(consensusData []byte) []int
}

// Load sends signed transfers from the genesis load accounts at o.Rate
// for o.Duration, follows finality on the watched node and reports
// throughput, latency and per-node cost. Progress lines go to progress.
func (t *Net) Load(ctx context.Context, o LoadOptions, progress io.Writer) (*LoadReport, error) {
	st := t.State
	switch {
	case o.Rate <= 0 || o.Rate > 1e6:
		return nil, fmt.Errorf("%w: -rate %g: want more than 0, at most 1e6", ErrTestnet, o.Rate)
	case o.Duration <= 0:
		return nil, fmt.Errorf("%w: -duration must be positive", ErrTestnet)
	case o.Workers < 1 || o.Workers > 1024:
		return nil, fmt.Errorf("%w: -workers %d: want 1 to 1024", ErrTestnet, o.Workers)
	case o.Batch < 1 || o.Batch > rpc.DefaultMaxBatch:
		return nil, fmt.Errorf("%w: -batch %d: want 1 to %d", ErrTestnet, o.Batch, rpc.DefaultMaxBatch)
	case o.Amount == 0:
		return nil, fmt.Errorf("%w: -amount must be positive", ErrTestnet)
	case len(o.Nodes) == 0:
		return nil, fmt.Errorf("%w: no nodes to send to", ErrTestnet)
	}
	nA := o.Accounts
	if nA == 0 {
		nA = st.LoadAccounts
	}
	if nA < 1 || nA > st.LoadAccounts {
		return nil, fmt.Errorf("%w: -accounts %d: the genesis funds %d load accounts", ErrTestnet, nA, st.LoadAccounts)
	}
	r := &loadRun{dir: t.Dir, st: st, chainID: st.ChainID, amount: o.Amount, batchMax: o.Batch,
		pending: map[tx.Hash]pendingTx{}, reasons: map[string]int{}, heights: map[uint64]string{}, stop: o.Stop,
		provenWait: o.ProvenWait, provenAt: map[uint64]time.Time{}, voters: o.Voters}
	for _, i := range o.Nodes {
		n := st.Nodes[i]
		cl, err := rpc.Dial(n.RPC)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = cl.ChainID(cctx)
		cancel()
		if err != nil {
			fmt.Fprintf(progress, "%s does not answer RPC (%v): not sending to it\n", n.Name, err)
			continue
		}
		r.nodes, r.clients = append(r.nodes, n), append(r.clients, cl)
	}
	if len(r.nodes) == 0 {
		return nil, fmt.Errorf("%w: none of the nodes %v answers RPC", ErrTestnet, o.Nodes)
	}
	watchIdx := r.nodes[0].Index
	if o.Watch >= 0 {
		if o.Watch >= len(st.Nodes) {
			return nil, fmt.Errorf("%w: -watch %d: no such node", ErrTestnet, o.Watch)
		}
		watchIdx = o.Watch
	}
	return r.run(ctx, nA, o.Rate, o.Duration, o.Drain, o.Workers, watchIdx, progress)
}

// nodeSnapshot is what load reads from a node before and after.
type nodeSnapshot struct {
	ok    bool
	pid   int
	final uint64
	// msgs and bytes: the p2p counters create a topic's series on its first
	// message, so a missing series counts as zero.
	msgs, bytes         float64
	recvMsgs, recvBytes float64
	cpuTicks            uint64
	rssPages            uint64 // node and plugins
	// reorgs, reverted, maxReorg and depths are a longest-chain plugin's
	// counts.
	reorgs, reverted, maxReorg uint64
	depths                     map[uint64]uint64
	err                        string
}

func snapshotNode(n Node) nodeSnapshot {
	s := nodeSnapshot{pid: n.PID}
	if _, ok := NodeProc(n); !ok {
		s.err = "down"
		return s
	}
	s.cpuTicks, s.rssPages = groupUsage(n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		s.err = err.Error()
		return s
	}
	defer c.Close()
	fb, err := c.BlockByTag(ctx, rpc.TagFinalized, false)
	if err != nil {
		s.err = err.Error()
		return s
	}
	s.final = fb.Height
	if cs, err := c.ConsensusStatus(ctx); err == nil {
		u := func(k string) uint64 { v, _ := strconv.ParseUint(cs.Details[k], 10, 64); return v }
		s.reorgs, s.reverted, s.maxReorg = u("reorgs"), u("reverted_blocks"), u("max_reorg_depth")
		s.depths = parseDepths(cs.Details["reorg_depths"])
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.Metrics+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.err = err.Error()
		return s
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		s.err = err.Error()
		return s
	}
	samples, err := ParseProm(string(body))
	if err != nil {
		s.err = err.Error()
		return s
	}
	s.msgs = SumSamples(samples, metricSentMessages, consensusTopic)
	s.bytes = SumSamples(samples, metricSentBytes, consensusTopic)
	s.recvMsgs = SumSamples(samples, metricRecvMessages, consensusTopic)
	s.recvBytes = SumSamples(samples, metricRecvBytes, consensusTopic)
	s.ok = true
	return s
}

func costOf(name string, a, b nodeSnapshot) nodeCost {
	c := nodeCost{Node: name}
	switch {
	case !a.ok || !b.ok:
		c.Note = "not measured: node " + strings.TrimPrefix(a.err+" / "+b.err, " / ")
		return c
	case a.pid != b.pid:
		c.Note = "restarted during the run: counters reset"
		return c
	}
	c.Blocks = int64(b.final) - int64(a.final)
	if c.Blocks <= 0 {
		c.Note = "no block finalized"
		return c
	}
	per := func(v float64) *float64 { x := v / float64(c.Blocks); return &x }
	c.MsgsPerBlock, c.BytesPerBlock = per(b.msgs-a.msgs), per(b.bytes-a.bytes)
	c.RecvMsgsPerBlock, c.RecvBytesPerBlock = per(b.recvMsgs-a.recvMsgs), per(b.recvBytes-a.recvBytes)
	c.RSSMB = float64(b.rssPages*uint64(os.Getpagesize())) / (1 << 20)
	c.CPUPerBlock = per(float64(b.cpuTicks-a.cpuTicks) / clockTicks)
	return c
}

func (r *loadRun) run(ctx context.Context, nA int, rate float64, dur, drain time.Duration, workers, watch int, progress io.Writer) (*LoadReport, error) {
	accts := make([]*loadAccount, nA)
	for i := range accts {
		k := LoadKey(r.chainID, i)
		accts[i] = &loadAccount{idx: i, key: k, addr: account.FromPublicKey(k.Public().(ed25519.PublicKey)),
			to: LoadAddress(r.chainID, (i+1)%nA), home: i % len(r.nodes)}
	}
	if nA == 1 {
		accts[0].to = LoadAddress(r.chainID, 1) // funded or not, a transfer to it is valid
	}
	if err := r.refreshQuote(ctx); err != nil {
		return nil, fmt.Errorf("fee quote: %w", err)
	}
	if err := r.syncNonces(ctx, accts); err != nil {
		return nil, err
	}
	before := make([]nodeSnapshot, len(r.st.Nodes))
	for i, n := range r.st.Nodes {
		before[i] = snapshotNode(n)
	}

	tctx, tcancel := context.WithCancel(context.Background())
	defer tcancel()
	trackerReady := make(chan error, 1)
	go r.track(tctx, watch, trackerReady)
	if err := <-trackerReady; err != nil {
		return nil, err
	}
	provenDone := make(chan struct{})
	if r.provenWait > 0 {
		go func() { defer close(provenDone); r.trackProven(tctx, r.st.Nodes[watch]) }()
	} else {
		close(provenDone)
	}

	start := time.Now()
	sctx, scancel := context.WithTimeout(ctx, dur)
	defer scancel()
	if r.stop != nil {
		go func() {
			select {
			case <-r.stop:
				scancel()
			case <-sctx.Done():
			}
		}()
	}
	ws := make([]*loadWorker, workers)
	var wg sync.WaitGroup
	for w := range ws {
		ws[w] = &loadWorker{r: r, signal: make(chan struct{}, 1)}
	}
	for i, a := range accts {
		ws[i%workers].accts = append(ws[i%workers].accts, a)
	}
	for _, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); w.loop(sctx) }()
	}
	go r.quoteLoop(sctx)
	go r.progressLoop(tctx, start, progress)

	// Token bucket: every 5 ms, hand out what the rate owes so far.
	tick := time.NewTicker(5 * time.Millisecond)
	issued, next := int64(0), 0
	backlog := max(int64(rate/float64(workers)), 2*int64(r.batchMax))
loop:
	for {
		select {
		case <-sctx.Done():
			break loop
		case <-tick.C:
		}
		owed := int64(rate*time.Since(start).Seconds()) - issued
		for ; owed > 0; owed-- {
			w := ws[next%workers]
			next++
			issued++
			if w.tokens.Load() < backlog {
				w.tokens.Add(1)
			}
		}
		for _, w := range ws {
			if w.tokens.Load() > 0 {
				select {
				case w.signal <- struct{}{}:
				default:
				}
			}
		}
	}
	tick.Stop()
	wg.Wait()
	sendDur := time.Since(start)

	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.mu.Lock()
		n := len(r.pending)
		r.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.provenWait > 0 {
		r.waitProven(ctx, progress)
	}
	tcancel()
	<-provenDone

	after := make([]nodeSnapshot, len(r.st.Nodes))
	// The nodes' PIDs may have changed (restart): read the state again.
	if st, err := readState(r.dir); err == nil {
		r.st.Nodes = st.Nodes
	}
	for i, n := range r.st.Nodes {
		after[i] = snapshotNode(n)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &LoadReport{ChainID: r.chainID, Consensus: r.st.Consensus, Rate: rate, DurationS: sendDur.Seconds(),
		Sent: r.sent.Load(), Accepted: r.accepted.Load(), Rejected: r.rejected.Load(), RejectedByReason: r.reasons,
		Finalized: r.finalized.Load(), Unfinalized: len(r.pending), Latency: summarize(r.latencies),
		FinalBlocks: r.finalBlocks.Load(), Conflicts: r.conflicts, FinalTxs: r.seenFinal}
	if rep.Finalized > 0 {
		rep.FinalizedPerSec = float64(rep.Finalized) / r.lastFinalAt.Sub(start).Seconds()
	}
	if r.provenWait > 0 {
		rep.ProvenLatency, rep.Unproven = r.provenLatencies()
	}
	for i, n := range r.st.Nodes {
		rep.Nodes = append(rep.Nodes, costOf(n.Name, before[i], after[i]))
	}
	if w := watch; w >= 0 && w < len(after) && before[w].ok && after[w].ok {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if c, err := rpc.Dial(r.st.Nodes[w].RPC); err == nil {
			if cs, err := chainStats(sctx, c, before[w].final, after[w].final, r.voters); err == nil {
				for i := range after {
					if before[i].ok && after[i].ok && before[i].pid == after[i].pid {
						cs.Reorgs += int64(after[i].reorgs - before[i].reorgs)
						cs.RevertedBlocks += int64(after[i].reverted - before[i].reverted)
						cs.MaxReorgDepth = max(cs.MaxReorgDepth, after[i].maxReorg)
						for d, n := range after[i].depths {
							if k := n - before[i].depths[d]; k > 0 {
								if cs.ReorgDepths == nil {
									cs.ReorgDepths = map[uint64]uint64{}
								}
								cs.ReorgDepths[d] += k
							}
						}
					}
				}
				rep.Chain = cs
			}
			c.Close()
		}
		cancel()
	}
	return rep, nil
}

// syncNonces reads every account's pending nonce, one batch per node.
func (r *loadRun) syncNonces(ctx context.Context, accts []*loadAccount) error {
	byNode := map[int][]*loadAccount{}
	for _, a := range accts {
		byNode[a.home] = append(byNode[a.home], a)
	}
	for home, as := range byNode {
		for len(as) > 0 {
			chunk := as[:min(len(as), rpc.DefaultMaxBatch)]
			as = as[len(chunk):]
			res := make([]*rpc.Account, len(chunk))
			calls := make([]rpc.BatchCall, len(chunk))
			for i, a := range chunk {
				calls[i] = rpc.BatchCall{Method: "trellis_getAccount", Params: []any{a.addr}, Result: &res[i]}
			}
			cctx, cancel := context.WithTimeout(ctx, loadCallTimeout)
			err := r.clients[home].CallBatch(cctx, calls)
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil { // the senders read the nonces one by one, elsewhere if need be
				for _, a := range chunk {
					a.resync = true
				}
				continue
			}
			for i, a := range chunk {
				if calls[i].Err != nil || res[i] == nil {
					a.resync = true
					continue
				}
				a.nonce = res[i].PendingNonce
			}
		}
	}
	return nil
}

func (r *loadRun) refreshQuote(ctx context.Context) error {
	var last error
	for _, c := range r.clients {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		q, err := c.FeeQuote(cctx, 3)
		cancel()
		if err == nil {
			r.quote.Store(q)
			return nil
		}
		last = err
	}
	return last
}

func (r *loadRun) quoteLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.refreshQuote(ctx)
		}
	}
}

func (r *loadRun) progressLoop(ctx context.Context, start time.Time, w io.Writer) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastFinal int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fin := r.finalized.Load()
		r.mu.Lock()
		reason, n := topReason(r.reasons)
		pending, height := len(r.pending), r.lastHeight
		r.mu.Unlock()
		rej := strconv.FormatInt(r.rejected.Load(), 10)
		if n > 0 {
			rej += fmt.Sprintf(" (top: %s %d)", reason, n)
		}
		fmt.Fprintf(w, "%5.0fs  sent %d  accepted %d  rejected %s  finalized %d  pending %d  final height %d  %d tx/s\n",
			time.Since(start).Seconds(), r.sent.Load(), r.accepted.Load(), rej, fin, pending, height, fin-lastFinal)
		lastFinal = fin
	}
}

// loadWorker signs and sends for the accounts it owns, so that one
// account's nonces go out in order.
type loadWorker struct {
	r      *loadRun
	accts  []*loadAccount
	cursor int
	tokens atomic.Int64
	signal chan struct{}
}

func (w *loadWorker) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.signal:
		}
		for n := w.tokens.Load(); n > 0 && ctx.Err() == nil; n = w.tokens.Load() {
			sent := w.round(ctx, n)
			w.tokens.Add(-int64(sent))
			if sent == 0 {
				// Every account is saturated or backing off: wait a little.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	}
}

type outTx struct {
	t    *tx.Tx
	acct *loadAccount
}

// round builds up to n transfers (at most one batch per node) and sends
// them; it returns how many it built.
func (w *loadWorker) round(ctx context.Context, n int64) int {
	r := w.r
	q := r.quote.Load()
	now := time.Now()
	byNode := map[int][]outTx{}
	built := 0
	limit := min(int(n), r.batchMax*len(r.nodes))
	for tried := 0; tried < len(w.accts) && built < limit; tried++ {
		a := w.accts[w.cursor%len(w.accts)]
		w.cursor++
		if now.Before(a.retry) || a.outstanding.Load() >= maxOutstanding || len(byNode[a.home]) >= r.batchMax {
			continue
		}
		if a.resync && !w.resync(ctx, a) {
			continue
		}
		// Several transfers of one account may go in one batch, in nonce order.
		for k := 0; k < 4 && built < limit && a.outstanding.Load() < maxOutstanding && len(byNode[a.home]) < r.batchMax; k++ {
			t := &tx.Tx{ChainID: r.chainID, Nonce: a.nonce, GasLimit: tx.GasTransfer,
				MaxFeePerGas: q.MaxFeePerGas, MaxPriorityFeePerGas: q.MaxPriorityFeePerGas,
				Body: tx.Transfer{To: a.to, Amount: r.amount}}
			t.Sign(a.key)
			a.nonce++
			a.outstanding.Add(1)
			byNode[a.home] = append(byNode[a.home], outTx{t, a})
			built++
		}
	}
	var wg sync.WaitGroup
	for home, txs := range byNode {
		wg.Add(1)
		go func() { defer wg.Done(); w.send(ctx, home, txs) }()
	}
	wg.Wait()
	return built
}

// resync reads an account's pending nonce from its node; on failure the
// account moves to the next node and waits a little.
func (w *loadWorker) resync(ctx context.Context, a *loadAccount) bool {
	cctx, cancel := context.WithTimeout(ctx, loadCallTimeout)
	defer cancel()
	acc, err := w.r.clients[a.home].Account(cctx, a.addr)
	if err != nil {
		a.home = (a.home + 1) % len(w.r.nodes)
		a.retry = time.Now().Add(500 * time.Millisecond)
		return false
	}
	a.nonce, a.resync = acc.PendingNonce, false
	return true
}

func (w *loadWorker) send(ctx context.Context, home int, txs []outTx) {
	r := w.r
	calls := make([]rpc.BatchCall, len(txs))
	hashes := make([]tx.Hash, len(txs))
	now := time.Now()
	r.mu.Lock()
	for i, o := range txs {
		calls[i] = rpc.BatchCall{Method: "trellis_sendRawTransaction", Params: []any{rpc.Bytes(o.t.Encode())}, Result: &hashes[i]}
		r.pending[o.t.Hash()] = pendingTx{sent: now, acct: o.acct}
	}
	r.mu.Unlock()
	r.sent.Add(int64(len(txs)))
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadCallTimeout)
	err := r.clients[home].CallBatch(cctx, calls)
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	fail := func(o outTx, reason string) {
		if _, ok := r.pending[o.t.Hash()]; ok {
			delete(r.pending, o.t.Hash())
			o.acct.outstanding.Add(-1)
		}
		o.acct.resync = true
		r.rejected.Add(1)
		r.reasons[reason]++
	}
	if err != nil {
		reason := "unreachable"
		var re *rpc.Error
		if errors.As(err, &re) {
			reason = fmt.Sprintf("batch_error_%d", re.Code)
		}
		for _, o := range txs {
			fail(o, reason)
			if reason == "unreachable" && o.acct.home == home {
				o.acct.home = (home + 1) % len(r.nodes)
				o.acct.retry = time.Now().Add(500 * time.Millisecond)
			}
		}
		return
	}
	for i, o := range txs {
		var re *rpc.Error
		switch {
		case calls[i].Err == nil:
			r.accepted.Add(1)
		case errors.As(calls[i].Err, &re) && re.Reason != "":
			fail(o, re.Reason)
		default:
			fail(o, "error")
		}
	}
}

// track follows final blocks on the watch node (or, when it fails, on the
// others) and matches their transactions with the pending ones. It fills
// any gap in heights by fetching the blocks it missed.
func (r *loadRun) track(ctx context.Context, watch int, ready chan<- error) {
	order := []Node{r.st.Nodes[watch]}
	for _, n := range r.st.Nodes {
		if n.Index != watch {
			order = append(order, n)
		}
	}
	first := true
	for attempt := 0; ctx.Err() == nil; attempt++ {
		n := order[attempt%len(order)]
		err := r.follow(ctx, n, &first, ready)
		if first && attempt == len(order)-1 { // no node could be followed
			ready <- fmt.Errorf("following final blocks on %s: %w", n.Name, err)
			return
		}
		if first {
			continue // the watch node may be down right now: try the next
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *loadRun) follow(ctx context.Context, n Node, first *bool, ready chan<- error) error {
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		return err
	}
	defer c.Close()
	sub, err := c.SubscribeFinalized(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, loadCallTimeout)
	fb, err := c.BlockByTag(cctx, rpc.TagFinalized, false)
	cancel()
	if err != nil {
		return err
	}
	if *first {
		r.mu.Lock()
		r.lastHeight = fb.Height
		r.mu.Unlock()
		*first = false
		ready <- nil
	} else if err := r.catchUp(ctx, c, fb.Height); err != nil {
		return err
	}
	for b := range sub.C {
		if err := r.catchUp(ctx, c, b.Height-1); err != nil {
			return err
		}
		r.final(b)
	}
	return sub.Err()
}

// catchUp fetches the final blocks after the last one seen up to height.
func (r *loadRun) catchUp(ctx context.Context, c *rpc.Client, height uint64) error {
	for {
		r.mu.Lock()
		next := r.lastHeight + 1
		r.mu.Unlock()
		if next > height {
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, loadCallTimeout)
		b, err := c.BlockByNumber(cctx, next, false)
		cancel()
		if err != nil {
			return err
		}
		r.final(b)
	}
}

// final records a final block and the latency of each of its pending
// transactions.
func (r *loadRun) final(b *rpc.Block) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if h, ok := r.heights[b.Height]; ok {
		if h != b.Hash.String() {
			r.conflicts++
		}
		return
	}
	if b.Height <= r.lastHeight && len(r.heights) > 0 {
		return
	}
	r.heights[b.Height] = b.Hash.String()
	if b.Height > r.lastHeight {
		r.lastHeight = b.Height
	}
	r.finalBlocks.Add(1)
	r.finalTxs.Add(int64(len(b.TxHashes)))
	for _, h := range b.TxHashes {
		p, ok := r.pending[h]
		if !ok {
			continue
		}
		delete(r.pending, h)
		r.seenFinal = append(r.seenFinal, FinalTx{Tx: h, Height: b.Height, Block: b.Hash.String(), Sent: p.sent})
		p.acct.outstanding.Add(-1)
		r.latencies = append(r.latencies, now.Sub(p.sent))
		r.finalized.Add(1)
		r.lastFinalAt = now
	}
}
