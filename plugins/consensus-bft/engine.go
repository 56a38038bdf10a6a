package bft

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// step is the engine's position within a round.
type step uint8

const (
	stepPropose step = iota + 1
	stepPrevote
	stepPrecommit
	// stepCommit: the height is decided; the engine waits block_interval.
	stepCommit
)

func (s step) String() string {
	switch s {
	case stepPropose:
		return "propose"
	case stepPrevote:
		return "prevote"
	case stepPrecommit:
		return "precommit"
	case stepCommit:
		return "commit"
	}
	return "new"
}

// Config is the engine's configuration.
type Config struct {
	ChainID             string
	TimeoutPropose      time.Duration
	TimeoutProposeDelta time.Duration
	TimeoutVote         time.Duration
	TimeoutVoteDelta    time.Duration
	BlockInterval       time.Duration
}

func (c *Config) proposeTimeout(r uint32) time.Duration {
	return c.TimeoutPropose + time.Duration(r)*c.TimeoutProposeDelta
}

func (c *Config) voteTimeout(r uint32) time.Duration {
	return c.TimeoutVote + time.Duration(r)*c.TimeoutVoteDelta
}

// services are the host services the engine uses. Signer may be nil for a
// node that only follows; Clock and Metrics may be nil.
type services struct {
	Chain   hostv1.ChainClient
	Network hostv1.NetworkClient
	Signer  hostv1.SignerClient
	Store   KV
	Clock   hostv1.ClockClient
	Metrics hostv1.MetricsClient
}

// Limits of the engine.
const (
	// maxAhead is how many heights above the current one early messages
	// are kept for.
	maxAhead = 4
	// maxFuture and maxFutureBytes bound the early-message buffer.
	maxFuture      = 8192
	maxFutureBytes = 32 << 20
	// maxVerified bounds the cache of verified signatures.
	maxVerified = 1 << 16
	// callTimeout bounds one host call.
	callTimeout = 30 * time.Second
	// maxBlockBytes leaves room for the proposal's own fields.
	maxBlockBytes = MaxMessageSize - 256
)

// blockData is a proposed block and what the engine learned of it.
type blockData struct {
	hash    [vote.HashSize]byte
	encoded []byte
	checked bool
	valid   bool
	fails   int
	reason  string
	from    string
	msgID   []byte
}

// voteSet holds one step's votes of one round.
type voteSet struct {
	votes map[int]*Vote
	stake map[string]uint64 // by block hash; "" is nil
	total uint64
}

func newVoteSet() *voteSet {
	return &voteSet{votes: make(map[int]*Vote), stake: make(map[string]uint64)}
}

// roundState holds a round's votes and who sent anything in it.
type roundState struct {
	prevotes, precommits *voteSet
	senders              map[int]bool
	senderStake          uint64
}

func (rs *roundState) addSender(i int, stake uint64) {
	if !rs.senders[i] {
		rs.senders[i] = true
		rs.senderStake += stake
	}
}

// fire marks rules that run once per round.
type fire struct {
	round uint32
	rule  uint8
}

const (
	ruleTimeoutPrevote = iota + 1
	ruleTimeoutPrecommit
	rulePolka
	ruleFallbackPrevote
	ruleFallbackPrecommit
)

// inbound is a decoded message from the network.
type inbound struct {
	msg  any
	from string
	id   []byte
	size int
	// checked is the set the worker verified the signature against.
	checked *ValidatorSet
}

type timeoutEvent struct {
	h    uint64
	r    uint32
	step step
}

type finalEvent struct{ block *hostv1.Block }

type nextHeightEvent struct {
	parent *hostv1.Block
	cert   []byte
}

type retryEvent struct{ h uint64 }

// resendEvent re-sends this node's messages of the current round while
// height h is undecided.
type resendEvent struct{ h uint64 }

// view is what the network workers need to pre-verify signatures.
type view struct {
	height uint64
	set    *ValidatorSet
}

// snapshot is the engine's state for Status.
type snapshot struct {
	height, final, roundsLast, votes uint64
	round                            uint32
	step                             step
	validator                        bool
	proposer                         string
	lastErr                          string
}

// engine runs Tendermint for one process. Every field below "loop state"
// belongs to the loop goroutine.
type engine struct {
	cfg       Config
	svc       services
	log       hclog.Logger
	validator bool
	self      account.Address
	// note is a fixed remark for Health and Status, set before start.
	note string

	ctx    context.Context
	cancel context.CancelFunc
	inbox  chan any
	wg     sync.WaitGroup
	cur    atomic.Pointer[view]

	vmu      sync.Mutex
	verified map[[32]byte]struct{}
	evSeen   map[[32]byte]struct{}

	smu  sync.Mutex
	snap snapshot

	sets     *setCache
	stash    *certStash
	metrics  *metricSink
	evidence atomic.Uint64

	// loop state
	h           uint64
	r           uint32
	step        step
	final       uint64
	parent      *hostv1.Block
	parentCert  []byte
	vals        *ValidatorSet
	prevVals    *ValidatorSet
	selfIdx     int
	lockedRound int32
	lockedHash  []byte
	validRound  int32
	validHash   []byte
	blocks      map[[vote.HashSize]byte]*blockData
	proposals   map[uint32]*Proposal
	rounds      map[uint32]*roundState
	fired       map[fire]bool
	ownProps    []walProposal
	ownVotes    []walVote
	walBlocks   map[[vote.HashSize]byte]bool
	future      []*inbound
	futureBytes int
	lastCommit  *Commit
	commitSent  uint64
	helped      map[string]time.Time // when each peer was last sent the decision of commitSent
	heightStart time.Time
	maxRound    uint32
	votesSeen   uint64
	restored    *walState
}

func newEngine(cfg Config, svc services, log hclog.Logger, validator bool, self account.Address) *engine {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &engine{
		cfg: cfg, svc: svc, log: log, validator: validator && svc.Signer != nil, self: self,
		ctx: ctx, cancel: cancel, inbox: make(chan any, 4096),
		verified: make(map[[32]byte]struct{}), evSeen: make(map[[32]byte]struct{}),
		sets: newSetCache(svc.Chain), stash: stash, metrics: newMetricSink(svc.Metrics),
		lockedRound: -1, validRound: -1, selfIdx: -1,
	}
	return e
}

func (e *engine) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, callTimeout)
}

// start subscribes to the topics and the chain events, restores the WAL
// and runs the loop from finalized+1.
func (e *engine) start(finalized *hostv1.Block) error {
	if finalized == nil || finalized.GetHeader() == nil || len(finalized.GetHash()) != vote.HashSize {
		return errors.New("bft: start needs the finalized block")
	}
	jobs := make(chan *hostv1.NetworkMessage, 1024)
	for _, t := range []string{TopicProposal, TopicVote, TopicEvidence} {
		ready := make(chan error, 1)
		e.wg.Add(1)
		go e.subscribe(t, jobs, ready)
		if err := <-ready; err != nil {
			e.cancel()
			e.wg.Wait()
			return err
		}
	}
	ready := make(chan error, 1)
	e.wg.Add(1)
	go e.events(ready)
	if err := <-ready; err != nil {
		e.cancel()
		e.wg.Wait()
		return err
	}
	for range max(2, runtime.GOMAXPROCS(0)) {
		e.wg.Add(1)
		go e.worker(jobs)
	}
	w, err := loadWAL(e.ctx, e.svc.Store)
	if err != nil {
		e.log.Warn("write-ahead log unreadable; starting the height afresh (the host signer still refuses conflicts)", "error", err)
	}
	if w != nil && w.Height == finalized.GetHeader().GetHeight()+1 {
		e.restored = w
	}
	e.final = finalized.GetHeader().GetHeight()
	cert, _ := e.certificateOf(finalized)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.loop(finalized, cert)
	}()
	e.metrics.start(&e.wg, e.ctx)
	return nil
}

