package bft

import (
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

// stepWaiting is what Status shows while a height waits for a transaction.
const stepWaiting = "waiting for transactions"

func (s snapshot) stepName() string {
	if s.waiting {
		return stepWaiting
	}
	return s.step.String()
}

// poolUnknown is engine.pool before the host reports the mempool's size
// (and forever on a host without host.chain.mempool).
const poolUnknown = -1

// Config is the engine's configuration.
type Config struct {
	ChainID             string
	TimeoutPropose      time.Duration
	TimeoutProposeDelta time.Duration
	TimeoutVote         time.Duration
	TimeoutVoteDelta    time.Duration
	BlockInterval       time.Duration
	// EmptyBlockInterval, when not zero, lets a height whose mempool is
	// empty wait for a transaction, for at most this long after the
	// parent's timestamp, before producing an empty block. It needs the
	// host's mempool events (host.chain.mempool); without them every
	// height starts at once, as with zero.
	EmptyBlockInterval time.Duration
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
	// Time is what the engine reads and waits on; nil: sdk.HostClock of
	// Clock. A simulator passes its virtual clock.
	Time sdk.Clock
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

// poolEvent is the host's report of the mempool's size.
type poolEvent struct{ size int }

// wakeEvent ends height h's wait for a transaction.
type wakeEvent struct{ h uint64 }

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
	waiting                          bool
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
	clk    sdk.Clock
	dec    *sigDecoder
	// queue, when not nil, takes what post would hand the loop: a
	// simulator drives the engine without goroutines (sim.go).
	queue *[]any

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
	// pool is the mempool's size as the host last reported it
	// (poolUnknown until it does); waiting: this height has not started
	// round 0 because there is nothing to include (EmptyBlockInterval).
	pool    int
	waiting bool
}

func newEngine(cfg Config, svc services, log hclog.Logger, validator bool, self account.Address) *engine {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &engine{
		cfg: cfg, svc: svc, log: log, validator: validator && svc.Signer != nil, self: self,
		ctx: ctx, cancel: cancel, inbox: make(chan any, 4096),
		verified: make(map[[32]byte]struct{}), evSeen: make(map[[32]byte]struct{}), dec: newSigDecoder(),
		sets: newSetCache(svc.Chain), stash: stash, metrics: newMetricSink(svc.Metrics),
		lockedRound: -1, validRound: -1, selfIdx: -1, clk: svc.Time, pool: poolUnknown,
	}
	if e.clk == nil {
		e.clk = sdk.HostClock(svc.Clock)
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
	cert := e.resume(finalized)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.loop(finalized, cert)
	}()
	e.metrics.start(&e.wg, e.ctx)
	return nil
}

// resume takes the write-ahead log's height if it is the one above
// finalized, and returns finalized's certificate, for the first height.
func (e *engine) resume(finalized *hostv1.Block) []byte {
	w, err := loadWAL(e.ctx, e.svc.Store)
	if err != nil {
		e.log.Warn("write-ahead log unreadable; starting the height afresh (the host signer still refuses conflicts)", "error", err)
	}
	if w != nil && w.Height == finalized.GetHeader().GetHeight()+1 {
		e.restored = w
	}
	e.final = finalized.GetHeader().GetHeight()
	cert, _ := e.certificateOf(finalized)
	return cert
}

func (e *engine) stop() {
	e.cancel()
	e.wg.Wait()
}

// post hands an event to the loop unless the engine stops.
func (e *engine) post(ev any) {
	if e.queue != nil {
		*e.queue = append(*e.queue, ev)
		return
	}
	select {
	case e.inbox <- ev:
	case <-e.ctx.Done():
	}
}

// after posts ev once d has passed on the engine's clock (the host's in
// a node, a virtual one in the simulator).
func (e *engine) after(d time.Duration, ev any) {
	if s, ok := e.clk.(Scheduler); ok {
		s.AfterFunc(d, func() { e.post(ev) })
		return
	}
	ch := e.clk.After(d)
	go func() {
		select {
		case <-ch:
			e.post(ev)
		case <-e.ctx.Done():
		}
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
		case <-e.clk.After(backoff):
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
				} else if _, ok := ev.GetEvent().(*hostv1.ChainEvent_MempoolSize); ok {
					e.post(poolEvent{size: int(ev.GetMempoolSize())})
				}
			}
		}
		if e.ctx.Err() != nil {
			return
		}
		e.log.Warn("chain events ended; resubscribing", "error", err)
		select {
		case <-e.clk.After(backoff):
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
			done := e.clk.After(voteGather)
		gather:
			for len(batch) < maxBatch {
				select {
				case m := <-jobs:
					batch = append(batch, m)
				case <-done:
					break gather
				case <-e.ctx.Done():
					return
				}
			}
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
		if e.seen(sigKey(v.set.Validators[i].Key, sb, x.Signature[:])) {
			in.checked = v.set
			continue
		}
		sig, err := e.dec.decode(x.Signature[:])
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
		for j, in := range g.ins {
			x := in.msg.(*Vote)
			e.remember(sigKey(g.pks[j], g.sb, x.Signature[:]))
			in.checked = v.set
		}
	}
}

// ErrSignature marks a message whose signature does not verify or whose
// signer is not a validator.
var ErrSignature = errors.New("bft: bad signature")

// sigKey names a verified (key, message, signature): the key is in it
// because the signed bytes do not name the validator, so a signature
// checked under one key must not vouch for another validator's vote.
func sigKey(pk bls.PublicKey, sb []byte, sig []byte) [32]byte {
	h := sha256.New()
	b := pk.Bytes()
	h.Write(b[:])
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
	k := sigKey(pk, sb, sig)
	if e.seen(k) {
		return nil
	}
	if err := checkSig(pk, sb, sig, e.dec); err != nil {
		return fmt.Errorf("%v at %d/%d: %w", m.Step, m.Height, m.Round, err)
	}
	e.remember(k)
	return nil
}

// checkSig is one BLS verification of sig on sb under pk.
func checkSig(pk bls.PublicKey, sb, sig []byte, dec *sigDecoder) error {
	s, err := dec.decode(sig)
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
