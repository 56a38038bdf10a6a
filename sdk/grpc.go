package sdk

import (
	"context"
	"errors"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	dav1 "github.com/trellis-chain/trellis/sdk/proto/trellis/da/v1"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// PluginSet returns the go-plugin set of protocol v1 for one kind: the
// common service and the kind's service. impl is nil on the host side.
func PluginSet(kind string, impl Plugin) plugin.PluginSet {
	c := &commonPlugin{impl: impl}
	set := plugin.PluginSet{commonName: c}
	switch kind {
	case KindFee:
		set[kind] = &kindPlugin{register: func(s *grpc.Server) { feev1.RegisterFeeServer(s, &feeServer{common: c}) },
			client: func(cc *grpc.ClientConn) any { return feev1.NewFeeClient(cc) }}
	case KindConsensus:
		set[kind] = &kindPlugin{register: func(s *grpc.Server) { consensusv1.RegisterConsensusServer(s, &consensusServer{common: c}) },
			client: func(cc *grpc.ClientConn) any { return consensusv1.NewConsensusClient(cc) }}
	case KindProver:
		set[kind] = &kindPlugin{register: func(s *grpc.Server) { proverv1.RegisterProverServer(s, &proverServer{common: c}) },
			client: func(cc *grpc.ClientConn) any { return proverv1.NewProverClient(cc) }}
	case KindDA:
		set[kind] = &kindPlugin{register: func(s *grpc.Server) { dav1.RegisterDataAvailabilityServer(s, &daServer{common: c}) },
			client: func(cc *grpc.ClientConn) any { return dav1.NewDataAvailabilityClient(cc) }}
	}
	return set
}

// VersionedPlugins returns the protocol versions a host offers for kind.
func VersionedPlugins(kind string) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: PluginSet(kind, nil)}
}

// CommonClient is what the host dispenses under the common name: the common
// service plus the broker through which it serves host services.
type CommonClient struct {
	pluginv1.PluginClient
	Broker *plugin.GRPCBroker
	Conn   *grpc.ClientConn
}

// CommonName is the name under which the host dispenses the common service.
const CommonName = commonName

type commonPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Plugin

	mu     sync.Mutex
	broker *plugin.GRPCBroker
	host   *Host
	ready  bool
}

func (p *commonPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	p.broker = b
	pluginv1.RegisterPluginServer(s, &commonServer{p: p})
	return nil
}

func (p *commonPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &CommonClient{PluginClient: pluginv1.NewPluginClient(cc), Broker: b, Conn: cc}, nil
}

// configured returns ErrNotConfigured as a gRPC status until Configure ran.
func (p *commonPlugin) configured() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ready {
		return status.Error(codes.FailedPrecondition, ErrNotConfigured.Error())
	}
	return nil
}

type kindPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	register func(*grpc.Server)
	client   func(*grpc.ClientConn) any
}

func (p *kindPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.register(s)
	return nil
}

func (p *kindPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return p.client(cc), nil
}

type commonServer struct {
	pluginv1.UnimplementedPluginServer
	p *commonPlugin
}

func (s *commonServer) Info(context.Context, *pluginv1.InfoRequest) (*pluginv1.InfoResponse, error) {
	info := s.p.impl.Info()
	return &pluginv1.InfoResponse{
		Kind: info.Kind, Name: info.Name, Version: info.Version,
		ProtocolVersions: []uint32{ProtocolVersion},
		Capabilities:     info.Capabilities,
		SdkVersion:       Version,
	}, nil
}

func (s *commonServer) ConfigSchema(context.Context, *pluginv1.ConfigSchemaRequest) (*pluginv1.ConfigSchemaResponse, error) {
	sc := s.p.impl.ConfigSchema()
	if sc == nil {
		sc = &schema.Schema{}
	}
	ps, err := schema.ToProto(sc)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "plugin schema: %v", err)
	}
	return &pluginv1.ConfigSchemaResponse{Schema: ps}, nil
}

func (s *commonServer) Configure(ctx context.Context, req *pluginv1.ConfigureRequest) (*pluginv1.ConfigureResponse, error) {
	s.p.mu.Lock()
	if s.p.ready {
		s.p.mu.Unlock()
		return nil, status.Error(codes.FailedPrecondition, "plugin already configured")
	}
	s.p.mu.Unlock()
	host, err := dialHost(s.p.broker, req.GetHostServices(), req.GetNode().GetHostCapabilities())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dial host services: %v", err)
	}
	n := req.GetNode()
	err = s.p.impl.Configure(ctx, ConfigureRequest{
		Config: req.GetConfigJson(),
		Host:   host,
		Node: NodeInfo{ChainID: n.GetChainId(), NodeName: n.GetNodeName(), HostVersion: n.GetHostVersion(),
			HostCapabilities: n.GetHostCapabilities(), Restarts: n.GetRestarts()},
	})
	if err != nil {
		_ = host.Close() // the refused configuration's connection; the error to report is err
		resp := &pluginv1.ConfigureResponse{}
		for _, ce := range ConfigErrors(err) {
			resp.Diagnostics = append(resp.Diagnostics, &pluginv1.Diagnostic{
				Severity: pluginv1.Diagnostic_SEVERITY_ERROR, Summary: ce.Summary, Detail: ce.Detail, AttributePath: ce.Path,
			})
		}
		return resp, nil
	}
	s.p.mu.Lock()
	s.p.host, s.p.ready = host, true
	s.p.mu.Unlock()
	return &pluginv1.ConfigureResponse{}, nil
}