func (e *engine) stop() {
	e.cancel()
	e.wg.Wait()
}

// post hands an event to the loop unless the engine stops.
func (e *engine) post(ev any) {
	select {
	case e.inbox <- ev:
	case <-e.ctx.Done():
	}
}

// after posts ev once d has passed on the host's Clock (Go timers when
// the host has none, or its Clock fails), so a simulated or skewed host
// clock drives the rounds as it drives the timestamps.
func (e *engine) after(d time.Duration, ev any) {
	if e.svc.Clock == nil {
		time.AfterFunc(d, func() { e.post(ev) })
		return
	}
	go func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(e.ctx, d+callTimeout)
		defer cancel()
		now, err := e.svc.Clock.Now(ctx, &hostv1.NowRequest{})
		if err == nil {
			_, err = e.svc.Clock.Sleep(ctx, &hostv1.SleepRequest{UntilUnixNano: now.GetUnixNano() + int64(d)})
		}
		if err != nil {
			if e.ctx.Err() != nil {
				return
			}
			e.log.Debug("host clock failed; timing with the plugin's own", "error", err)
			select {
			case <-time.After(d - time.Since(start)):
			case <-e.ctx.Done():
				return
			}
		}
		e.post(ev)
	}()
}

// subscribe streams one topic into jobs, resubscribing after errors.
func (e *engine) subscribe(topic string, jobs chan<- *hostv1.NetworkMessage, ready chan<- error) {
	defer e.wg.Done()
	first := true
	for backoff := 50 * time.Millisecond; e.ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
		st, err := e.svc.Network.Subscribe(e.ctx, &hostv1.SubscribeRequest{Topic: topic})
		if err == nil {
			_, err = st.Header() // the host sends it when the subscription is live
		}
		if first {
			first = false
			if err != nil {
				ready <- fmt.Errorf("bft: subscribe to %q: %w", topic, err)
				return
			}
			ready <- nil
		}
		for err == nil {
			var m *hostv1.NetworkMessage
			if m, err = st.Recv(); err == nil {
				select {
				case jobs <- m:
				case <-e.ctx.Done():
					return
				}
				backoff = 50 * time.Millisecond
			}
		}
		if e.ctx.Err() != nil {
			return
		}
		e.log.Warn("subscription ended; resubscribing", "topic", topic, "error", err)
		select {
		case <-time.After(backoff):
		case <-e.ctx.Done():
		}
	}
}

// events follows the host's chain events for catch-up.
func (e *engine) events(ready chan<- error) {
	defer e.wg.Done()
	first := true
	for backoff := 50 * time.Millisecond; e.ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
		st, err := e.svc.Chain.Events(e.ctx, &hostv1.EventsRequest{})
		if err == nil {
			_, err = st.Header()
		}
		if first {
			first = false
			if err != nil {
				ready <- fmt.Errorf("bft: chain events: %w", err)
				return
			}
			ready <- nil
		}
		for err == nil {
			var ev *hostv1.ChainEvent
			if ev, err = st.Recv(); err == nil {
				if b := ev.GetFinalized(); b != nil {
					e.post(finalEvent{block: b})
				}
			}
		}
		if e.ctx.Err() != nil {
			return
		}
		e.log.Warn("chain events ended; resubscribing", "error", err)
		select {
		case <-time.After(backoff):
		case <-e.ctx.Done():
		}
	}
}

// report tells the host a peer sent an invalid message.
func (e *engine) report(from string, id []byte, reason string) {
	if from == "" {
		return
	}
	ctx, cancel := e.call()
	defer cancel()
	if _, err := e.svc.Network.Report(ctx, &hostv1.ReportRequest{Peer: from, MessageId: id, Reason: reason}); err != nil && status.Code(err) != codes.Unimplemented {
		e.log.Debug("report peer", "peer", from, "error", err)
	}
}

// maxBatch bounds the messages a worker takes from the queue at once, and
// voteGather is how long it waits for more votes after the first.
const (
	maxBatch   = 64
	voteGather = 3 * time.Millisecond
)

// worker decodes messages and verifies signatures off the loop. It takes
// whatever is queued (never waiting for more), so a burst of votes for one
// block is checked with one aggregate pairing check instead of one per
// vote: at 16 validators vote checks were most of a node's idle CPU.
func (e *engine) worker(jobs <-chan *hostv1.NetworkMessage) {
	defer e.wg.Done()
	batch := make([]*hostv1.NetworkMessage, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case m := <-jobs:
			batch = append(batch, m)
		case <-e.ctx.Done():
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case m := <-jobs:
				batch = append(batch, m)
			default:
				break more
			}
		}
		// Votes of one step arrive within milliseconds of each other:
		// waiting briefly for the rest turns N checks into one.
		if batch[0].GetTopic() == TopicVote && len(batch) < maxBatch {
			t := time.NewTimer(voteGather)
		gather:
			for len(batch) < maxBatch {
				select {
				case m := <-jobs:
					batch = append(batch, m)
				case <-t.C:
					break gather
				case <-e.ctx.Done():
					t.Stop()
					return
				}
			}
			t.Stop()
		}
		e.handleBatch(batch)
	}
}

func (e *engine) handleBatch(batch []*hostv1.NetworkMessage) {
	ins := make([]*inbound, 0, len(batch))
	for _, m := range batch {
		if m.GetTopic() == TopicEvidence {
			e.onEvidence(m)
			continue
		}
		msg, err := Decode(m.GetData())
		if err != nil {
			e.report(m.GetFrom(), m.GetId(), err.Error())
			continue
		}
		ins = append(ins, &inbound{msg: msg, from: m.GetFrom(), id: m.GetId(), size: len(m.GetData())})
	}
	if v := e.cur.Load(); v != nil {
		e.verifyVotesTogether(v, ins)
	}
	for _, in := range ins {
		if v := e.cur.Load(); v != nil && in.checked == nil {
			var err error
			switch x := in.msg.(type) {
			case *Vote:
				if x.Height == v.height {
					err = e.verifyVote(v.set, x)
					in.checked = v.set
				}
			case *Proposal:
				if x.Height == v.height {
					err = e.verifyProposal(v.set, x)
					in.checked = v.set
				}
			}
			if err != nil {
				e.report(in.from, in.id, err.Error())
				continue
			}
		}
		e.post(in)
	}
}

// verifyVotesTogether checks the votes of the current height that sign
// the same bytes with one aggregate verification per group, and marks them
// checked. A group that fails is left for one-by-one checks, which find
// and report the bad vote.
func (e *engine) verifyVotesTogether(v *view, ins []*inbound) {
	type group struct {
		sb  []byte
		pks []bls.PublicKey
		sgs []bls.Signature
		ins []*inbound
	}
	groups := map[string]*group{}
	for _, in := range ins {
		x, ok := in.msg.(*Vote)
		if !ok || x.Height != v.height {
			continue
		}
		i, ok := v.set.Index(x.Validator)
		if !ok || !v.set.Validators[i].KeyOK {
			continue
		}
		m := x.SignMessage(e.cfg.ChainID)
		sb := m.SignBytes()
		if e.seen(sigKey(sb, x.Signature[:])) {
			in.checked = v.set
			continue
		}
		sig, err := bls.SignatureFromBytes(x.Signature[:])
		if err != nil {
			continue
		}
		g := groups[string(sb)]
		if g == nil {
			g = &group{sb: sb}
			groups[string(sb)] = g
		}
		g.pks = append(g.pks, v.set.Validators[i].Key)
		g.sgs = append(g.sgs, sig)
		g.ins = append(g.ins, in)
	}
	for _, g := range groups {
		if len(g.ins) < 2 {
			continue
		}
		agg, err := bls.AggregateSignatures(g.sgs)
		if err != nil || bls.VerifyAggregate(g.pks, g.sb, agg) != nil {
			continue
		}
		for _, in := range g.ins {
			x := in.msg.(*Vote)
			e.remember(sigKey(g.sb, x.Signature[:]))
			in.checked = v.set
		}
	}
}

