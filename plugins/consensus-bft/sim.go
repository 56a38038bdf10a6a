package bft

import (
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Scheduler is a clock that runs callbacks itself: a simulator's virtual
// clock. An engine on one sets its timers with AfterFunc instead of
// starting goroutines.
type Scheduler interface {
	sdk.Clock
	// AfterFunc runs f once d has passed on this clock.
	AfterFunc(d time.Duration, f func())
}

// SimServices are the host services a simulated engine uses, in-process.
type SimServices struct {
	Chain   hostv1.ChainClient
	Network hostv1.NetworkClient
	Signer  hostv1.SignerClient // nil: follow only
	Store   KV
	Clock   Scheduler
	// Verified, when set, is the cache of checked signatures shared by
	// every simulated engine: each (key, message, signature) is verified
	// once in the whole simulation (the simulator charges every node the
	// modelled cost). Keys name the public key, so sharing is safe.
	Verified map[[32]byte]struct{}
	// Decoded, from NewSigCache, is a decoded-signature cache shared the
	// same way.
	Decoded *SigCache
}

// SigCache is a decoded-signature cache simulated engines can share.
type SigCache struct{ d *sigDecoder }

// NewSigCache makes one.
func NewSigCache() *SigCache { return &SigCache{newSigDecoder()} }

// Sim is the engine driven by a simulator, with no goroutine of its own:
// the simulator hands it each message (Deliver) and its clock runs the
// engine's timers; everything the engine does in response happens inside
// those calls, so a single-threaded simulator is deterministic. The
// engine's rules are the plugin's own.
type Sim struct {
	e     *engine
	queue []any
}

// NewSim builds a simulated engine; validator with a Signer.
func NewSim(cfg Config, svc SimServices, self account.Address, log hclog.Logger) *Sim {
	s := &Sim{}
	e := newEngine(cfg, services{Chain: svc.Chain, Network: svc.Network, Signer: svc.Signer, Store: svc.Store, Time: svc.Clock},
		log, svc.Signer != nil, self)
	e.queue = &s.queue
	if svc.Verified != nil {
		e.verified = svc.Verified
	}
	if svc.Decoded != nil {
		e.dec = svc.Decoded.d
	}
	s.e = e
	return s
}

// Start begins at the height above finalized, as the plugin's Start does
// (restoring the write-ahead log), and runs what that schedules.
func (s *Sim) Start(finalized *hostv1.Block) error {
	s.e.startHeight(finalized, s.e.resume(finalized))
	s.Drain()
	return nil
}

// Deliver hands the engine one message from the network, as its worker
// would (decode, verify), and runs what follows.
func (s *Sim) Deliver(m *hostv1.NetworkMessage) {
	s.e.handleBatch([]*hostv1.NetworkMessage{m})
	s.Drain()
}

// Finalized tells the engine that its host finalized b (with its
// certificate) by block sync, as the host's Chain.Events stream does, and
// runs what follows.
func (s *Sim) Finalized(b *hostv1.Block) {
	s.e.handle(finalEvent{block: b})
	s.Drain()
}

// Drain runs every event the engine posted to itself, in order.
func (s *Sim) Drain() {
	for len(s.queue) > 0 {
		ev := s.queue[0]
		s.queue = s.queue[1:]
		s.e.handle(ev)
	}
}

// LastError is the engine's last error, "" if none.
func (s *Sim) LastError() string { return s.e.status().lastErr }
