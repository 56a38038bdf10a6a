package fee

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/sdk"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// Version of this plugin.
const Version = "0.1.0"

// recentTipsKey holds the latest included tips for Quote, so a restarted
// plugin quotes as before.
var recentTipsKey = []byte("recent_tips")

// maxRecentTips bounds the tips Quote draws its percentile from.
const maxRecentTips = 1024

// Plugin is the fee plugin: the market of this package behind sdk.Fee.
type Plugin struct {
	mu     sync.Mutex
	params Params
	host   *sdk.Host
	tips   []uint64 // newest last
	ready  bool
	// The tips reach the host's Store from a background writer: pricing
	// runs inside the host's block building and validation, which must
	// not wait for a Store write and its fsync (on a 16-node testnet on
	// one disk that wait reached seconds per block). Tips are a hint for
	// Quote, so a crash loses at most the newest ones.
	kick       chan struct{}
	startOnce  sync.Once
	persistErr error
}

// New returns the unconfigured EIP-1559 fee plugin.
func New() *Plugin { return &Plugin{kick: make(chan struct{}, 1)} }

func (p *Plugin) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindFee, Name: "eip1559", Version: Version, Capabilities: []string{"fee.quote"}}
}

func splitBlock(name, desc string) schema.Block {
	return schema.Single(name,
		schema.Number("burn").Describe("Basis points burnt."),
		schema.Number("treasury").Describe("Basis points to the treasury account."),
		schema.Number("sequencer").Describe("Basis points to the block's sequencer."),
		schema.Number("prover").Describe("Basis points escrowed for the block's proof."),
	).Describe(desc + " Recipients left out get 0; the four must sum to 10000.")
}

func (p *Plugin) ConfigSchema() *schema.Schema {
	d := DefaultParams()
	n := func(v uint64) cty.Value { return cty.NumberUIntVal(v) }
	return schema.New(
		schema.Number("elasticity_multiplier").DefaultTo(n(d.ElasticityMultiplier)).Describe("Gas target = gas limit / elasticity."),
		schema.Number("base_fee_max_change_denominator").DefaultTo(n(d.BaseFeeMaxChangeDenominator)).Describe("Base fee moves at most 1/denominator per block."),
		schema.Number("min_base_fee").DefaultTo(n(d.MinBaseFee)).Describe("Floor of the base fee per gas."),
		schema.Number("max_base_fee").DefaultTo(n(d.MaxBaseFee)).Describe("Ceiling of the base fee per gas; 0 for none."),
		schema.Number("quote_tip_percentile").DefaultTo(n(d.QuoteTipPercentile)).Describe("Percentile of recent tips that Quote suggests."),
		schema.Number("quote_min_tip").DefaultTo(n(d.QuoteMinTip)).Describe("Least tip Quote suggests."),
		splitBlock("base_fee_split", "Split of the base-fee part of every fee (default burn 5000, treasury 1000, prover 4000)."),
		splitBlock("tip_split", "Split of the tip part of every fee (default sequencer 10000)."),
	)
}

func (p *Plugin) Configure(ctx context.Context, req sdk.ConfigureRequest) error {
	params, err := ParseParams(dropAbsentSplits(req.Config))
	if err != nil {
		var errs []error
		var pe *ParamError
		for _, e := range flatten(err) {
			if errors.As(e, &pe) {
				errs = append(errs, &sdk.ConfigError{Path: strings.Split(pe.Field, "."), Summary: pe.Msg})
			} else {
				errs = append(errs, e)
			}
		}
		return errors.Join(errs...)
	}
	tips, err := loadTips(ctx, req.Host)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.params, p.host, p.tips, p.ready = params, req.Host, tips, true
	p.startOnce.Do(func() { go p.persistLoop() })
	return nil
}

