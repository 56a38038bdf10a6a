package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/core/hostsvc"
	bft "github.com/trellis-chain/trellis/plugins/consensus-bft"
	lc "github.com/trellis-chain/trellis/plugins/consensus-lc"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/leader"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Limits of a simulation.
const (
	MaxValidators = 2000
	MaxSimTime    = time.Hour
)

// Config is one simulated cell.
type Config struct {
	Consensus  string // "bft"
	Validators int
	Seed       uint64
	Link       Link
	Cost       Cost
	// Crashed validators (the highest indexes) never start.
	Crashed int
	// Pauses stop validators for a while, as SIGSTOP does: work due while a
	// node is paused (timers, deliveries, slot ticks) runs when it resumes,
	// in order; nothing leaves it meanwhile.
	Pauses []Pause
	// Crashes stop validators at a time and, with a Duration, start them
	// again (BFT): a crashed node does nothing and receives nothing; a
	// restarted one keeps its chain, its signer's record and its engine's
	// write-ahead log, starts a new engine above its final block and
	// catches up by block sync.
	Crashes []Crash
	// Partitions split the validators into groups that cannot reach each
	// other for a while, as `testnet partition` does by blocking peers: a
	// message between groups is not sent, and one in flight when the
	// partition starts is lost.
	Partitions []Partition
	// Rate transfers/s for Duration; then Drain more virtual time.
	Rate            float64
	Duration, Drain time.Duration
	MaxPerBlock     uint64
	BFT             bft.Config
	// LC are the longest-chain parameters (in genesis); zero: the
	// testnets' (200 ms slots, f = 1/4, k = 12).
	LC leader.Params
	// Progress, when positive, prints a line every this much virtual time.
	Progress time.Duration
}

// Pause stops Nodes from At (virtual time since the load began) for
// Duration.
type Pause struct {
	Nodes        []int
	At, Duration time.Duration
}

// Crash stops Nodes at At (virtual time since the load began); a
// Duration above zero restarts them after it, zero keeps them down.
type Crash struct {
	Nodes        []int
	At, Duration time.Duration
}

// Partition separates Groups from At (virtual time since the load began)
// for Duration. A validator listed in no group is alone.
type Partition struct {
	Groups       [][]int
	At, Duration time.Duration
}

// Result is what a simulated cell measured. Every time in it is virtual;
// Wall and HeapMB describe the simulator itself.
type Result struct {
	Validators, Crashed int
	Submitted, Final    uint64
	// FinalHeight is node 0's final height at the end; MinFinalHeight the
	// lowest of the running validators' (a node cut off or paused that
	// has not caught up shows here).
	FinalHeight, MinFinalHeight uint64
	// Latency of submit→final on node 0, in seconds.
	P50, P95, P99, Max float64
	FinalPerSec        float64
	// Per node per final block, means over the running nodes. Published
	// counts a publish once, as the host's p2p counters do; SentMsgs
	// counts each copy to each peer.
	Published, SentMsgs, SentBytes, RecvMsgs, RecvBytes, CPUSeconds float64
	Proposers                                                       int
	// Voters counts the validators whose votes final blocks' commits carry
	// (BFT; 0 for longest chain), as a trial counts them.
	Voters int `json:",omitempty"`
	// Lost counts resends after a lost packet; Cut, messages a partition
	// stopped; Reports, peers reported; Evidence, evidence reported.
	Lost, Cut, Reports, Evidence uint64
	Violations                   []string
	// Reorgs sums the longest-chain engines' reorganisations.
	Reorgs uint64 `json:",omitempty"`
	// Errors are the engines' last errors at the end, with how many
	// nodes reported each.
	Errors                              map[string]int `json:",omitempty"`
	Events                              uint64
	TraceHash                           string
	SimSeconds, WallSeconds, SimPerWall float64
	HeapMB                              float64
}

// stats are the simulation's counters.
type stats struct {
	lost, reports, evidence, cut uint64
}

// Sim is one running simulation.
type Sim struct {
	cfg    Config
	w      *World
	link   Link
	cost   Cost
	load   load
	nodes  []*node
	byPeer map[string]*node
	sigs   *sigCache
	stats  stats

	cuts       []cut             // from Config.Partitions
	finalHash  map[uint64][]byte // first final hash seen per height
	violations []string
	latencies  []time.Duration
	proposers  map[string]bool
	voters     map[int]bool // BFT: validators whose votes a final block's commit carries
	lastFinal  time.Duration
}