// ErrSignature marks a message whose signature does not verify or whose
// signer is not a validator.
var ErrSignature = errors.New("bft: bad signature")

func sigKey(sb []byte, sig []byte) [32]byte {
	h := sha256.New()
	h.Write(sb)
	h.Write(sig)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (e *engine) seen(k [32]byte) bool {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	_, ok := e.verified[k]
	return ok
}

func (e *engine) remember(k [32]byte) {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	if len(e.verified) >= maxVerified {
		clear(e.verified)
	}
	e.verified[k] = struct{}{}
}

// verifySig checks sig on m under pk, through the cache.
func (e *engine) verifySig(pk bls.PublicKey, m vote.Message, sig []byte) error {
	sb := m.SignBytes()
	k := sigKey(sb, sig)
	if e.seen(k) {
		return nil
	}
	if err := checkSig(pk, sb, sig); err != nil {
		return fmt.Errorf("%v at %d/%d: %w", m.Step, m.Height, m.Round, err)
	}
	e.remember(k)
	return nil
}

// checkSig is one BLS verification of sig on sb under pk.
func checkSig(pk bls.PublicKey, sb, sig []byte) error {
	s, err := bls.SignatureFromBytes(sig)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if err := bls.Verify(pk, sb, s); err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return nil
}

func (e *engine) verifyVote(set *ValidatorSet, v *Vote) error {
	i, ok := set.Index(v.Validator)
	if !ok || !set.Validators[i].KeyOK {
		return fmt.Errorf("%w: %s is not a validator at height %d", ErrSignature, v.Validator, v.Height)
	}
	return e.verifySig(set.Validators[i].Key, v.SignMessage(e.cfg.ChainID), v.Signature[:])
}

func (e *engine) verifyProposal(set *ValidatorSet, p *Proposal) error {
	pv := set.Validators[set.Proposer(e.cfg.ChainID, p.Height, p.Round)]
	if !pv.KeyOK {
		return fmt.Errorf("%w: proposer %s has no usable key", ErrSignature, pv.Address)
	}
	return e.verifySig(pv.Key, p.SignMessage(e.cfg.ChainID), p.Signature[:])
}

// loop is the state machine's goroutine.
func (e *engine) loop(finalized *hostv1.Block, cert []byte) {
	e.startHeight(finalized, cert)
	for {
		select {
		case <-e.ctx.Done():
			return
		case ev := <-e.inbox:
			e.handle(ev)
		}
	}
}

func (e *engine) handle(ev any) {
	switch x := ev.(type) {
	case *inbound:
		e.onInbound(x)
	case timeoutEvent:
		e.onTimeout(x)
	case finalEvent:
		h := x.block.GetHeader().GetHeight()
		if h > e.final && h >= e.h && len(x.block.GetHash()) == vote.HashSize {
			e.log.Info("catching up to a block the host finalized", "height", h)
			cert, _ := e.certificateOf(x.block)
			e.startHeight(x.block, cert)
		}
	case nextHeightEvent:
		if x.parent.GetHeader().GetHeight() == e.h && e.step == stepCommit {
			e.startHeight(x.parent, x.cert)
		}
	case resendEvent:
		e.resend(x.h)
	case retryEvent:
		if x.h == e.h {
			if e.vals == nil {
				e.startHeight(e.parent, e.parentCert)
			} else if e.step == stepCommit {
				e.applyDecision()
			}
		}
	}
	e.publishStatus()
}

// certificateOf finds the certificate of a final block: one VerifyBlock
// checked, the host's copy, or the one this node built.
func (e *engine) certificateOf(b *hostv1.Block) ([]byte, error) {
	if b.GetHeader().GetHeight() == 0 {
		return nil, nil
	}
	if c := b.GetCertificate(); len(c) > 0 {
		return c, nil
	}
	var h [vote.HashSize]byte
	copy(h[:], b.GetHash())
	if c := e.stash.get(h); c != nil {
		return c, nil
	}
	if e.lastCommit != nil {
		if c, err := DecodeCertificate(e.lastCommit.Certificate); err == nil && c.BlockHash == h {
			return e.lastCommit.Certificate, nil
		}
	}
	ctx, cancel := e.call()
	defer cancel()
	r, err := e.svc.Chain.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Hash{Hash: b.GetHash()}}})
	if err != nil {
		return nil, err
	}
	if c := r.GetBlock().GetCertificate(); len(c) > 0 {
		return c, nil
	}
	return nil, fmt.Errorf("no certificate for block %x at height %d", b.GetHash(), b.GetHeader().GetHeight())
}

// startHeight begins the height above parent, a final block.
func (e *engine) startHeight(parent *hostv1.Block, cert []byte) {
	h := parent.GetHeader().GetHeight() + 1
	vals, err := e.sets.get(e.ctx, h)
	var prev *ValidatorSet
	if err == nil && h >= 2 {
		prev, err = e.sets.get(e.ctx, h-1)
	}
	if err != nil {
		e.setErr(fmt.Sprintf("validator set for height %d: %v", h, err))
		e.log.Warn("cannot start height; retrying", "height", h, "error", err)
		e.h, e.parent, e.parentCert, e.vals, e.step = h, parent, cert, nil, 0
		e.after(max(e.cfg.BlockInterval, 100*time.Millisecond), retryEvent{h: h})
		return
	}
	if e.h != 0 && e.step != 0 {
		e.metrics.observe("bft_rounds_per_height", float64(e.maxRound+1))
	}
	e.h, e.r, e.step = h, 0, 0
	e.final = max(e.final, h-1)
	e.parent, e.parentCert = parent, cert
	e.vals, e.prevVals = vals, prev
	e.selfIdx = -1
	if e.validator {
		if i, ok := vals.Index(e.self); ok && vals.Validators[i].KeyOK {
			e.selfIdx = i
		}
	}
	e.lockedRound, e.lockedHash, e.validRound, e.validHash = -1, nil, -1, nil
	e.blocks = make(map[[vote.HashSize]byte]*blockData)
	e.proposals = make(map[uint32]*Proposal)
	e.rounds = make(map[uint32]*roundState)
	e.fired = make(map[fire]bool)
	oldBlocks := e.walBlocks
	e.walBlocks = make(map[[vote.HashSize]byte]bool)
	e.ownProps, e.ownVotes = nil, nil
	e.heightStart, e.maxRound, e.votesSeen = time.Now(), 0, 0
	e.cur.Store(&view{height: h, set: vals})
	e.setErr("")

	if w := e.restored; w != nil && w.Height == h {
		e.restored = nil
		e.restore(w)
	} else {
		e.restored = nil
		if e.selfIdx >= 0 {
			var del [][vote.HashSize]byte
			for k := range oldBlocks {
				del = append(del, k)
			}
			if err := e.writeWAL(del...); err != nil {
				e.log.Warn("write-ahead log", "error", err)
			}
		}
		e.startRound(0)
	}
	e.after(e.resendInterval(), resendEvent{h: h})
	e.replayFuture()
	e.progress()
}

// resendInterval is how long a height may go undecided before this node
// sends its messages of the current round again: the round's vote
// timeout, so a healthy height (decided within it) sends nothing twice.
func (e *engine) resendInterval() time.Duration { return e.cfg.voteTimeout(e.r) }

