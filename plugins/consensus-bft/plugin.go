package bft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/sdk"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// Version of the plugin.
const Version = "0.1.0"

// Config defaults.
const (
	DefaultTimeoutPropose      = time.Second
	DefaultTimeoutProposeDelta = 500 * time.Millisecond
	DefaultTimeoutVote         = 500 * time.Millisecond
	DefaultTimeoutVoteDelta    = 250 * time.Millisecond
	DefaultBlockInterval       = 200 * time.Millisecond
)

// Plugin is the BFT consensus plugin.
type Plugin struct {
	log hclog.Logger

	mu   sync.Mutex
	host *sdk.Host
	node sdk.NodeInfo
	cfg  Config
	eng  *engine
	// set by tests to run the engine over fakes
	svc *services
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
	return sdk.Info{Kind: sdk.KindConsensus, Name: "bft", Version: Version}
}

// durations are the config attributes that hold Go durations, with their
// defaults and lower bounds.
var durations = []struct {
	name string
	def  time.Duration
	min  time.Duration
	doc  string
}{
	{"timeout_propose", DefaultTimeoutPropose, time.Millisecond, "How long round 0 waits for a proposal."},
	{"timeout_propose_delta", DefaultTimeoutProposeDelta, 0, "Added to timeout_propose for each later round."},
	{"timeout_vote", DefaultTimeoutVote, time.Millisecond, "How long round 0 waits for more votes once more than two thirds of the stake voted (prevote and precommit)."},
	{"timeout_vote_delta", DefaultTimeoutVoteDelta, 0, "Added to timeout_vote for each later round."},
	{"block_interval", DefaultBlockInterval, 0, "Pause after a decision before the next height starts."},
	{"empty_block_interval", 0, 0, "When not zero, a height with nothing in the mempool waits for a transaction, at most this long after its parent's timestamp, before producing an empty block; zero produces a block every block_interval. Needs a host that reports its mempool (host.chain.mempool)."},
}

// ConfigSchema implements sdk.Plugin.
func (p *Plugin) ConfigSchema() *schema.Schema {
	var ms []schema.Member
	for _, d := range durations {
		ms = append(ms, schema.String(d.name).DefaultTo(cty.StringVal(d.def.String())).
			Describe(d.doc+" A Go duration such as \"500ms\" or \"2s\"."))
	}
	return schema.New(ms...)
}