// node is one simulated validator: its host services and its engine.
type node struct {
	s          *Sim
	i          int
	peer       string
	addr       account.Address
	up         bool
	chain      *chain
	eng        *bft.Sim
	lc         *lc.Sim
	busyUntil  time.Duration
	paused     [][2]time.Duration // [from, to) windows, from Config.Pauses
	svc        bft.SimServices    // kept for a restart (Config.Crashes)
	uplinkFree time.Duration
	pending    time.Duration
	cpu        time.Duration

	sentMsgs, sentBytes, recvMsgs, recvBytes uint64
	published                                uint64 // publishes and direct sends, as the host's p2p counters count them
}

// resumed is the first time from t on when the node is not paused.
func (n *node) resumed(t time.Duration) time.Duration {
	for moved := true; moved; {
		moved = false
		for _, p := range n.paused {
			if t >= p[0] && t < p[1] {
				t, moved = p[1], true
			}
		}
	}
	return t
}

// restart starts a crashed BFT validator again: a new engine over the
// node's chain, store and signer, from its final block, as a restarted
// process does.
func (s *Sim) restart(n *node) {
	if n.up {
		return
	}
	n.up = true
	n.busyUntil = max(n.busyUntil, s.w.Now())
	n.eng = bft.NewSim(s.cfg.BFT, n.svc, n.addr, simLogger(n.i))
	n.run(s.cost.Restart, func() {
		final := n.chain.block(n.chain.canon[n.chain.final])
		if err := n.eng.Start(final); err != nil {
			s.violations = append(s.violations, fmt.Sprintf("node %d did not restart: %v", n.i, err))
		}
	})
}

// charge adds CPU time spent inside the current handler.
func (n *node) charge(d time.Duration) { n.pending += d }

// run does f on this node once it is free and cost has been spent: a node
// works on one thing at a time. What f charges delays the node's next
// work.
func (n *node) run(cost time.Duration, f func()) {
	w := n.s.w
	start := n.resumed(max(w.Now(), n.busyUntil))
	n.busyUntil = start + cost
	n.cpu += cost
	w.At(n.busyUntil, func() {
		if !n.up {
			return
		}
		n.pending = 0
		f()
		n.busyUntil = max(n.busyUntil, w.Now()) + n.pending
		n.cpu += n.pending
		n.pending = 0
	})
}

func (n *node) deliver(m *hostv1.NetworkMessage) {
	if n.lc != nil {
		n.lc.Deliver(m)
		return
	}
	n.eng.Deliver(m)
}

// tick runs a longest-chain node's slot and schedules the next: the
// ticket costs a signature and its check.
func (n *node) tick() {
	next := n.lc.Tick()
	n.charge(n.s.cost.Verify)
	n.s.w.At(next.Sub(Epoch), func() { n.run(0, n.tick) })
}

// nodeClock is a node's bft.Scheduler: timers run on the node, serially.
type nodeClock struct {
	clock
	n *node
}

func (c nodeClock) AfterFunc(d time.Duration, f func()) {
	c.w.After(d, func() { c.n.run(0, func() { f(); c.n.eng.Drain() }) })
}

// finalized records a block node n made final: the latency of its
// transfers (node 0), and a safety violation if another node made another
// block final at that height.
func (s *Sim) finalized(n *node, b *hostv1.Block) {
	h := b.Header.Height
	if prev, ok := s.finalHash[h]; !ok {
		s.finalHash[h] = b.Hash
		s.w.Note('f', h, uint64(n.i), b.Hash[:8])
		s.proposers[string(b.Header.Proposer)] = true
		if s.cfg.Consensus != "lc" {
			// A BFT block's consensus data is its parent's commit certificate.
			if c, err := bft.DecodeCertificate(b.Header.ConsensusData); err == nil {
				for i := range c.N {
					if c.Signed(i) {
						s.voters[i] = true
					}
				}
			}
		}
	} else if string(prev) != string(b.Hash) && len(s.violations) < 20 {
		s.violations = append(s.violations, fmt.Sprintf("height %d final as %x and %x (node %d)", h, prev[:6], b.Hash[:6], n.i))
	}
	if n.i != 0 {
		return
	}
	now := s.w.Now()
	from, to := txRange(b.Header)
	for k := from; k < to; k++ {
		s.latencies = append(s.latencies, now-s.load.at(k))
	}
	if to > from {
		s.lastFinal = now
	}
}