// resend publishes again this node's proposal and votes of the current
// round, and re-arms itself, while the height is undecided. Gossip
// delivers each message once at most: a peer that was partitioned,
// paused or restarting when a vote went out never gets it, and if enough
// peers miss the same round, every node waits for votes nobody will send
// again. Re-sending makes progress independent of one-shot delivery, as
// CometBFT's per-peer vote gossip does; here each validator re-sends only
// its own messages (the one that could be missing and that only it can
// sign), peers drop the duplicates by signature, and the cost falls only
// on heights that are already late.
func (e *engine) resend(h uint64) {
	if h != e.h || e.vals == nil || e.step == stepCommit || e.selfIdx < 0 {
		if h == e.h && e.vals == nil {
			e.after(e.resendInterval(), resendEvent{h: h})
		}
		return
	}
	n := 0
	if p := e.proposals[e.r]; p != nil && p.Block != nil && e.proposerOf(e.r) == e.selfIdx {
		e.publish(TopicProposal, p.Encode())
		n++
	}
	// Besides this round's votes: the prevotes behind the proposal's
	// proof-of-lock round and this node's own lock and valid value, which
	// a peer needs to accept a re-proposed block (paper line 28) and which
	// it may have missed in that earlier round.
	rounds := map[uint32]bool{e.r: true}
	if p := e.proposals[e.r]; p != nil && p.POLRound >= 0 {
		rounds[uint32(p.POLRound)] = true
	}
	for _, r := range []int32{e.lockedRound, e.validRound} {
		if r >= 0 {
			rounds[uint32(r)] = true
		}
	}
	for _, ov := range e.ownVotes {
		if rounds[ov.Round] && (ov.Round == e.r || ov.Step == vote.StepPrevote) {
			v := &Vote{Height: e.h, Round: ov.Round, Step: ov.Step, BlockHash: ov.BlockHash, Validator: e.self, Signature: ov.Signature}
			e.publish(TopicVote, v.Encode())
			n++
		}
	}
	if n > 0 {
		e.metrics.add("bft_resent_total", float64(n))
		e.log.Debug("height undecided; re-sent this round's messages", "height", e.h, "round", e.r, "messages", n)
	}
	e.after(e.resendInterval(), resendEvent{h: h})
}

// restore resumes a height from the write-ahead log after a restart.
func (e *engine) restore(w *walState) {
	e.log.Info("resuming from the write-ahead log", "height", w.Height, "round", w.Round, "step", w.Step, "locked_round", w.LockedRound)
	e.r, e.step = w.Round, w.Step
	if e.step == stepCommit {
		e.step = stepPrecommit // decided but not finalized: decide again
	}
	e.lockedRound, e.lockedHash = w.LockedRound, w.LockedHash
	e.validRound, e.validHash = w.ValidRound, w.ValidHash
	e.ownProps, e.ownVotes = w.Proposals, w.Votes
	load := func(h []byte) {
		if len(h) != vote.HashSize {
			return
		}
		var k [vote.HashSize]byte
		copy(k[:], h)
		if e.blocks[k] != nil {
			return
		}
		ctx, cancel := e.call()
		defer cancel()
		b, err := loadWALBlock(ctx, e.svc.Store, k)
		if err != nil || b == nil {
			return
		}
		e.blocks[k] = &blockData{hash: k, encoded: b}
		e.walBlocks[k] = true
	}
	load(e.lockedHash)
	load(e.validHash)
	for _, p := range w.Proposals {
		load(p.BlockHash[:])
		bd := e.blocks[p.BlockHash]
		prop := &Proposal{Height: e.h, Round: p.Round, POLRound: p.POLRound, BlockHash: p.BlockHash, Signature: p.Signature}
		if bd != nil {
			prop.Block = bd.encoded
		}
		e.proposals[p.Round] = prop
		if e.selfIdx >= 0 {
			e.round(p.Round).addSender(e.selfIdx, e.vals.Validators[e.selfIdx].Stake)
		}
		if p.Round == e.r && prop.Block != nil {
			e.publish(TopicProposal, prop.Encode())
		}
	}
	if e.selfIdx >= 0 {
		for _, ov := range w.Votes {
			v := &Vote{Height: e.h, Round: ov.Round, Step: ov.Step, BlockHash: ov.BlockHash, Validator: e.self, Signature: ov.Signature}
			e.addVote(v, e.selfIdx)
			if ov.Round == e.r {
				e.publish(TopicVote, v.Encode())
			}
		}
	}
	// Votes received before the restart are gone, so the rule that
	// schedules this step's timeout may never fire again: schedule it now.
	switch e.step {
	case stepPropose:
		e.after(e.cfg.proposeTimeout(e.r), timeoutEvent{e.h, e.r, stepPropose})
	case stepPrevote:
		e.fired[fire{e.r, ruleTimeoutPrevote}] = true
		e.after(e.cfg.voteTimeout(e.r), timeoutEvent{e.h, e.r, stepPrevote})
	default:
		e.fired[fire{e.r, ruleTimeoutPrecommit}] = true
		e.after(e.cfg.voteTimeout(e.r), timeoutEvent{e.h, e.r, stepPrecommit})
	}
}

func (e *engine) round(r uint32) *roundState {
	rs := e.rounds[r]
	if rs == nil {
		rs = &roundState{prevotes: newVoteSet(), precommits: newVoteSet(), senders: make(map[int]bool)}
		e.rounds[r] = rs
	}
	return rs
}

func (e *engine) proposerOf(r uint32) int { return e.vals.Proposer(e.cfg.ChainID, e.h, r) }

// startRound is StartRound of the Tendermint paper.
func (e *engine) startRound(r uint32) {
	e.r, e.step = r, stepPropose
	e.maxRound = max(e.maxRound, r)
	if e.selfIdx >= 0 && e.proposerOf(r) == e.selfIdx {
		if e.propose() {
			return
		}
	}
	e.after(e.cfg.proposeTimeout(r), timeoutEvent{e.h, r, stepPropose})
}

// "Every sequencer proves" needs nothing from the engine: each validator's
// host registers it as a prover, proves the jobs the market assigns to it
// and puts the proof transactions in its mempool; BuildBlock includes them
// and lists them in Header.Proofs, which Validate recomputes. So the
// proposer passes no proofs of its own (docs/market.md).

func (e *engine) now() time.Time {
	if e.svc.Clock != nil {
		ctx, cancel := e.call()
		defer cancel()
		if r, err := e.svc.Clock.Now(ctx, &hostv1.NowRequest{}); err == nil {
			return time.Unix(0, r.GetUnixNano())
		}
	}
	return time.Now()
}

