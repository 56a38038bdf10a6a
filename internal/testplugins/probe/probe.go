package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/sdk"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	dav1 "github.com/trellis-chain/trellis/sdk/proto/trellis/da/v1"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

type config struct {
	Greeting string `json:"greeting"`
	Limit    int    `json:"limit"`
}

type probe struct {
	kind, name, mode string
	after            time.Duration

	mu       sync.Mutex
	host     *sdk.Host
	cfg      config
	starts   uint64
	received atomic.Int64
	cancel   context.CancelFunc
}

func (p *probe) Info() sdk.Info {
	return sdk.Info{Kind: p.kind, Name: p.name, Version: "0.0.1"}
}

func (p *probe) ConfigSchema() *schema.Schema {
	if p.mode == "bad-schema" || p.mode == "bad-schema-raw" {
		return &schema.Schema{Attributes: []schema.Attribute{{Name: "x", Type: cty.String}, {Name: "x", Type: cty.Number}}}
	}
	return schema.New(
		schema.String("greeting").DefaultTo(cty.StringVal("hello")).Describe("What the probe says."),
		schema.Number("limit").DefaultTo(cty.NumberIntVal(10)),
	)
}

func (p *probe) Configure(ctx context.Context, req sdk.ConfigureRequest) error {
	switch p.mode {
	case "crash-configure":
		os.Stderr.WriteString("probe: crashing in Configure as asked\n")
		os.Exit(4)
	case "hang-configure":
		<-ctx.Done()
		time.Sleep(time.Hour)
	}
	var c config
	if err := schema.DecodeJSON(req.Config, &c); err != nil {
		return err
	}
	if c.Limit < 0 {
		return &sdk.ConfigError{Path: []string{"limit"}, Summary: "must not be negative"}
	}
	// Count starts in the plugin's own Store: a restarted probe resumes
	// from it, as real plugins resume from their write-ahead logs.
	var starts uint64
	if v, err := req.Host.Store.Get(ctx, []byte("starts")); err == nil && len(v) == 8 {
		starts = binary.BigEndian.Uint64(v)
	} else if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return err
	}
	starts++
	if err := req.Host.Store.Put(ctx, []byte("starts"), binary.BigEndian.AppendUint64(nil, starts)); err != nil {
		return err
	}
	p.mu.Lock()
	p.host, p.cfg, p.starts = req.Host, c, starts
	p.mu.Unlock()
	if p.mode == "crash-after" {
		go func() {
			time.Sleep(p.after)
			os.Exit(5)
		}()
	}
	return nil
}

func (p *probe) Health(ctx context.Context) sdk.Health {
	if p.mode == "hang-health" {
		<-ctx.Done()
		time.Sleep(time.Hour)
	}
	if p.mode == "broken" {
		return sdk.Health{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return sdk.Health{Status: sdk.Serving, Message: p.cfg.Greeting, Details: map[string]string{
		"starts": itoa(p.starts), "received": itoa(uint64(p.received.Load())),
	}}
}

// Fee: a flat fee market, enough for the conformance kit's checks; the
// broken mode returns splits that do not sum to the fee.
func (p *probe) BaseFee(_ context.Context, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error) {
	return &feev1.BaseFeeResponse{BaseFee: max(req.GetParent().GetBaseFee(), 1)}, nil
}

func (p *probe) PriceBlock(_ context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error) {
	base := max(req.GetParent().GetBaseFee(), 1)
	resp := &feev1.PriceBlockResponse{BaseFee: base, NextBaseFee: base, Totals: &feev1.Split{}}
	for _, tx := range req.GetTxs() {
		if tx.GetMaxFeePerGas() < base {
			resp.Txs = append(resp.Txs, &feev1.TxPrice{Reject: feev1.TxPrice_REJECT_FEE_CAP_TOO_LOW, Reason: "fee cap below base fee"})
			continue
		}
		fee := tx.GetGasUsed() * base
		split := &feev1.Split{Burn: fee}
		if p.mode == "broken" {
			split.Burn = fee + 1
		}
		resp.GasUsed += tx.GetGasUsed()
		resp.Totals.Burn += split.Burn
		resp.Txs = append(resp.Txs, &feev1.TxPrice{EffectiveGasPrice: base, Fee: fee, Split: split})
	}
	return resp, nil
}

func (p *probe) Quote(_ context.Context, req *feev1.QuoteRequest) (*feev1.QuoteResponse, error) {
	b := max(req.GetParent().GetBaseFee(), 1)
	return &feev1.QuoteResponse{BaseFee: b, MaxFeePerGas: 2 * b}, nil
}

// Consensus: Start subscribes to the "bench" topic and counts what arrives,
// which the runtime's streaming benchmark reads back through Status.
func (p *probe) Start(_ context.Context, _ *consensusv1.StartRequest) (*consensusv1.StartResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return &consensusv1.StartResponse{}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	stream, err := p.host.Network.Subscribe(ctx, &hostv1.SubscribeRequest{Topic: "bench"})
	if err != nil {
		cancel()
		p.cancel = nil
		return nil, err
	}
	// The subscription is live once the host has seen the call; wait for
	// its header so a publish right after Start is not lost.
	if _, err := stream.Header(); err != nil {
		cancel()
		p.cancel = nil
		return nil, err
	}
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				return
			}
			p.received.Add(1)
		}
	}()
	return &consensusv1.StartResponse{}, nil
}