func (s *commonServer) Health(ctx context.Context, _ *pluginv1.HealthRequest) (*pluginv1.HealthResponse, error) {
	h := s.p.impl.Health(ctx)
	st := pluginv1.HealthResponse_STATUS_NOT_SERVING
	switch h.Status {
	case Serving:
		st = pluginv1.HealthResponse_STATUS_SERVING
	case Degraded:
		st = pluginv1.HealthResponse_STATUS_DEGRADED
	}
	return &pluginv1.HealthResponse{Status: st, Message: h.Message, Details: h.Details}, nil
}

// toStatus keeps gRPC statuses a plugin returned and maps other errors to
// codes in one place, so the host sees stable codes.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, ErrNotConfigured):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// unary runs one kind call: refused before Configure, errors mapped to
// gRPC codes by toStatus.
func unary[Req, Resp any](c *commonPlugin, ctx context.Context, req Req, fn func(context.Context, Req) (Resp, error)) (Resp, error) {
	if err := c.configured(); err != nil {
		var zero Resp
		return zero, err
	}
	r, err := fn(ctx, req)
	return r, toStatus(err)
}

type feeServer struct {
	feev1.UnimplementedFeeServer
	common *commonPlugin
}

func (s *feeServer) impl() Fee { return s.common.impl.(Fee) }

func (s *feeServer) BaseFee(ctx context.Context, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error) {
	return unary(s.common, ctx, req, s.impl().BaseFee)
}

func (s *feeServer) PriceBlock(ctx context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error) {
	return unary(s.common, ctx, req, s.impl().PriceBlock)
}

func (s *feeServer) Quote(ctx context.Context, req *feev1.QuoteRequest) (*feev1.QuoteResponse, error) {
	return unary(s.common, ctx, req, s.impl().Quote)
}

type consensusServer struct {
	consensusv1.UnimplementedConsensusServer
	common *commonPlugin
}

func (s *consensusServer) impl() Consensus { return s.common.impl.(Consensus) }

func (s *consensusServer) Start(ctx context.Context, req *consensusv1.StartRequest) (*consensusv1.StartResponse, error) {
	return unary(s.common, ctx, req, s.impl().Start)
}

func (s *consensusServer) Stop(ctx context.Context, req *consensusv1.StopRequest) (*consensusv1.StopResponse, error) {
	return unary(s.common, ctx, req, s.impl().Stop)
}

func (s *consensusServer) VerifyBlock(ctx context.Context, req *consensusv1.VerifyBlockRequest) (*consensusv1.VerifyBlockResponse, error) {
	return unary(s.common, ctx, req, s.impl().VerifyBlock)
}

func (s *consensusServer) ForkChoice(ctx context.Context, req *consensusv1.ForkChoiceRequest) (*consensusv1.ForkChoiceResponse, error) {
	return unary(s.common, ctx, req, s.impl().ForkChoice)
}

func (s *consensusServer) Status(ctx context.Context, req *consensusv1.StatusRequest) (*consensusv1.StatusResponse, error) {
	return unary(s.common, ctx, req, s.impl().Status)
}

type proverServer struct {
	proverv1.UnimplementedProverServer
	common *commonPlugin
}

func (s *proverServer) impl() Prover { return s.common.impl.(Prover) }

func (s *proverServer) Capabilities(ctx context.Context, req *proverv1.CapabilitiesRequest) (*proverv1.CapabilitiesResponse, error) {
	return unary(s.common, ctx, req, s.impl().Capabilities)
}

func (s *proverServer) Prove(req *proverv1.ProveRequest, stream proverv1.Prover_ProveServer) error {
	if err := s.common.configured(); err != nil {
		return err
	}
	res, err := s.impl().Prove(stream.Context(), req, func(p *proverv1.Progress) error {
		return stream.Send(&proverv1.ProveEvent{Event: &proverv1.ProveEvent_Progress{Progress: p}})
	})
	if err != nil {
		return toStatus(err)
	}
	return stream.Send(&proverv1.ProveEvent{Event: &proverv1.ProveEvent_Result{Result: res}})
}

type daServer struct {
	dav1.UnimplementedDataAvailabilityServer
	common *commonPlugin
}

func (s *daServer) impl() DA { return s.common.impl.(DA) }

func (s *daServer) Encode(ctx context.Context, req *dav1.EncodeRequest) (*dav1.EncodeResponse, error) {
	return unary(s.common, ctx, req, s.impl().Encode)
}

func (s *daServer) Sample(ctx context.Context, req *dav1.SampleRequest) (*dav1.SampleResponse, error) {
	return unary(s.common, ctx, req, s.impl().Sample)
}

func (s *daServer) Verify(ctx context.Context, req *dav1.VerifyRequest) (*dav1.VerifyResponse, error) {
	return unary(s.common, ctx, req, s.impl().Verify)
}

func (s *daServer) Reconstruct(ctx context.Context, req *dav1.ReconstructRequest) (*dav1.ReconstructResponse, error) {
	return unary(s.common, ctx, req, s.impl().Reconstruct)
}