// propose builds (or re-proposes) this round's block; false if it could
// not, so the round's propose timeout runs.
func (e *engine) propose() bool {
	for _, p := range e.ownProps { // signed before a restart: never sign another
		if p.Round == e.r {
			if pr := e.proposals[e.r]; pr != nil && pr.Block != nil {
				e.publish(TopicProposal, pr.Encode())
			}
			return false
		}
	}
	var bd *blockData
	pol := int32(-1)
	if e.validHash != nil {
		bd = e.blocks[[vote.HashSize]byte(e.validHash)]
		pol = e.validRound
		if bd == nil || bd.encoded == nil {
			e.log.Warn("cannot re-propose the valid block: its content is missing", "height", e.h, "round", e.r)
			return false
		}
	} else {
		if e.h > 1 && len(e.parentCert) == 0 {
			e.log.Warn("no certificate of the parent to include; not proposing", "height", e.h, "round", e.r)
			return false
		}
		var err error
		if bd, err = e.build(); err != nil {
			e.setErr(err.Error())
			e.log.Warn("build block", "height", e.h, "error", err)
			return false
		}
		e.blocks[bd.hash] = bd
	}
	p := &Proposal{Height: e.h, Round: e.r, POLRound: pol, BlockHash: bd.hash, Block: bd.encoded}
	sig, err := e.sign(vote.StepProposal, bd.hash[:], polExtra(pol))
	if err != nil {
		e.log.Warn("sign proposal", "height", e.h, "round", e.r, "error", err)
		return false
	}
	p.Signature = sig
	e.ownProps = append(e.ownProps, walProposal{Round: e.r, POLRound: pol, BlockHash: bd.hash, Signature: sig})
	if err := e.writeWAL(); err != nil {
		e.log.Error("write-ahead log; not sending the proposal", "error", err)
		return false
	}
	e.publish(TopicProposal, p.Encode())
	e.proposals[e.r] = p
	e.round(e.r).addSender(e.selfIdx, e.vals.Validators[e.selfIdx].Stake)
	e.metrics.put(&hostv1.Metric{Name: "bft_proposals_total", Type: hostv1.Metric_TYPE_COUNTER, Value: 1})
	return true
}

func (e *engine) build() (*blockData, error) {
	var maxGas uint64
	for try := 0; try < 6; try++ {
		ctx, cancel := e.call()
		r, err := e.svc.Chain.BuildBlock(ctx, &hostv1.BuildBlockRequest{
			ParentHash: e.parent.GetHash(), TimestampMs: e.now().UnixMilli(), MaxGas: maxGas,
			Proposer: e.self[:], ConsensusData: e.parentCert,
		})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("build block at height %d: %w", e.h, err)
		}
		b := r.GetBlock()
		if len(b.GetHash()) != vote.HashSize || len(b.GetEncoded()) == 0 {
			return nil, fmt.Errorf("build block at height %d: the host returned no hash or encoding", e.h)
		}
		if len(b.GetEncoded()) <= maxBlockBytes {
			bd := &blockData{encoded: b.GetEncoded(), checked: true, valid: true}
			copy(bd.hash[:], b.GetHash())
			return bd, nil
		}
		// Too large for one gossip message: ask for less gas.
		used := b.GetHeader().GetGasUsed()
		if used < 2 {
			break
		}
		maxGas = used / 2
	}
	return nil, fmt.Errorf("build block at height %d: no block fits in %d bytes", e.h, maxBlockBytes)
}

// errRefused is a signature the engine or the host refused to make
// because it would conflict with one already made.
var errRefused = errors.New("bft: refusing to sign a conflicting message")

func (e *engine) sign(st vote.Step, hash, extra []byte) ([bls.SignatureSize]byte, error) {
	var sig [bls.SignatureSize]byte
	req := &hostv1.SignConsensusRequest{Height: e.h, Round: e.r, Step: hostv1.SignConsensusRequest_Step(st), BlockHash: hash, Extra: extra}
	ctx, cancel := e.call()
	defer cancel()
	r, err := e.svc.Signer.SignConsensus(ctx, req)
	if status.Code(err) == codes.FailedPrecondition {
		return sig, fmt.Errorf("%w: %w", errRefused, err)
	}
	if err != nil {
		return sig, fmt.Errorf("sign %v at %d/%d: %w", st, e.h, e.r, err)
	}
	m := vote.Message{ChainID: e.cfg.ChainID, Height: e.h, Round: e.r, Step: st, BlockHash: hash, Extra: extra}
	if !bytes.Equal(r.GetSignBytes(), m.SignBytes()) {
		return sig, fmt.Errorf("sign %v at %d/%d: the host signed other bytes (is the chain id %q right?)", st, e.h, e.r, e.cfg.ChainID)
	}
	if len(r.GetSignature()) != bls.SignatureSize {
		return sig, fmt.Errorf("sign %v: signature of %d bytes", st, len(r.GetSignature()))
	}
	copy(sig[:], r.GetSignature())
	e.remember(sigKey(m.SignBytes(), sig[:]))
	return sig, nil
}

// castVote signs, logs and sends this node's vote for the current round
// and step. A validator that already signed the slot re-sends that vote
// and never signs another.
func (e *engine) castVote(st vote.Step, hash []byte) {
	if e.selfIdx < 0 {
		return
	}
	for _, ov := range e.ownVotes {
		if ov.Round == e.r && ov.Step == st {
			if !bytes.Equal(ov.BlockHash, hash) {
				e.log.Warn("not signing a conflicting vote", "height", e.h, "round", e.r, "step", st)
			}
			v := &Vote{Height: e.h, Round: e.r, Step: st, BlockHash: ov.BlockHash, Validator: e.self, Signature: ov.Signature}
			e.publish(TopicVote, v.Encode())
			return
		}
	}
	sig, err := e.sign(st, hash, nil)
	if err != nil {
		e.log.Warn("vote not signed", "height", e.h, "round", e.r, "step", st, "error", err)
		return
	}
	e.ownVotes = append(e.ownVotes, walVote{Round: e.r, Step: st, BlockHash: hash, Signature: sig})
	if err := e.writeWAL(); err != nil {
		e.log.Error("write-ahead log; not sending the vote", "error", err)
		return
	}
	v := &Vote{Height: e.h, Round: e.r, Step: st, BlockHash: hash, Validator: e.self, Signature: sig}
	e.publish(TopicVote, v.Encode())
	e.addVote(v, e.selfIdx)
}

// writeWAL persists the height's state and the blocks it refers to in one
// batch, deleting blocks of old heights.
func (e *engine) writeWAL(del ...[vote.HashSize]byte) error {
	if e.svc.Store == nil || e.selfIdx < 0 {
		return nil
	}
	w := &walState{Height: e.h, Round: e.r, Step: max(e.step, stepPropose), LockedRound: e.lockedRound, LockedHash: e.lockedHash,
		ValidRound: e.validRound, ValidHash: e.validHash, Proposals: e.ownProps, Votes: e.ownVotes}
	if len(w.Votes) > maxWALMessages {
		w.Votes = w.Votes[len(w.Votes)-maxWALMessages:]
	}
	if len(w.Proposals) > maxWALMessages {
		w.Proposals = w.Proposals[len(w.Proposals)-maxWALMessages:]
	}
	ops := []sdk.Op{{Key: walKeyState, Value: w.encode()}}
	var added [][vote.HashSize]byte
	want := [][]byte{e.lockedHash, e.validHash}
	for _, p := range e.ownProps {
		want = append(want, p.BlockHash[:])
	}
	for _, h := range want {
		if len(h) != vote.HashSize {
			continue
		}
		k := [vote.HashSize]byte(h)
		if bd := e.blocks[k]; bd != nil && bd.encoded != nil && !e.walBlocks[k] {
			ops = append(ops, sdk.Op{Key: walKeyBlock(k), Value: bd.encoded})
			added = append(added, k)
		}
	}
	for _, k := range del {
		ops = append(ops, sdk.Op{Key: walKeyBlock(k), Delete: true})
	}
	ctx, cancel := e.call()
	defer cancel()
	if err := e.svc.Store.Batch(ctx, ops); err != nil {
		return err
	}
	for _, k := range added {
		e.walBlocks[k] = true
	}
	return nil
}

func (e *engine) publish(topic string, data []byte) {
	ctx, cancel := e.call()
	defer cancel()
	if _, err := e.svc.Network.Publish(ctx, &hostv1.PublishRequest{Topic: topic, Data: data}); err != nil {
		e.log.Warn("publish", "topic", topic, "error", err)
	}
}

