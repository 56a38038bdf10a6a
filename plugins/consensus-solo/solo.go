package solo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/sdk"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// Version of the plugin.
const Version = "0.1.0"

// Defaults.
const DefaultInterval = time.Second

// Plugin is the solo sequencer.
type Plugin struct {
	log hclog.Logger

	mu       sync.Mutex
	host     *sdk.Host
	interval time.Duration
	proposer account.Address
	cancel   context.CancelFunc
	done     chan struct{}
	height   uint64
	final    uint64
	lastErr  string
}

// New returns an unconfigured plugin logging to log.
func New(log hclog.Logger) *Plugin { return &Plugin{log: log} }

// Info implements sdk.Plugin.
func (p *Plugin) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindConsensus, Name: "solo", Version: Version, Capabilities: []string{sdk.CapConsensusKeyless}}
}

// ConfigSchema implements sdk.Plugin.
func (p *Plugin) ConfigSchema() *schema.Schema {
	return schema.New(
		schema.String("block_interval").DefaultTo(cty.StringVal(DefaultInterval.String())).
			Describe("Time between blocks, a Go duration such as \"500ms\" or \"2s\"."),
		schema.String("proposer").DefaultTo(cty.StringVal("")).
			Describe("Address credited with the sequencer's share of fees; empty sends it to the treasury."),
	)
}

type config struct {
	BlockInterval string `json:"block_interval"`
	Proposer      string `json:"proposer"`
}

// Configure implements sdk.Plugin.
func (p *Plugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	var c config
	if err := schema.DecodeJSON(req.Config, &c); err != nil {
		return err
	}
	iv, err := time.ParseDuration(c.BlockInterval)
	if err != nil || iv < time.Millisecond {
		return &sdk.ConfigError{Path: []string{"block_interval"}, Summary: "Invalid block interval",
			Detail: fmt.Sprintf("%q is not a duration of at least 1ms", c.BlockInterval)}
	}
	var prop account.Address
	if c.Proposer != "" {
		if prop, err = account.ParseAddress(c.Proposer); err != nil {
			return &sdk.ConfigError{Path: []string{"proposer"}, Summary: "Invalid proposer address", Detail: err.Error()}
		}
	}
	if req.Host == nil || req.Host.Chain == nil || !req.Node.HasHostCapability(sdk.CapHostChain) {
		return errors.New("the host offers no Chain service (host.chain): give the node a genesis file")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host, p.interval, p.proposer = req.Host, iv, prop
	return nil
}

// Health implements sdk.Plugin.
func (p *Plugin) Health(context.Context) sdk.Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.host == nil {
		return sdk.Health{Status: sdk.NotServing, Message: "not configured"}
	}
	return sdk.Health{Status: sdk.Serving, Message: p.lastErr}
}

// Start implements sdk.Consensus: block production runs until Stop.
func (p *Plugin) Start(_ context.Context, req *consensusv1.StartRequest) (*consensusv1.StartResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.host == nil {
		return nil, errors.New("start before configure")
	}
	if p.cancel != nil {
		return &consensusv1.StartResponse{}, nil
	}
	p.height, p.final = req.GetHead().GetHeader().GetHeight(), req.GetFinalized().GetHeader().GetHeight()
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.run(ctx, p.host.Chain, p.interval, p.done)
	return &consensusv1.StartResponse{}, nil
}

// Stop implements sdk.Consensus.
func (p *Plugin) Stop(context.Context, *consensusv1.StopRequest) (*consensusv1.StopResponse, error) {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel = nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return &consensusv1.StopResponse{}, nil
}

func (p *Plugin) run(ctx context.Context, c hostv1.ChainClient, interval time.Duration, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := p.step(ctx, c)
		p.mu.Lock()
		p.lastErr = ""
		if err != nil && ctx.Err() == nil {
			p.lastErr = err.Error()
			p.log.Warn("block not produced", "error", err)
		}
		p.mu.Unlock()
	}
}

// step produces one block: build on the head, commit, set head, finalize.
func (p *Plugin) step(ctx context.Context, c hostv1.ChainClient) error {
	head, err := c.Head(ctx, &hostv1.HeadRequest{})
	if err != nil {
		return fmt.Errorf("head: %w", err)
	}
	p.mu.Lock()
	prop := p.proposer
	p.mu.Unlock()
	req := &hostv1.BuildBlockRequest{ParentHash: head.GetHead().GetHash(), TimestampMs: time.Now().UnixMilli()}
	if !prop.IsZero() {
		req.Proposer = prop[:]
	}
	b, err := c.BuildBlock(ctx, req)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	blk := b.GetBlock()
	if _, err := c.CommitBlock(ctx, &hostv1.CommitBlockRequest{Encoded: blk.GetEncoded()}); err != nil {
		return fmt.Errorf("commit %d: %w", blk.GetHeader().GetHeight(), err)
	}
	if _, err := c.SetHead(ctx, &hostv1.SetHeadRequest{Hash: blk.GetHash()}); err != nil {
		return fmt.Errorf("set head %d: %w", blk.GetHeader().GetHeight(), err)
	}
	if _, err := c.Finalize(ctx, &hostv1.FinalizeRequest{Hash: blk.GetHash()}); err != nil {
		return fmt.Errorf("finalize %d: %w", blk.GetHeader().GetHeight(), err)
	}
	p.mu.Lock()
	p.height, p.final = blk.GetHeader().GetHeight(), blk.GetHeader().GetHeight()
	p.mu.Unlock()
	if n := blk.GetTxCount(); n > 0 {
		p.log.Debug("block", "height", blk.GetHeader().GetHeight(), "txs", n)
	}
	return nil
}

// VerifyBlock implements sdk.Consensus: a solo block is valid if its
// proposer is this network's sequencer; it is final as soon as it is.
func (p *Plugin) VerifyBlock(_ context.Context, req *consensusv1.VerifyBlockRequest) (*consensusv1.VerifyBlockResponse, error) {
	p.mu.Lock()
	prop := p.proposer
	p.mu.Unlock()
	got := req.GetBlock().GetHeader().GetProposer()
	if !prop.IsZero() && string(got) != string(prop[:]) {
		return &consensusv1.VerifyBlockResponse{Reason: fmt.Sprintf("proposer %x is not the sequencer %s", got, prop)}, nil
	}
	return &consensusv1.VerifyBlockResponse{Valid: true, Final: true}, nil
}

// ForkChoice implements sdk.Consensus: the highest candidate (ties by hash),
// though a single sequencer never forks.
func (p *Plugin) ForkChoice(_ context.Context, req *consensusv1.ForkChoiceRequest) (*consensusv1.ForkChoiceResponse, error) {
	var best *hostv1.Block
	for _, b := range req.GetCandidates() {
		if best == nil || b.GetHeader().GetHeight() > best.GetHeader().GetHeight() ||
			(b.GetHeader().GetHeight() == best.GetHeader().GetHeight() && string(b.GetHash()) < string(best.GetHash())) {
			best = b
		}
	}
	if best == nil {
		return nil, errors.New("no candidates")
	}
	return &consensusv1.ForkChoiceResponse{HeadHash: best.GetHash()}, nil
}

// Status implements sdk.Consensus.
func (p *Plugin) Status(context.Context, *consensusv1.StatusRequest) (*consensusv1.StatusResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &consensusv1.StatusResponse{Height: p.height, FinalHeight: p.final, Validator: true, Step: "produce",
		Details: map[string]string{"interval": p.interval.String(), "last_error": p.lastErr}}, nil
}