// keyReader is a deterministic byte stream for key generation.
func keyReader(seed uint64) io.Reader {
	var k [32]byte
	binary.BigEndian.PutUint64(k[:], seed)
	k = sha256.Sum256(k[:])
	return rand.NewChaCha8(k)
}

func (c *Config) check() error {
	switch {
	case c.Consensus != "bft" && c.Consensus != "lc":
		return fmt.Errorf("sim: consensus %q: the simulator runs \"bft\" and \"lc\"", c.Consensus)
	case c.Validators < 1 || c.Validators > MaxValidators:
		return fmt.Errorf("sim: %d validators: want 1 to %d", c.Validators, MaxValidators)
	case c.Crashed < 0 || c.Crashed >= c.Validators:
		return fmt.Errorf("sim: %d crashed of %d validators", c.Crashed, c.Validators)
	case !faultsValid(c.Validators, c.Pauses):
		return fmt.Errorf("sim: a pause names a validator outside 0..%d or has a negative time", c.Validators-1)
	case partitionsInvalid(*c) != nil:
		return partitionsInvalid(*c)
	case len(c.Crashes) > 0 && c.Consensus != "bft":
		return fmt.Errorf("sim: crashes during a run are modelled for \"bft\" only, not %q", c.Consensus)
	case !faultsValid(c.Validators, c.Crashes):
		return fmt.Errorf("sim: a crash names a validator outside 0..%d or has a negative time", c.Validators-1)
	case c.Duration <= 0 || c.Duration+c.Drain > MaxSimTime:
		return fmt.Errorf("sim: duration %s and drain %s: want a positive duration, %s in all at most", c.Duration, c.Drain, MaxSimTime)
	case c.Rate < 0:
		return errors.New("sim: negative rate")
	}
	return nil
}