// ParseConfig reads the decoded config block (JSON from the host).
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	m := map[string]string{}
	if len(raw) > 0 {
		if err := schema.DecodeJSON(raw, &m); err != nil {
			return c, err
		}
	}
	var errs []error
	vals := make([]time.Duration, len(durations))
	for i, d := range durations {
		s, ok := m[d.name]
		if !ok || s == "" {
			vals[i] = d.def
			continue
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < d.min || v > time.Hour {
			errs = append(errs, &sdk.ConfigError{Path: []string{d.name}, Summary: "Invalid duration",
				Detail: fmt.Sprintf("%q is not a Go duration between %v and 1h", s, d.min)})
			continue
		}
		vals[i] = v
	}
	for k := range m {
		known := false
		for _, d := range durations {
			known = known || d.name == k
		}
		if !known {
			errs = append(errs, &sdk.ConfigError{Path: []string{k}, Summary: "Unknown attribute"})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	c.TimeoutPropose, c.TimeoutProposeDelta, c.TimeoutVote, c.TimeoutVoteDelta, c.BlockInterval = vals[0], vals[1], vals[2], vals[3], vals[4]
	c.EmptyBlockInterval = vals[5]
	return c, nil
}

// Configure implements sdk.Plugin.
func (p *Plugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	c, err := ParseConfig(req.Config)
	if err != nil {
		return err
	}
	if req.Host == nil {
		return errors.New("bft: configured without host services")
	}
	if req.Node.ChainID == "" || len(req.Node.ChainID) > vote.MaxChainIDLen {
		return fmt.Errorf("bft: chain id %q unusable", req.Node.ChainID)
	}
	c.ChainID = req.Node.ChainID
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host, p.node, p.cfg = req.Host, req.Node, c
	return nil
}

// Health implements sdk.Plugin.
func (p *Plugin) Health(context.Context) sdk.Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.host == nil && p.svc == nil {
		return sdk.Health{Status: sdk.NotServing, Message: "not configured"}
	}
	if p.eng == nil {
		return sdk.Health{Status: sdk.Serving, Message: "not started"}
	}
	s := p.eng.status()
	if s.lastErr != "" {
		return sdk.Health{Status: sdk.Degraded, Message: s.lastErr}
	}
	if p.eng.note != "" {
		return sdk.Health{Status: sdk.Degraded, Message: p.eng.note}
	}
	return sdk.Health{Status: sdk.Serving}
}

func (p *Plugin) services() (services, bool) {
	if p.svc != nil {
		return *p.svc, p.svc.Signer != nil
	}
	h := p.host
	svc := services{Chain: h.Chain, Network: h.Network, Store: h.Store}
	if p.node.HasHostCapability(sdk.CapHostSigner) {
		svc.Signer = h.Signer
	}
	if p.node.HasHostCapability(sdk.CapHostClock) {
		svc.Clock = h.Clock
	}
	if p.node.HasHostCapability(sdk.CapHostMetrics) {
		svc.Metrics = h.Metrics
	}
	if !p.node.HasHostCapability(sdk.CapHostStore) {
		svc.Store = nil
	}
	return svc, svc.Signer != nil
}

// Start implements sdk.Consensus: the engine runs from finalized+1 until
// Stop, resuming the height from the write-ahead log after a restart.
func (p *Plugin) Start(ctx context.Context, req *consensusv1.StartRequest) (*consensusv1.StartResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.host == nil && p.svc == nil {
		return nil, sdk.ErrNotConfigured
	}
	if p.eng != nil {
		return &consensusv1.StartResponse{}, nil
	}
	if p.svc == nil && (!p.node.HasHostCapability(sdk.CapHostChain) || !p.node.HasHostCapability(sdk.CapHostNetwork)) {
		return nil, errors.New("bft: the host offers no Chain or Network service (host.chain, host.network): give the node a genesis file and a network")
	}
	svc, canSign := p.services()
	if p.cfg.EmptyBlockInterval > 0 && p.svc == nil && !p.node.HasHostCapability(sdk.CapHostChainMempool) {
		p.log.Warn("empty_block_interval is set but the host does not report its mempool (host.chain.mempool): every height starts at once")
	}
	validator := req.GetValidator()
	var self account.Address
	var why string
	if validator {
		// A node asked to validate without a usable signer follows and
		// says so in Health, rather than failing the node.
		switch r, err := signerAddress(ctx, svc, canSign); {
		case err != nil:
			why = err.Error()
			validator = false
			p.log.Warn("not validating: following only", "reason", why)
		default:
			self = r
		}
	}
	if !validator {
		svc.Signer = nil
	}
	e := newEngine(p.cfg, svc, p.log, validator, self)
	if why != "" {
		e.note = "validator requested, following only: " + why
	}
	if err := e.start(req.GetFinalized()); err != nil {
		return nil, err
	}
	p.eng = e
	return &consensusv1.StartResponse{}, nil
}

func signerAddress(ctx context.Context, svc services, canSign bool) (account.Address, error) {
	var a account.Address
	if !canSign || svc.Store == nil {
		return a, errors.New("a validator needs the host's Signer and Store (host.signer, host.store)")
	}
	r, err := svc.Signer.PublicKeys(ctx, &hostv1.PublicKeysRequest{})
	if err != nil {
		return a, fmt.Errorf("signer public keys: %w", err)
	}
	if len(r.GetAddress()) != account.AddressSize {
		return a, fmt.Errorf("signer address of %d bytes", len(r.GetAddress()))
	}
	copy(a[:], r.GetAddress())
	return a, nil
}

// Stop implements sdk.Consensus. The write-ahead log is written before
// every signed message, so there is nothing left to persist.
func (p *Plugin) Stop(context.Context, *consensusv1.StopRequest) (*consensusv1.StopResponse, error) {
	p.mu.Lock()
	e := p.eng
	p.eng = nil
	p.mu.Unlock()
	if e != nil {
		e.stop()
	}
	return &consensusv1.StopResponse{}, nil
}

func (p *Plugin) chainID(b *hostv1.Block) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg.ChainID != "" {
		return p.cfg.ChainID
	}
	return b.GetHeader().GetChainId()
}

func (p *Plugin) chain() hostv1.ChainClient {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.svc != nil {
		return p.svc.Chain
	}
	if p.host != nil {
		return p.host.Chain
	}
	return nil
}

// VerifyBlock implements sdk.Consensus: a block with a certificate under
// the given set (the set deciding its height) is valid and final; one
// whose consensus data certifies its parent is valid.
func (p *Plugin) VerifyBlock(ctx context.Context, req *consensusv1.VerifyBlockRequest) (*consensusv1.VerifyBlockResponse, error) {
	b := req.GetBlock()
	hd := b.GetHeader()
	if hd == nil || len(b.GetHash()) != vote.HashSize {
		return &consensusv1.VerifyBlockResponse{Reason: "block without header or hash"}, nil
	}
	chainID := p.chainID(b)
	if c := b.GetCertificate(); len(c) > 0 {
		if err := verifyCertFor(chainID, c, hd.GetHeight(), b.GetHash(), req.GetValidators()); err != nil {
			return &consensusv1.VerifyBlockResponse{Reason: err.Error()}, nil
		}
		var h [vote.HashSize]byte
		copy(h[:], b.GetHash())
		stash.put(h, c)
		return &consensusv1.VerifyBlockResponse{Valid: true, Final: true}, nil
	}
	cd := hd.GetConsensusData()
	if len(cd) == 0 || hd.GetHeight() <= 1 {
		// The first block's parent is genesis, which has no certificate:
		// only its own certificate shows it was agreed.
		return &consensusv1.VerifyBlockResponse{Reason: fmt.Sprintf("block %d has no certificate and no certificate of its parent", hd.GetHeight())}, nil
	}
	c := p.chain()
	if c == nil {
		return &consensusv1.VerifyBlockResponse{Reason: "no Chain service to find the parent's validator set"}, nil
	}
	// The parent's certificate is checked against the set deciding the
	// parent's height: the set after block height-2.
	r, err := c.ValidatorSet(ctx, &hostv1.ValidatorSetRequest{Height: hd.GetHeight() - 2})
	if err != nil {
		return nil, fmt.Errorf("bft: validator set for height %d: %w", hd.GetHeight()-1, err)
	}
	if err := verifyCertFor(chainID, cd, hd.GetHeight()-1, hd.GetParentHash(), r.GetSet()); err != nil {
		return &consensusv1.VerifyBlockResponse{Reason: "consensus data: " + err.Error()}, nil
	}
	return &consensusv1.VerifyBlockResponse{Valid: true}, nil
}

