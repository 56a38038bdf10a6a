package lc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/sdk"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// Version of the plugin.
const Version = "0.1.0"

// Plugin is the longest-chain consensus plugin.
type Plugin struct {
	log hclog.Logger

	mu     sync.Mutex
	host   *sdk.Host
	node   sdk.NodeInfo
	eng    *engine
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New returns an unconfigured plugin logging to log.
func New(log hclog.Logger) *Plugin {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Plugin{log: log}
}

// Info implements sdk.Plugin.
func (p *Plugin) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindConsensus, Name: "lc", Version: Version}
}

// ConfigSchema implements sdk.Plugin: the plugin has no per-node
// settings; its parameters are the chain's, in genesis.
func (p *Plugin) ConfigSchema() *schema.Schema { return schema.New() }

// Configure implements sdk.Plugin.
func (p *Plugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	if len(req.Config) > 0 {
		m := map[string]any{}
		if err := schema.DecodeJSON(req.Config, &m); err != nil {
			return err
		}
		for k := range m {
			return &sdk.ConfigError{Path: []string{k}, Summary: "Unknown attribute",
				Detail: "the longest-chain plugin takes no settings: slots, f and k are in genesis (longest_chain)"}
		}
	}
	if req.Host == nil || !req.Node.HasHostCapability(sdk.CapHostChain) || !req.Node.HasHostCapability(sdk.CapHostNetwork) || !req.Node.HasHostCapability(sdk.CapHostClock) {
		return errors.New("lc: the host offers no Chain, Network or Clock service: give the node a genesis file and a network")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host, p.node = req.Host, req.Node
	return nil
}

// Health implements sdk.Plugin.
func (p *Plugin) Health(context.Context) sdk.Health {
	p.mu.Lock()
	e := p.eng
	configured := p.host != nil
	p.mu.Unlock()
	switch {
	case !configured:
		return sdk.Health{Status: sdk.NotServing, Message: "not configured"}
	case e == nil:
		return sdk.Health{Status: sdk.Serving, Message: "not started"}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n.lastErr != "" {
		return sdk.Health{Status: sdk.Degraded, Message: e.n.lastErr}
	}
	return sdk.Health{Status: sdk.Serving}
}

// Start implements sdk.Consensus.
func (p *Plugin) Start(ctx context.Context, req *consensusv1.StartRequest) (*consensusv1.StartResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.host == nil {
		return nil, sdk.ErrNotConfigured
	}
	if p.eng != nil {
		return &consensusv1.StartResponse{}, nil
	}
	h := p.host
	svc := services{chain: h.Chain, net: h.Network, clock: h.Clock}
	e, err := newEngine(ctx, svc, h.Store, p.node.ChainID, p.log)
	if err != nil {
		return nil, err
	}
	if req.GetValidator() {
		switch {
		case !p.node.HasHostCapability(sdk.CapHostSignerBlock):
			p.log.Warn("not leading: the host cannot sign longest-chain blocks (host.signer.block); following only")
		default:
			r, err := h.Signer.PublicKeys(ctx, &hostv1.PublicKeysRequest{})
			if err != nil || len(r.GetAddress()) != account.AddressSize {
				return nil, fmt.Errorf("lc: the host's Signer gave no validator address: %v", err)
			}
			copy(e.self[:], r.GetAddress())
			e.svc.signer = h.Signer
		}
	}
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.eng, p.cancel = e, cancel
	blocksReady, getsReady := make(chan struct{}), make(chan struct{})
	p.done.Add(3)
	go func() {
		defer p.done.Done()
		e.subscribe(runCtx, TopicBlock, blocksReady, func(m *hostv1.NetworkMessage) { e.onBlock(runCtx, m.GetData(), m.GetFrom(), m.GetId()) })
	}()
	go func() {
		defer p.done.Done()
		e.subscribe(runCtx, TopicGet, getsReady, func(m *hostv1.NetworkMessage) { e.onGet(runCtx, m.GetData(), m.GetFrom()) })
	}()
	<-blocksReady
	<-getsReady
	go func() {
		defer p.done.Done()
		e.runSlots(runCtx)
	}()
	p.log.Info("longest chain started", "slot_ms", e.p.SlotMs, "f", fmt.Sprintf("%d/%d", e.p.Active.Num, e.p.Active.Den),
		"k", e.p.K, "epoch_slots", e.p.EpochSlots, "leading", e.svc.signer != nil, "head", e.head.Height)
	return &consensusv1.StartResponse{}, nil
}

// Stop implements sdk.Consensus. Everything a restart needs is in the
// host (blocks, head, final) and the Signer's slot record.
func (p *Plugin) Stop(context.Context, *consensusv1.StopRequest) (*consensusv1.StopResponse, error) {
	p.mu.Lock()
	cancel := p.cancel
	p.eng, p.cancel = nil, nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		p.done.Wait()
	}
	return &consensusv1.StopResponse{}, nil
}

// VerifyBlock implements sdk.Consensus for blocks the host syncs from
// peers' k-deep chains: the consensus rules are checked as for a gossiped
// block (leader proof, threshold, signature, slot, timestamp). A single
// block cannot show that it is k deep, so Final is the peers' word; see
// docs/consensus-lc.md ("Catching up").
func (p *Plugin) VerifyBlock(ctx context.Context, req *consensusv1.VerifyBlockRequest) (*consensusv1.VerifyBlockResponse, error) {
	p.mu.Lock()
	e := p.eng
	p.mu.Unlock()
	if e == nil {
		return nil, errors.New("lc: not started")
	}
	blk, err := block.Decode(req.GetBlock().GetEncoded())
	if err != nil {
		return &consensusv1.VerifyBlockResponse{Reason: err.Error()}, nil
	}
	parent, ok := e.metaOf(ctx, blk.Header.Parent)
	if !ok {
		return &consensusv1.VerifyBlockResponse{Reason: fmt.Sprintf("parent %s unknown", blk.Header.Parent)}, nil
	}
	nowMs, err := e.now(ctx)
	if err != nil {
		return nil, err
	}
	m, err := e.checkHeader(ctx, &blk.Header, parent, nowMs)
	if errors.Is(err, errLocal) {
		return nil, err
	}
	if err != nil {
		return &consensusv1.VerifyBlockResponse{Reason: err.Error()}, nil
	}
	e.remember(m)
	return &consensusv1.VerifyBlockResponse{Valid: true, Final: true}, nil
}

// ForkChoice implements sdk.Consensus: the longest candidate, ties broken
// as fork choice does (without the maxvalid check, which needs the
// current head).
func (p *Plugin) ForkChoice(_ context.Context, req *consensusv1.ForkChoiceRequest) (*consensusv1.ForkChoiceResponse, error) {
	p.mu.Lock()
	e := p.eng
	p.mu.Unlock()
	tie := leader.Defaults.TieSlots
	if e != nil {
		tie = e.p.TieSlots
	}
	var best *meta
	var bestHash []byte
	for _, b := range req.GetCandidates() {
		m, err := metaFromProto(b)
		if err != nil {
			continue
		}
		if best == nil || better(m, *best, tie) {
			best, bestHash = &m, b.GetHash()
		}
	}
	if best == nil {
		return nil, errors.New("lc: no usable candidate")
	}
	return &consensusv1.ForkChoiceResponse{HeadHash: bestHash}, nil
}

// Status implements sdk.Consensus.
func (p *Plugin) Status(context.Context, *consensusv1.StatusRequest) (*consensusv1.StatusResponse, error) {
	p.mu.Lock()
	e := p.eng
	p.mu.Unlock()
	if e == nil {
		return &consensusv1.StatusResponse{Step: "stopped"}, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return &consensusv1.StatusResponse{Height: e.head.Height, FinalHeight: e.final.Height, Step: "slot", Validator: e.svc.signer != nil,
		Details: map[string]string{
			"slot": u(e.slot), "epoch": u(e.p.Epoch(e.slot)), "k": u(uint64(e.p.K)), "kdeep_height": u(e.final.Height),
			"produced": u(e.n.produced), "received": u(e.n.received), "rejected": u(e.n.rejected),
			"reorgs": u(e.n.reorgs), "reverted_blocks": u(e.n.reverted), "max_reorg_depth": u(e.n.maxReorg), "forks_refused": u(e.n.refused),
			"orphans": u(uint64(len(e.orphans))), "orphans_dropped": u(e.n.orphaned), "equivocations": u(e.n.equivocations),
			"reorg_depths": depthList(e.n.depths), "last_error": e.n.lastErr,
		}}, nil
}

// depthList writes reorg counts by depth as "depth:count" pairs, by depth.
func depthList(m map[uint64]uint64) string {
	ds := make([]uint64, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%d:%d", d, m[d])
	}
	return strings.Join(parts, " ")
}