// Run simulates cfg and reports what it measured.
func Run(cfg Config, progress io.Writer) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Cost == (Cost{}) {
		cfg.Cost = DefaultCost
	}
	if cfg.Link == (Link{}) {
		cfg.Link = DefaultLink
	}
	if cfg.MaxPerBlock == 0 {
		cfg.MaxPerBlock = 5000
	}
	if cfg.BFT.ChainID == "" {
		cfg.BFT.ChainID = "sim"
	}
	if cfg.Consensus == "lc" && cfg.LC.SlotMs == 0 {
		cfg.LC = leader.Defaults
		cfg.LC.K, cfg.LC.MaxProofLag = 12, 24
		cfg.LC.Active, _ = leader.ParseCoefficient("1/4")
		cfg.LC.EpochSlots = cfg.LC.MinEpochSlots()
	}
	wall := time.Now()
	s := &Sim{cfg: cfg, w: NewWorld(cfg.Seed), link: cfg.Link, cost: cfg.Cost, byPeer: map[string]*node{},
		sigs: &sigCache{m: map[string][bls.SignatureSize]byte{}}, finalHash: map[uint64][]byte{}, proposers: map[string]bool{}, voters: map[int]bool{},
		load: load{rate: cfg.Rate, start: 0, stop: cfg.Duration, maxPerBlock: cfg.MaxPerBlock}}
	keys := keyReader(cfg.Seed)
	set := &hostv1.ValidatorSet{}
	sks := make([]*bls.SecretKey, cfg.Validators)
	for i := range cfg.Validators {
		sk, err := bls.GenerateKey(keys)
		if err != nil {
			return nil, err
		}
		sks[i] = sk
		a := simAddress(i)
		pk, pop := sk.PublicKey().Bytes(), bls.ProofOfPossession(sk).Bytes()
		set.Validators = append(set.Validators, &hostv1.Validator{Address: a[:], BlsPublicKey: pk[:], ProofOfPossession: pop[:], Stake: 10})
		set.TotalStake += 10
	}
	gh := block.Header{ChainID: cfg.BFT.ChainID, TimestampMs: Epoch.UnixMilli()}
	if cfg.Consensus == "lc" {
		gh.ConsensusData = cfg.LC.Encode()
	}
	genesis := hostsvc.BlockProto(blockOf(gh, 0, 0), false)
	verified, decoded := map[[32]byte]struct{}{}, bft.NewSigCache()
	var err error
	for _, p := range cfg.Partitions {
		s.cuts = append(s.cuts, newCut(p, cfg.Validators))
	}
	for i := range cfg.Validators {
		n := &node{s: s, i: i, peer: fmt.Sprintf("sim%d", i), up: i < cfg.Validators-cfg.Crashed}
		for _, p := range cfg.Pauses {
			if slices.Contains(p.Nodes, i) {
				n.paused = append(n.paused, [2]time.Duration{p.At, p.At + p.Duration})
			}
		}
		copy(n.addr[:], set.Validators[i].Address)
		n.chain = newChain(n, set, genesis)
		svc := bft.SimServices{Chain: n.chain, Network: &netClient{n: n}, Store: &store{m: map[string][]byte{}},
			Clock: nodeClock{clock{s.w}, n}, Verified: verified, Decoded: decoded}
		svc.Signer = &signer{n: n, sk: sks[i], addr: n.addr, chainID: cfg.BFT.ChainID, signed: map[[3]uint64][]byte{}}
		if cfg.Consensus == "lc" {
			n.lc, err = lc.NewSim(lc.SimServices{Chain: svc.Chain, Network: svc.Network, Signer: svc.Signer, Clock: svc.Clock}, n.addr, cfg.BFT.ChainID, nil)
			if err != nil {
				return nil, fmt.Errorf("sim: node %d: %w", i, err)
			}
		} else {
			n.svc = svc
			n.eng = bft.NewSim(cfg.BFT, svc, n.addr, simLogger(i))
		}
		s.nodes = append(s.nodes, n)
		s.byPeer[n.peer] = n
	}
	for _, n := range s.nodes {
		if n.up && n.lc != nil {
			n.run(0, n.tick)
		}
		if n.up && n.eng != nil && (len(cfg.Pauses) > 0 || len(cfg.Partitions) > 0 || len(cfg.Crashes) > 0) {
			s.w.After(syncEvery, func() { s.syncCheck(n) })
		}
		if n.up && n.eng != nil {
			n.run(0, func() {
				if err := n.eng.Start(genesis); err != nil {
					s.violations = append(s.violations, fmt.Sprintf("node %d did not start: %v", n.i, err))
				}
			})
		}
	}
	for _, c := range cfg.Crashes {
		for _, i := range c.Nodes {
			n := s.nodes[i]
			s.w.At(c.At, func() { n.up = false })
			if c.Duration > 0 {
				s.w.At(c.At+c.Duration, func() { s.restart(n) })
			}
		}
	}
	end := cfg.Duration + cfg.Drain
	var peak uint64
	step := cfg.Progress
	if step <= 0 {
		step = end
	}
	// The drain ends early once every transfer is final on node 0, as a
	// real trial's does.
	nextLine := step
	for t := min(time.Second, end); ; t += time.Second {
		t = min(t, end)
		s.w.Run(t)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		drained := t >= cfg.Duration && uint64(len(s.latencies)) >= s.load.submitted(t)
		if progress != nil && cfg.Progress > 0 && (t >= nextLine || drained || t >= end) {
			nextLine += step
			fin := s.nodes[0].chain.final
			fmt.Fprintf(progress, "sim %s-%d: %s of %s simulated, final height %d, %d events, %s wall\n", cfg.Consensus, cfg.Validators,
				s.w.Now().Round(time.Millisecond), end, fin, s.w.Events, time.Since(wall).Round(100*time.Millisecond))
		}
		if drained || t >= end {
			break
		}
	}
	return s.result(wall, peak), nil
}