// persistLoop writes the newest tips each time rememberTips asks; requests
// that come while a write runs fold into the next one.
func (p *Plugin) persistLoop() {
	for range p.kick {
		p.mu.Lock()
		buf := make([]byte, 0, 8*len(p.tips))
		for _, t := range p.tips {
			buf = binary.BigEndian.AppendUint64(buf, t)
		}
		host := p.host
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := host.Store.Put(ctx, recentTipsKey, buf)
		cancel()
		p.mu.Lock()
		p.persistErr = err
		p.mu.Unlock()
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func loadTips(ctx context.Context, h *sdk.Host) ([]uint64, error) {
	v, err := h.Store.Get(ctx, recentTipsKey)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(v)%8 != 0 || len(v)/8 > maxRecentTips {
		// Our own record, but never trust bytes: start afresh.
		return nil, nil
	}
	tips := make([]uint64, len(v)/8)
	for i := range tips {
		tips[i] = binary.BigEndian.Uint64(v[8*i:])
	}
	return tips, nil
}

func (p *Plugin) Health(context.Context) sdk.Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ready {
		return sdk.Health{Status: sdk.NotServing, Message: "not configured"}
	}
	if p.persistErr != nil {
		return sdk.Health{Status: sdk.Degraded, Message: "recent tips not saved (Quote keeps working from memory): " + p.persistErr.Error()}
	}
	return sdk.Health{Status: sdk.Serving}
}

func (p *Plugin) snapshotTips() []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint64(nil), p.tips...)
}

func (p *Plugin) snapshot() Params {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.params
}

func (p *Plugin) BaseFee(_ context.Context, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error) {
	resp, err := BaseFeeProto(p.snapshot(), req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return resp, nil
}

// PriceBlock prices the block in one call (PriceBlockProto) and keeps
// the included tips for Quote.
func (p *Plugin) PriceBlock(ctx context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error) {
	resp, err := PriceBlockProto(p.snapshot(), req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var tips []uint64
	for _, tp := range resp.GetTxs() {
		if tp.GetReject() == feev1.TxPrice_REJECT_NONE {
			tips = append(tips, tp.GetTipPerGas())
		}
	}
	if len(tips) > 0 {
		p.rememberTips(tips)
	}
	return resp, nil
}

// rememberTips keeps the tips for Quote and asks the background writer
// to save them.
func (p *Plugin) rememberTips(tips []uint64) {
	p.mu.Lock()
	p.tips = append(p.tips, tips...)
	if len(p.tips) > maxRecentTips {
		p.tips = append([]uint64(nil), p.tips[len(p.tips)-maxRecentTips:]...)
	}
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default: // a write is already due; it will take these too
	}
}

func (p *Plugin) Quote(_ context.Context, req *feev1.QuoteRequest) (*feev1.QuoteResponse, error) {
	p.mu.Lock()
	params, tips := p.params, append([]uint64(nil), p.tips...)
	p.mu.Unlock()
	within := uint64(req.GetWithinBlocks())
	if within == 0 {
		within = 1
	}
	q, err := Quote(params, ParentFromProto(req.GetParent()), within, tips)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &feev1.QuoteResponse{BaseFee: q.BaseFee, MaxFeePerGas: q.MaxFeePerGas, MaxPriorityFeePerGas: q.MaxPriorityFeePerGas}, nil
}

// dropAbsentSplits removes split blocks the operator left out: the host
// decodes an absent single block as an object of nulls, which would read as
// a split of all zeros rather than the default split.
func dropAbsentSplits(cfg []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(cfg, &m) != nil {
		return cfg // ParseParams reports the error
	}
	changed := false
	for _, k := range []string{"base_fee_split", "tip_split"} {
		var split map[string]json.RawMessage
		if json.Unmarshal(m[k], &split) != nil {
			continue
		}
		allNull := true
		for _, v := range split {
			if string(v) != "null" {
				allNull = false
			}
		}
		if allNull {
			delete(m, k)
			changed = true
		}
	}
	if !changed {
		return cfg
	}
	out, err := json.Marshal(m)
	if err != nil {
		return cfg
	}
	return out
}