// onInbound routes a decoded message by height.
func (e *engine) onInbound(in *inbound) {
	var h uint64
	switch x := in.msg.(type) {
	case *Vote:
		h = x.Height
	case *Proposal:
		h = x.Height
	case *Commit:
		c, err := DecodeCertificate(x.Certificate)
		if err != nil {
			e.report(in.from, in.id, err.Error())
			return
		}
		h = c.Height
	}
	switch {
	case e.vals == nil || h > e.h:
		if h > e.h && h <= e.h+maxAhead {
			e.buffer(in)
		}
		return
	case h < e.h:
		e.helpLagging(in, h)
		return
	}
	switch x := in.msg.(type) {
	case *Vote:
		e.onVote(in, x)
	case *Proposal:
		e.onProposal(in, x)
	case *Commit:
		e.onCommit(in, x)
	}
	e.progress()
}

func (e *engine) buffer(in *inbound) {
	if len(e.future) >= maxFuture || e.futureBytes+in.size > maxFutureBytes {
		return
	}
	e.future = append(e.future, in)
	e.futureBytes += in.size
}

func (e *engine) replayFuture() {
	old := e.future
	e.future, e.futureBytes = nil, 0
	for _, in := range old {
		e.onInbound(in)
	}
}

// helpLagging sends the last decision straight to a peer that is still
// on that height in a later round than the one that decided it: late votes
// of the deciding round are normal and need no help. The decision carries
// the whole block, so it goes to that peer only, at most once per vote
// timeout (a direct send can be lost too), never by gossip (sixteen validators re-gossiping every block cost ~25 MB per node
// per block). Peers further behind catch up through the host's sync.
func (e *engine) helpLagging(in *inbound, h uint64) {
	if e.lastCommit == nil || h+1 != e.h || in.from == "" {
		return
	}
	var r uint32
	switch x := in.msg.(type) {
	case *Vote:
		r = x.Round
	case *Proposal:
		r = x.Round
	default:
		return
	}
	c, err := DecodeCertificate(e.lastCommit.Certificate)
	if err != nil || r <= c.Round {
		return
	}
	if e.commitSent != h {
		e.commitSent, e.helped = h, map[string]time.Time{}
	}
	// Once per vote timeout per peer, not once: the first may be lost.
	if last, ok := e.helped[in.from]; ok && time.Since(last) < max(e.cfg.TimeoutVote, 50*time.Millisecond) {
		return
	}
	e.helped[in.from] = time.Now()
	ctx, cancel := e.call()
	defer cancel()
	if _, err := e.svc.Network.Send(ctx, &hostv1.SendRequest{Peer: in.from, Topic: TopicProposal, Data: e.lastCommit.Encode()}); err != nil {
		e.log.Debug("sending the last decision to a lagging peer", "peer", in.from, "height", h, "error", err)
	}
}

func (e *engine) onVote(in *inbound, v *Vote) {
	i, ok := e.vals.Index(v.Validator)
	if !ok {
		e.report(in.from, in.id, fmt.Sprintf("vote from %s, not a validator at height %d", v.Validator, e.h))
		return
	}
	if in.checked != e.vals {
		if err := e.verifyVote(e.vals, v); err != nil {
			e.report(in.from, in.id, err.Error())
			return
		}
	}
	e.votesSeen++
	e.addVote(v, i)
}

// addVote counts a verified vote; a second, different vote of the same
// validator for the same slot is evidence.
func (e *engine) addVote(v *Vote, i int) {
	rs := e.round(v.Round)
	vs := rs.prevotes
	if v.Step == vote.StepPrecommit {
		vs = rs.precommits
	}
	if old, ok := vs.votes[i]; ok {
		if !bytes.Equal(old.BlockHash, v.BlockHash) {
			e.equivocation(v.Validator, old.SignMessage(e.cfg.ChainID), old.Signature[:], v.SignMessage(e.cfg.ChainID), v.Signature[:])
		}
		return
	}
	st := e.vals.Validators[i].Stake
	vs.votes[i] = v
	vs.stake[string(v.BlockHash)] += st
	vs.total += st
	rs.addSender(i, st)
}

func (e *engine) onProposal(in *inbound, p *Proposal) {
	pi := e.proposerOf(p.Round)
	if in.checked != e.vals {
		if err := e.verifyProposal(e.vals, p); err != nil {
			e.report(in.from, in.id, err.Error())
			return
		}
	}
	if old := e.proposals[p.Round]; old != nil {
		if old.BlockHash != p.BlockHash || old.POLRound != p.POLRound {
			e.equivocation(e.vals.Validators[pi].Address, old.SignMessage(e.cfg.ChainID), old.Signature[:], p.SignMessage(e.cfg.ChainID), p.Signature[:])
			return
		}
		if old.Block != nil {
			return
		}
	}
	e.proposals[p.Round] = p
	bd := e.blocks[p.BlockHash]
	if bd == nil {
		bd = &blockData{hash: p.BlockHash}
		e.blocks[p.BlockHash] = bd
	}
	if bd.encoded == nil {
		bd.encoded, bd.from, bd.msgID = p.Block, in.from, in.id
	}
	e.round(p.Round).addSender(pi, e.vals.Validators[pi].Stake)
}

// onCommit decides the height from a certificate and block a peer sent.
func (e *engine) onCommit(in *inbound, c *Commit) {
	if e.step == stepCommit {
		return
	}
	cert, _ := DecodeCertificate(c.Certificate) // decoded in onInbound
	if err := cert.Verify(e.cfg.ChainID, e.vals); err != nil {
		e.report(in.from, in.id, err.Error())
		return
	}
	bd := e.blocks[cert.BlockHash]
	if bd == nil {
		bd = &blockData{hash: cert.BlockHash}
		e.blocks[cert.BlockHash] = bd
	}
	if bd.encoded == nil {
		bd.encoded, bd.from, bd.msgID = c.Block, in.from, in.id
	}
	if !e.isValid(bd) {
		return
	}
	e.decide(cert, bd)
}

// isValid is valid(v) of the paper: the host re-executes the block, and
// the engine checks its height, parent and the parent's certificate.
func (e *engine) isValid(bd *blockData) bool {
	if bd == nil {
		return false
	}
	if bd.checked {
		return bd.valid
	}
	if bd.encoded == nil {
		return false
	}
	ctx, cancel := e.call()
	r, err := e.svc.Chain.ValidateBlock(ctx, &hostv1.ValidateBlockRequest{Encoded: bd.encoded})
	cancel()
	if err != nil {
		bd.fails++
		if bd.fails >= 3 {
			bd.checked, bd.reason = true, err.Error()
		}
		e.log.Warn("validate block", "height", e.h, "error", err)
		return false
	}
	bd.checked = true
	reason := ""
	if !r.GetValid() {
		reason = r.GetReason()
	} else {
		reason = e.checkHeader(bd, r.GetBlock())
	}
	if reason != "" {
		bd.reason = reason
		e.log.Info("invalid block proposed", "height", e.h, "hash", fmt.Sprintf("%x", bd.hash), "reason", reason)
		e.report(bd.from, bd.msgID, "invalid block: "+reason)
		return false
	}
	bd.valid = true
	return true
}

func (e *engine) checkHeader(bd *blockData, b *hostv1.Block) string {
	hd := b.GetHeader()
	switch {
	case !bytes.Equal(b.GetHash(), bd.hash[:]):
		return fmt.Sprintf("block hashes to %x, not %x", b.GetHash(), bd.hash)
	case hd.GetHeight() != e.h:
		return fmt.Sprintf("block at height %d, deciding %d", hd.GetHeight(), e.h)
	case !bytes.Equal(hd.GetParentHash(), e.parent.GetHash()):
		return fmt.Sprintf("parent %x is not the final block %x", hd.GetParentHash(), e.parent.GetHash())
	}
	if a := hd.GetProposer(); len(a) != account.AddressSize {
		return "no proposer"
	} else if _, ok := e.vals.Index(account.Address(a)); !ok {
		return fmt.Sprintf("proposer %x is not a validator", a)
	}
	if err := e.checkParentCert(hd.GetConsensusData()); err != nil {
		return err.Error()
	}
	return ""
}