func (p *probe) Stop(context.Context, *consensusv1.StopRequest) (*consensusv1.StopResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
	return &consensusv1.StopResponse{}, nil
}

func (p *probe) VerifyBlock(_ context.Context, req *consensusv1.VerifyBlockRequest) (*consensusv1.VerifyBlockResponse, error) {
	if len(req.GetBlock().GetHeader().GetConsensusData()) == 0 {
		return &consensusv1.VerifyBlockResponse{Reason: "no consensus data"}, nil
	}
	return &consensusv1.VerifyBlockResponse{Valid: true}, nil
}

func (p *probe) ForkChoice(_ context.Context, req *consensusv1.ForkChoiceRequest) (*consensusv1.ForkChoiceResponse, error) {
	var best *hostv1.Block
	for _, c := range req.GetCandidates() {
		if best == nil || c.GetHeader().GetHeight() > best.GetHeader().GetHeight() {
			best = c
		}
	}
	return &consensusv1.ForkChoiceResponse{HeadHash: best.GetHash()}, nil
}

func (p *probe) Status(context.Context, *consensusv1.StatusRequest) (*consensusv1.StatusResponse, error) {
	return &consensusv1.StatusResponse{Step: "probe", Details: map[string]string{"received": itoa(uint64(p.received.Load()))}}, nil
}

// Prover: reports progress and returns a marker "proof"; the probe is never
// used where a proof is verified.
func (p *probe) Capabilities(context.Context, *proverv1.CapabilitiesRequest) (*proverv1.CapabilitiesResponse, error) {
	return &proverv1.CapabilitiesResponse{Backend: "probe", Cores: 1, Statements: []string{"probe/v1"}}, nil
}

func (p *probe) Prove(ctx context.Context, req *proverv1.ProveRequest, progress func(*proverv1.Progress) error) (*proverv1.Result, error) {
	if req.GetStatement() != "probe/v1" {
		return nil, status.Errorf(codes.InvalidArgument, "unknown statement %q", req.GetStatement())
	}
	for i := 1; i <= 4; i++ {
		if err := progress(&proverv1.Progress{Stage: "probe", Fraction: float64(i) / 4}); err != nil {
			return nil, err
		}
	}
	return &proverv1.Result{Proof: append([]byte("probe:"), req.GetJobId()...)}, ctx.Err()
}

// DA: an identity code, enough for the contract checks.
func (p *probe) Encode(_ context.Context, req *dav1.EncodeRequest) (*dav1.EncodeResponse, error) {
	h := sha256.Sum256(req.GetData())
	return &dav1.EncodeResponse{Commitments: [][]byte{h[:]}, DataShares: 1, TotalShares: 1, Scheme: "probe/v1"}, nil
}

func (p *probe) Sample(_ context.Context, req *dav1.SampleRequest) (*dav1.SampleResponse, error) {
	return &dav1.SampleResponse{}, nil
}

func (p *probe) Verify(_ context.Context, req *dav1.VerifyRequest) (*dav1.VerifyResponse, error) {
	// The identity code has one share, the data, committed to by its hash.
	for _, s := range req.GetShares() {
		h := sha256.Sum256(s.GetData())
		if s.GetIndex() != 0 || !bytes.Equal(h[:], req.GetCommitment()) {
			return &dav1.VerifyResponse{Reason: "share does not open the commitment", BadIndices: []uint32{s.GetIndex()}}, nil
		}
	}
	return &dav1.VerifyResponse{Valid: true}, nil
}

func (p *probe) Reconstruct(context.Context, *dav1.ReconstructRequest) (*dav1.ReconstructResponse, error) {
	return &dav1.ReconstructResponse{}, nil
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
