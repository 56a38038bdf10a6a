package solo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	clock    sdk.Clock
	interval time.Duration
	proposer account.Address
	follow   bool
	// sequencer, when set, is the one validator whose signature makes a
	// block final; unset, the signer must hold > 2/3 of the stake.
	sequencer account.Address
	chainID   string
	// signer signs each block for followers; nil on a node without keys,
	// whose blocks then carry no certificate and cannot be followed.
	signer  hostv1.SignerClient
	self    account.Address
	cancel  context.CancelFunc
	done    chan struct{}
	height  uint64
	final   uint64
	lastErr string
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
		schema.String("sequencer").DefaultTo(cty.StringVal("")).
			Describe("Validator address whose signature makes a block final (a follower's trust anchor); empty: any validator holding more than two thirds of the stake."),
		schema.Bool("follow").DefaultTo(cty.False).
			Describe("Follow the sequencer instead of producing blocks: the host syncs its blocks and this plugin verifies their certificates (the sequencer's BLS signature, checked against the validator set)."),
	)
}

type config struct {
	BlockInterval string `json:"block_interval"`
	Proposer      string `json:"proposer"`
	Follow        bool   `json:"follow"`
	Sequencer     string `json:"sequencer"`
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
	var seq account.Address
	if c.Sequencer != "" {
		if seq, err = account.ParseAddress(c.Sequencer); err != nil {
			return &sdk.ConfigError{Path: []string{"sequencer"}, Summary: "Invalid sequencer address", Detail: err.Error()}
		}
	}
	if req.Host == nil || req.Host.Chain == nil || !req.Node.HasHostCapability(sdk.CapHostChain) {
		return errors.New("the host offers no Chain service (host.chain): give the node a genesis file")
	}
	var signer hostv1.SignerClient
	var self account.Address
	if !c.Follow && req.Host.Signer != nil && req.Node.HasHostCapability(sdk.CapHostSigner) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		keys, err := req.Host.Signer.PublicKeys(ctx, &hostv1.PublicKeysRequest{})
		cancel()
		if err != nil || len(keys.GetAddress()) != account.AddressSize {
			return fmt.Errorf("the host's Signer gave no validator address: %v", err)
		}
		signer = req.Host.Signer
		copy(self[:], keys.GetAddress())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host, p.interval, p.proposer, p.follow, p.chainID = req.Host, iv, prop, c.Follow, req.Node.ChainID
	p.signer, p.self, p.sequencer = signer, self, seq
	p.clock = sdk.HostClock(req.Host.Clock)
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
	if p.follow {
		return &consensusv1.StartResponse{}, nil // the host's sync brings the blocks; VerifyBlock checks them
	}
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
	p.mu.Lock()
	clk := p.clock
	p.mu.Unlock()
	next := clk.Now().Add(interval)
	for {
		select { // a tick per interval, on the host's clock
		case <-ctx.Done():
			return
		case <-clk.After(next.Sub(clk.Now())):
		}
		next = next.Add(interval)
		if now := clk.Now(); next.Before(now) {
			next = now // behind (a slow step): no burst to catch up
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
	prop, clk := p.proposer, p.clock
	p.mu.Unlock()
	req := &hostv1.BuildBlockRequest{ParentHash: head.GetHead().GetHash(), TimestampMs: clk.Now().UnixMilli()}
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
	cert, err := p.certify(ctx, blk)
	if err != nil {
		return fmt.Errorf("certify %d: %w", blk.GetHeader().GetHeight(), err)
	}
	if _, err := c.Finalize(ctx, &hostv1.FinalizeRequest{Hash: blk.GetHash(), Certificate: cert}); err != nil {
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

// certify signs blk for followers, in the first round the Signer accepts;
// nil without a signer.
func (p *Plugin) certify(ctx context.Context, blk *hostv1.Block) ([]byte, error) {
	p.mu.Lock()
	signer, self := p.signer, p.self
	p.mu.Unlock()
	if signer == nil {
		return nil, nil
	}
	h := blk.GetHeader().GetHeight()
	for r := uint32(0); r < maxRounds; r++ {
		res, err := signer.SignConsensus(ctx, &hostv1.SignConsensusRequest{Height: h, Round: r,
			Step: hostv1.SignConsensusRequest_STEP_PRECOMMIT, BlockHash: blk.GetHash()})
		if status.Code(err) == codes.FailedPrecondition {
			continue // another block was signed in this round before a crash
		}
		if err != nil {
			return nil, err
		}
		c := &certificate{round: r, signer: self}
		if len(res.GetSignature()) != len(c.sig) {
			return nil, fmt.Errorf("the Signer returned %d signature bytes", len(res.GetSignature()))
		}
		copy(c.sig[:], res.GetSignature())
		return c.encode(), nil
	}
	return nil, fmt.Errorf("the Signer refused height %d in all %d rounds", h, maxRounds)
}

// VerifyBlock implements sdk.Consensus: a solo block is final if its
// certificate is the signature of a validator holding more than two
// thirds of the stake of the set the host passes (the sequencer) and,
// when this node is configured with one, its proposer is the sequencer's
// fee address.
func (p *Plugin) VerifyBlock(_ context.Context, req *consensusv1.VerifyBlockRequest) (*consensusv1.VerifyBlockResponse, error) {
	p.mu.Lock()
	prop, chainID, seq := p.proposer, p.chainID, p.sequencer
	p.mu.Unlock()
	hd := req.GetBlock().GetHeader()
	got := hd.GetProposer()
	if !prop.IsZero() && string(got) != string(prop[:]) {
		return &consensusv1.VerifyBlockResponse{Reason: fmt.Sprintf("proposer %x is not the sequencer %s", got, prop)}, nil
	}
	cert := req.GetBlock().GetCertificate()
	if len(cert) == 0 {
		return &consensusv1.VerifyBlockResponse{Reason: fmt.Sprintf("block %d carries no certificate: its sequencer runs without a validator key, so it cannot be followed", hd.GetHeight())}, nil
	}
	c, err := decodeCertificate(cert)
	if err != nil {
		return &consensusv1.VerifyBlockResponse{Reason: err.Error()}, nil
	}
	if chainID == "" {
		chainID = hd.GetChainId()
	}
	if err := c.verify(chainID, hd.GetHeight(), req.GetBlock().GetHash(), req.GetValidators(), seq); err != nil {
		return &consensusv1.VerifyBlockResponse{Reason: err.Error()}, nil
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
	step := "produce"
	if p.follow {
		step = "follow"
	}
	return &consensusv1.StatusResponse{Height: p.height, FinalHeight: p.final, Validator: !p.follow, Step: step,
		Details: map[string]string{"interval": p.interval.String(), "last_error": p.lastErr}}, nil
}