// checkParentCert checks that cd is a certificate of the parent.
func (e *engine) checkParentCert(cd []byte) error {
	if e.h == 1 {
		if len(cd) != 0 {
			return fmt.Errorf("%w: the first block carries consensus data", ErrCertificateRejected)
		}
		return nil
	}
	if len(cd) > 0 && bytes.Equal(cd, e.parentCert) {
		return nil // checked when this node decided or synced the parent
	}
	c, err := DecodeCertificate(cd)
	if err != nil {
		return fmt.Errorf("consensus data: %w", err)
	}
	if c.Height != e.h-1 || !bytes.Equal(c.BlockHash[:], e.parent.GetHash()) {
		return fmt.Errorf("%w: consensus data certifies %x at %d, not the parent", ErrCertificateRejected, c.BlockHash, c.Height)
	}
	if err := c.Verify(e.cfg.ChainID, e.prevVals); err != nil {
		return fmt.Errorf("consensus data: %w", err)
	}
	if len(e.parentCert) == 0 {
		e.parentCert = cd
	}
	return nil
}

// progress applies the paper's upon-rules until none fires.
func (e *engine) progress() {
	for e.vals != nil && e.step != stepCommit && e.step != 0 && e.ctx.Err() == nil {
		if !e.rule() {
			return
		}
	}
}

// rule applies the first upon-rule that fires and reports whether one did.
func (e *engine) rule() bool {
	total := e.vals.Total
	// Decision (paper line 49), in any round.
	for rr, rs := range e.rounds {
		for hs, st := range rs.precommits.stake {
			if hs == "" || !Quorum(st, total) {
				continue
			}
			bd := e.blocks[[vote.HashSize]byte([]byte(hs))]
			if bd == nil || !e.isValid(bd) {
				continue
			}
			sigs := make(map[int][]byte)
			for i, v := range rs.precommits.votes {
				if bytes.Equal(v.BlockHash, bd.hash[:]) {
					sigs[i] = v.Signature[:]
				}
			}
			cert, err := aggregate(e.h, rr, bd.hash[:], len(e.vals.Validators), sigs)
			if err != nil {
				e.log.Error("aggregate precommits", "error", err)
				continue
			}
			e.decide(cert, bd)
			return true
		}
	}
	// Round skip (line 55): more than a third of the stake is in a later round.
	var skip uint32
	for rr, rs := range e.rounds {
		if rr > e.r && rr > skip && oneThird(rs.senderStake, total) {
			skip = rr
		}
	}
	if skip > 0 {
		e.startRound(skip)
		return true
	}
	rs := e.round(e.r)
	p := e.proposals[e.r]
	var bd *blockData
	if p != nil {
		bd = e.blocks[p.BlockHash]
	}
	// Lines 22 and 28: prevote on the proposal.
	if e.step == stepPropose && p != nil {
		if p.POLRound < 0 {
			ok := e.isValid(bd) && (e.lockedRound < 0 || bytes.Equal(e.lockedHash, p.BlockHash[:]))
			e.step = stepPrevote
			e.prevote(ok, p)
			return true
		}
		if pol := e.rounds[uint32(p.POLRound)]; pol != nil && Quorum(pol.prevotes.stake[string(p.BlockHash[:])], total) {
			ok := e.isValid(bd) && (e.lockedRound <= p.POLRound || bytes.Equal(e.lockedHash, p.BlockHash[:]))
			e.step = stepPrevote
			e.prevote(ok, p)
			return true
		}
	}
	// Line 34: any 2f+1 prevotes start the prevote timeout.
	if e.step == stepPrevote && Quorum(rs.prevotes.total, total) && !e.fired[fire{e.r, ruleTimeoutPrevote}] {
		e.fired[fire{e.r, ruleTimeoutPrevote}] = true
		e.after(e.cfg.voteTimeout(e.r), timeoutEvent{e.h, e.r, stepPrevote})
		return true
	}
	// Line 36: a polka for the proposal locks it.
	if p != nil && e.step >= stepPrevote && !e.fired[fire{e.r, rulePolka}] &&
		Quorum(rs.prevotes.stake[string(p.BlockHash[:])], total) && e.isValid(bd) {
		e.fired[fire{e.r, rulePolka}] = true
		e.validRound, e.validHash = int32(e.r), p.BlockHash[:]
		if e.step == stepPrevote {
			e.lockedRound, e.lockedHash = int32(e.r), p.BlockHash[:]
			e.precommit(p.BlockHash[:])
		}
		return true
	}
	// Line 44: a polka for nil.
	if e.step == stepPrevote && Quorum(rs.prevotes.stake[""], total) {
		e.precommit(nil)
		return true
	}
	// Line 47: any 2f+1 precommits start the precommit timeout.
	if Quorum(rs.precommits.total, total) && !e.fired[fire{e.r, ruleTimeoutPrecommit}] {
		e.fired[fire{e.r, ruleTimeoutPrecommit}] = true
		e.after(e.cfg.voteTimeout(e.r), timeoutEvent{e.h, e.r, stepPrecommit})
		return true
	}
	return false
}

func (e *engine) prevote(ok bool, p *Proposal) {
	if ok {
		e.castVote(vote.StepPrevote, p.BlockHash[:])
	} else {
		e.castVote(vote.StepPrevote, nil)
	}
	// Not in the paper: if prevotes are lost, 2f+1 of them may never
	// arrive and line 34 never fires; a timeout only costs a round.
	if !e.fired[fire{e.r, ruleFallbackPrevote}] {
		e.fired[fire{e.r, ruleFallbackPrevote}] = true
		e.after(e.cfg.voteTimeout(e.r)+e.cfg.proposeTimeout(e.r), timeoutEvent{e.h, e.r, stepPrevote})
	}
}

// precommit moves to the precommit step and casts the precommit for hash
// (nil: for nil). Not in the paper: it also arms the precommit timeout,
// whatever rule precommitted. Precommits are sent once; if a partition
// loses them, 2f+1 never arrive, line 47 never fires, and without this
// timer the node would wait in this round forever, even after the network
// heals. A timeout costs a round; waiting costs the chain.
func (e *engine) precommit(hash []byte) {
	e.step = stepPrecommit
	e.castVote(vote.StepPrecommit, hash)
	if !e.fired[fire{e.r, ruleFallbackPrecommit}] {
		e.fired[fire{e.r, ruleFallbackPrecommit}] = true
		e.after(e.cfg.voteTimeout(e.r)+e.cfg.proposeTimeout(e.r), timeoutEvent{e.h, e.r, stepPrecommit})
	}
}

func (e *engine) onTimeout(t timeoutEvent) {
	if t.h != e.h || t.r != e.r || e.vals == nil {
		return
	}
	switch {
	case t.step == stepPropose && e.step == stepPropose:
		e.metrics.count("bft_timeouts_total", "propose")
		e.step = stepPrevote
		e.castVote(vote.StepPrevote, nil)
		if !e.fired[fire{e.r, ruleFallbackPrevote}] {
			e.fired[fire{e.r, ruleFallbackPrevote}] = true
			e.after(e.cfg.voteTimeout(e.r)+e.cfg.proposeTimeout(e.r), timeoutEvent{e.h, e.r, stepPrevote})
		}
	case t.step == stepPrevote && e.step == stepPrevote:
		e.metrics.count("bft_timeouts_total", "prevote")
		e.precommit(nil)
	case t.step == stepPrecommit && e.step != stepCommit:
		e.metrics.count("bft_timeouts_total", "precommit")
		e.startRound(e.r + 1)
	default:
		return
	}
	e.progress()
}

