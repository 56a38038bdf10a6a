package lc

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// SimServices are the host services a simulated engine uses, in-process.
type SimServices struct {
	Chain   hostv1.ChainClient
	Network hostv1.NetworkClient
	Signer  hostv1.SignerClient // nil: follow only
	Clock   sdk.Clock
}

// Sim is the engine driven by a simulator, with no goroutine of its own:
// the simulator calls Tick at each slot's start (when NextSlot says) and
// hands it each message (Deliver); everything the engine does happens
// inside those calls. The rules are the plugin's own.
type Sim struct {
	e   *engine
	ctx context.Context
}

// NewSim builds a simulated engine from the host's genesis block and
// head; a validator with a Signer leads when it wins a slot.
func NewSim(svc SimServices, self account.Address, chainID string, log hclog.Logger) (*Sim, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ctx := context.Background()
	e, err := newEngine(ctx, services{chain: svc.Chain, net: svc.Network, time: svc.Clock}, nil, chainID, log)
	if err != nil {
		return nil, err
	}
	if svc.Signer != nil {
		e.self, e.svc.signer = self, svc.Signer
	}
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	return &Sim{e: e, ctx: ctx}, nil
}

// Tick runs the slot that has started on the engine's clock (drawing its
// ticket and leading when it wins), as the plugin's slot loop does, and
// returns when the next slot starts.
func (s *Sim) Tick() time.Time {
	slot, err := s.e.tick(s.ctx)
	if err != nil {
		s.e.fail("clock", err)
		return s.e.svc.time.Now().Add(time.Second) // as the slot loop waits
	}
	return time.UnixMilli(s.e.slotStart(slot + 1))
}

// Deliver hands the engine one message from the network.
func (s *Sim) Deliver(m *hostv1.NetworkMessage) {
	switch m.GetTopic() {
	case TopicBlock:
		s.e.onBlock(s.ctx, m.GetData(), m.GetFrom(), m.GetId())
	case TopicGet:
		s.e.onGet(s.ctx, m.GetData(), m.GetFrom())
	}
}

// Final is the engine's k-deep height, and Reorgs the reorganisations
// it made.
func (s *Sim) Final() (height, reorgs uint64) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.final.Height, s.e.n.reorgs
}

// LastError is the engine's last error, "" when its last slot went well.
func (s *Sim) LastError() string {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.n.lastErr
}