// stash keeps the certificates VerifyBlock accepted, for the engine.
var stash = newCertStash()

func verifyCertFor(chainID string, enc []byte, height uint64, hash []byte, set *hostv1.ValidatorSet) error {
	c, err := DecodeCertificate(enc)
	if err != nil {
		return err
	}
	if c.Height != height || !bytes.Equal(c.BlockHash[:], hash) {
		return fmt.Errorf("%w: certifies %x at height %d, not %x at %d", ErrCertificateRejected, c.BlockHash, c.Height, hash, height)
	}
	vs, err := NewValidatorSet(set)
	if err != nil {
		return err
	}
	return c.Verify(chainID, vs)
}

// ForkChoice implements sdk.Consensus: BFT never forks below the final
// block, so the head is the highest candidate that extends it.
func (p *Plugin) ForkChoice(ctx context.Context, req *consensusv1.ForkChoiceRequest) (*consensusv1.ForkChoiceResponse, error) {
	fin := req.GetFinalized()
	byHash := make(map[string]*hostv1.Block, len(req.GetCandidates()))
	for _, b := range req.GetCandidates() {
		byHash[string(b.GetHash())] = b
	}
	var best *hostv1.Block
	for _, b := range req.GetCandidates() {
		if !p.extends(ctx, b, fin, byHash) {
			continue
		}
		if best == nil || b.GetHeader().GetHeight() > best.GetHeader().GetHeight() ||
			(b.GetHeader().GetHeight() == best.GetHeader().GetHeight() && bytes.Compare(b.GetHash(), best.GetHash()) < 0) {
			best = b
		}
	}
	if best == nil {
		if fin == nil {
			return nil, errors.New("bft: no candidate extends the final block")
		}
		return &consensusv1.ForkChoiceResponse{HeadHash: fin.GetHash()}, nil
	}
	return &consensusv1.ForkChoiceResponse{HeadHash: best.GetHash()}, nil
}

// maxWalk bounds how far ForkChoice walks back to the final block.
const maxWalk = 256

func (p *Plugin) extends(ctx context.Context, b, fin *hostv1.Block, known map[string]*hostv1.Block) bool {
	if fin == nil {
		return true
	}
	fh := fin.GetHeader().GetHeight()
	if bytes.Equal(b.GetHash(), fin.GetHash()) {
		return true
	}
	if b.GetHeader().GetHeight() <= fh {
		return false
	}
	c := p.chain()
	for i := 0; i < maxWalk; i++ {
		if b.GetHeader().GetHeight() == fh+1 {
			return bytes.Equal(b.GetHeader().GetParentHash(), fin.GetHash())
		}
		if parent := known[string(b.GetHeader().GetParentHash())]; parent != nil {
			if parent.GetHeader().GetHeight()+1 != b.GetHeader().GetHeight() {
				return false
			}
			b = parent
			continue
		}
		if c == nil {
			return false
		}
		r, err := c.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Hash{Hash: b.GetHeader().GetParentHash()}}})
		if err != nil || r.GetBlock().GetHeader().GetHeight()+1 != b.GetHeader().GetHeight() {
			return false
		}
		b = r.GetBlock()
	}
	return false
}

// Status implements sdk.Consensus.
func (p *Plugin) Status(context.Context, *consensusv1.StatusRequest) (*consensusv1.StatusResponse, error) {
	p.mu.Lock()
	e := p.eng
	p.mu.Unlock()
	if e == nil {
		return &consensusv1.StatusResponse{Step: "stopped"}, nil
	}
	s := e.status()
	d := map[string]string{
		"rounds_last_height": strconv.FormatUint(s.roundsLast, 10),
		"votes_received":     strconv.FormatUint(s.votes, 10),
		"proposer":           s.proposer,
		"evidence_reported":  strconv.FormatUint(e.evidence.Load(), 10),
	}
	if s.lastErr != "" {
		d["last_error"] = s.lastErr
	}
	if e.note != "" {
		d["note"] = e.note
	}
	return &consensusv1.StatusResponse{Height: s.height, Round: s.round, Step: s.stepName(), Validator: s.validator,
		FinalHeight: s.final, Details: d}, nil
}