// decide commits, heads and finalizes the block with its certificate.
func (e *engine) decide(cert *Certificate, bd *blockData) {
	e.step = stepCommit
	e.lastCommit = &Commit{Certificate: cert.Encode(), Block: bd.encoded}
	e.log.Debug("decided", "height", e.h, "round", cert.Round, "hash", fmt.Sprintf("%x", bd.hash))
	if e.selfIdx >= 0 {
		if err := e.writeWAL(); err != nil {
			e.log.Warn("write-ahead log", "error", err)
		}
	}
	e.applyDecision()
}

func (e *engine) applyDecision() {
	c := e.lastCommit
	cert, _ := DecodeCertificate(c.Certificate)
	ctx, cancel := e.call()
	defer cancel()
	var blk *hostv1.Block
	r, err := e.svc.Chain.CommitBlock(ctx, &hostv1.CommitBlockRequest{Encoded: c.Block})
	if status.Code(err) == codes.AlreadyExists {
		err = nil
	}
	if err == nil {
		blk = r.GetBlock()
		if blk == nil {
			blk = &hostv1.Block{}
		}
		blk.Hash = cert.BlockHash[:]
		_, err = e.svc.Chain.SetHead(ctx, &hostv1.SetHeadRequest{Hash: cert.BlockHash[:]})
	}
	if err == nil {
		_, err = e.svc.Chain.Finalize(ctx, &hostv1.FinalizeRequest{Hash: cert.BlockHash[:], Certificate: c.Certificate})
	}
	if err != nil {
		if e.ctx.Err() != nil {
			return
		}
		e.setErr(fmt.Sprintf("apply decision at height %d: %v", e.h, err))
		e.log.Warn("apply decision; retrying", "height", e.h, "error", err)
		e.after(max(e.cfg.BlockInterval, 100*time.Millisecond), retryEvent{h: e.h})
		return
	}
	if blk.Header == nil {
		blk.Header = &hostv1.Header{Height: e.h}
	}
	e.final = e.h
	e.metrics.observe("bft_decision_seconds", time.Since(e.heightStart).Seconds())
	e.metrics.set("bft_final_height", float64(e.h))
	e.after(e.cfg.BlockInterval, nextHeightEvent{parent: blk, cert: c.Certificate})
}

// equivocation builds evidence from two validly signed conflicting
// messages, gossips it and hands it to the host.
func (e *engine) equivocation(who account.Address, a vote.Message, sigA []byte, b vote.Message, sigB []byte) {
	ev, err := vote.NewEvidence(who, a, sigA, b, sigB)
	if err != nil {
		e.log.Warn("evidence", "error", err)
		return
	}
	enc := ev.Encode()
	if !e.firstEvidence(enc) {
		return
	}
	e.log.Warn("validator signed two conflicting messages", "validator", who, "height", a.Height, "round", a.Round, "step", a.Step)
	e.publish(TopicEvidence, enc)
	e.reportEvidence(enc)
}

func (e *engine) firstEvidence(enc []byte) bool {
	k := sha256.Sum256(enc)
	e.vmu.Lock()
	defer e.vmu.Unlock()
	if _, ok := e.evSeen[k]; ok {
		return false
	}
	if len(e.evSeen) >= maxVerified {
		clear(e.evSeen)
	}
	e.evSeen[k] = struct{}{}
	return true
}

func (e *engine) evidenceSeen(enc []byte) bool {
	k := sha256.Sum256(enc)
	e.vmu.Lock()
	defer e.vmu.Unlock()
	_, ok := e.evSeen[k]
	return ok
}

func (e *engine) reportEvidence(enc []byte) {
	e.evidence.Add(1)
	ctx, cancel := e.call()
	defer cancel()
	if _, err := e.svc.Chain.ReportEvidence(ctx, &hostv1.ReportEvidenceRequest{Evidence: enc}); err != nil && status.Code(err) != codes.Unimplemented {
		e.log.Warn("report evidence", "error", err)
	}
}

// onEvidence checks gossiped evidence against the offender's key at its
// height and hands it to the host.
func (e *engine) onEvidence(m *hostv1.NetworkMessage) {
	ev, err := vote.DecodeEvidence(m.GetData())
	if err != nil {
		e.report(m.GetFrom(), m.GetId(), err.Error())
		return
	}
	if e.evidenceSeen(m.GetData()) {
		return
	}
	set, err := e.sets.get(e.ctx, ev.Height())
	if err != nil {
		e.log.Debug("evidence for a height without a validator set", "height", ev.Height(), "error", err)
		return
	}
	i, ok := set.Index(ev.Validator)
	if !ok || !set.Validators[i].KeyOK {
		e.report(m.GetFrom(), m.GetId(), "evidence against a non-validator")
		return
	}
	if err := ev.Verify(e.cfg.ChainID, set.Validators[i].Key); err != nil {
		e.report(m.GetFrom(), m.GetId(), err.Error())
		return
	}
	// Marked only now: evidence this node cannot check yet (a height
	// without a set) must not hide the same offence detected later.
	if e.firstEvidence(m.GetData()) {
		e.reportEvidence(m.GetData())
	}
}

func (e *engine) setErr(s string) {
	e.smu.Lock()
	e.snap.lastErr = s
	e.smu.Unlock()
}

func (e *engine) publishStatus() {
	s := snapshot{height: e.h, round: e.r, step: e.step, final: e.final, validator: e.selfIdx >= 0,
		roundsLast: uint64(e.maxRound) + 1, votes: e.votesSeen}
	if e.vals != nil && e.step != 0 {
		s.proposer = e.vals.Validators[e.proposerOf(e.r)].Address.String()
	}
	e.smu.Lock()
	s.lastErr = e.snap.lastErr
	e.snap = s
	e.smu.Unlock()
}

func (e *engine) status() snapshot {
	e.smu.Lock()
	defer e.smu.Unlock()
	return e.snap
}

// setCache keeps the validator sets of recent heights.
type setCache struct {
	chain hostv1.ChainClient
	mu    sync.Mutex
	m     map[uint64]*ValidatorSet
}

func newSetCache(c hostv1.ChainClient) *setCache {
	return &setCache{chain: c, m: make(map[uint64]*ValidatorSet)}
}

// get returns the set that decides height h: the set after block h-1.
func (c *setCache) get(ctx context.Context, h uint64) (*ValidatorSet, error) {
	if h == 0 {
		return nil, fmt.Errorf("%w: no set decides height 0", ErrValidatorSet)
	}
	c.mu.Lock()
	s := c.m[h]
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.chain.ValidatorSet(cctx, &hostv1.ValidatorSetRequest{Height: h - 1})
	if err != nil {
		return nil, err
	}
	if s, err = NewValidatorSet(r.GetSet()); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= 64 {
		clear(c.m)
	}
	c.m[h] = s
	c.mu.Unlock()
	return s, nil
}

// certStash keeps certificates VerifyBlock accepted, by block hash, so a
// block the host syncs and finalizes can be the parent of a proposal.
type certStash struct {
	mu    sync.Mutex
	m     map[[vote.HashSize]byte][]byte
	order [][vote.HashSize]byte
}

func newCertStash() *certStash { return &certStash{m: make(map[[vote.HashSize]byte][]byte)} }

func (s *certStash) put(h [vote.HashSize]byte, c []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; !ok {
		s.order = append(s.order, h)
	}
	s.m[h] = c
	for len(s.order) > 256 {
		delete(s.m, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *certStash) get(h [vote.HashSize]byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[h]
}