func (s *Sim) result(wall time.Time, peak uint64) *Result {
	cfg := s.cfg
	r := &Result{Validators: cfg.Validators, Crashed: cfg.Crashed, Submitted: s.load.submitted(s.w.Now()),
		Final: uint64(len(s.latencies)), FinalHeight: s.nodes[0].chain.final, Proposers: len(s.proposers), Voters: len(s.voters),
		Lost: s.stats.lost, Cut: s.stats.cut, Reports: s.stats.reports, Evidence: s.stats.evidence, Violations: s.violations, Events: s.w.Events,
		SimSeconds: s.w.Now().Seconds(), WallSeconds: time.Since(wall).Seconds(), HeapMB: float64(peak) / (1 << 20)}
	r.MinFinalHeight = r.FinalHeight
	for _, n := range s.nodes {
		if n.up {
			r.MinFinalHeight = min(r.MinFinalHeight, n.chain.final)
		}
	}
	h := s.w.TraceHash()
	r.TraceHash = fmt.Sprintf("%x", h[:])
	r.SimPerWall = r.SimSeconds / max(r.WallSeconds, 1e-9)
	lat := slices.Clone(s.latencies)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := min(len(lat)-1, int(p*float64(len(lat))))
		return lat[i].Seconds()
	}
	r.P50, r.P95, r.P99 = pct(0.50), pct(0.95), pct(0.99)
	if len(lat) > 0 {
		r.Max = lat[len(lat)-1].Seconds()
	}
	if s.lastFinal > 0 {
		r.FinalPerSec = float64(r.Final) / s.lastFinal.Seconds()
	}
	for _, n := range s.nodes {
		if !n.up {
			continue
		}
		msg := ""
		if n.lc != nil {
			msg = n.lc.LastError()
			_, rg := n.lc.Final()
			r.Reorgs += rg
		} else {
			msg = n.eng.LastError()
		}
		if msg != "" {
			if r.Errors == nil {
				r.Errors = map[string]int{}
			}
			if len(r.Errors) < 10 {
				r.Errors[msg]++
			}
		}
	}
	var up float64
	for _, n := range s.nodes {
		if !n.up || n.chain.final == 0 {
			continue
		}
		b := float64(n.chain.final)
		r.Published += float64(n.published) / b
		r.SentMsgs += float64(n.sentMsgs) / b
		r.SentBytes += float64(n.sentBytes) / b
		r.RecvMsgs += float64(n.recvMsgs) / b
		r.RecvBytes += float64(n.recvBytes) / b
		r.CPUSeconds += n.cpu.Seconds() / b
		up++
	}
	if up > 0 {
		r.Published, r.SentMsgs, r.SentBytes, r.RecvMsgs, r.RecvBytes, r.CPUSeconds = r.Published/up, r.SentMsgs/up, r.SentBytes/up, r.RecvMsgs/up, r.RecvBytes/up, r.CPUSeconds/up
	}
	return r
}

// simAddress is validator i's address: a valid digest whose first field
// element is i.
func simAddress(i int) account.Address {
	var a account.Address
	binary.LittleEndian.PutUint32(a[:], uint32(i))
	return a
}

// partitionsInvalid says what is wrong with c's partitions, nil if nothing.
func partitionsInvalid(c Config) error {
	for k, p := range c.Partitions {
		if p.At < 0 || p.Duration < 0 {
			return fmt.Errorf("sim: partition %d has a negative time", k)
		}
		seen := map[int]bool{}
		for _, g := range p.Groups {
			for _, i := range g {
				if i < 0 || i >= c.Validators || seen[i] {
					return fmt.Errorf("sim: partition %d names validator %d twice or outside 0..%d", k, i, c.Validators-1)
				}
				seen[i] = true
			}
		}
		if len(p.Groups) < 2 && len(seen) == c.Validators {
			return fmt.Errorf("sim: partition %d: one group of every validator is no partition", k)
		}
	}
	return nil
}

// cut is a partition as send checks it: each validator's group (a
// validator in no group has one of its own).
type cut struct {
	from, to time.Duration
	group    []int
}

func newCut(p Partition, n int) cut {
	c := cut{from: p.At, to: p.At + p.Duration, group: make([]int, n)}
	for i := range c.group {
		c.group[i] = -1 - i
	}
	for gi, g := range p.Groups {
		for _, i := range g {
			c.group[i] = gi
		}
	}
	return c
}

// apart reports whether a partition separates validators a and b at t
// (virtual time since the load began).
func (s *Sim) apart(a, b int, t time.Duration) bool {
	for _, c := range s.cuts {
		if t >= c.from && t < c.to && c.group[a] != c.group[b] {
			return true
		}
	}
	return false
}

// faultsValid reports whether every pause or crash names validators of
// 0..n-1 and no negative time.
func faultsValid[F Pause | Crash](n int, fs []F) bool {
	for _, f := range fs {
		p := Pause(f)
		if p.At < 0 || p.Duration < 0 {
			return false
		}
		for _, i := range p.Nodes {
			if i < 0 || i >= n {
				return false
			}
		}
	}
	return true
}

// simLogger is a node's engine logger: silent, unless TRELLIS_SIM_LOG names
// a level (debug, info, warn), for following one cell's engines by hand.
func simLogger(i int) hclog.Logger {
	lv := os.Getenv("TRELLIS_SIM_LOG")
	if lv == "" {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: fmt.Sprintf("node%d", i), Level: hclog.LevelFromString(lv), Output: os.Stderr})
}
