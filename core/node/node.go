package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"google.golang.org/grpc"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/core/store"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
)

// startOrder starts plugins that others may call first, and stops them
// last: consensus drives the chain, which calls fee, da and prover.
var startOrder = []string{config.KindFee, config.KindDA, config.KindProver, config.KindConsensus}

// Options tune a node.
type Options struct {
	Logger      hclog.Logger
	HostVersion string
	// HealthInterval overrides how often plugins are health-checked.
	HealthInterval time.Duration
	// ClockSkew shifts the Clock served to plugins (fault injection).
	ClockSkew time.Duration
}

// Node is a running Trellis host.
type Node struct {
	cfg  *config.Config
	opts Options
	log  hclog.Logger

	db          *store.DB
	reg         *metrics.Registry
	bus         *hostsvc.Bus
	svc         *hostsvc.Services
	metrics     *http.Server
	metricsAddr net.Addr

	chain   *chain.Chain     // nil without a genesis
	pool    *mempool.Mempool // nil without a genesis
	rpc     *rpc.Server
	rpcAddr net.Addr

	net     *network // nil without a network
	netStop context.CancelFunc
	netDone sync.WaitGroup

	// signer holds the node's keys; nil without a validator key, whose
	// expected path is then missingKey.
	signer     *signer.Signer
	missingKey string
	// submit sends the node's own transactions (proofs, slashing reports)
	// from its account; nil without a validator key.
	submit *mempool.Submitter
	// proveStop ends the proving worker (core/proving); nil without one.
	proveStop func()

	mu      sync.Mutex
	plugins map[string]*plugin.Supervisor // by kind
	started time.Time
}

// Start opens the store and starts every configured plugin, in order. On
// error everything already started is stopped again. Errors about the config
// file are a *DiagnosticsError.
func Start(ctx context.Context, cfg *config.Config, opts Options) (n *Node, err error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	n = &Node{cfg: cfg, opts: opts, log: opts.Logger, reg: metrics.New(), bus: hostsvc.NewBus(),
		plugins: map[string]*plugin.Supervisor{}, started: time.Now()}
	defer func() {
		if err != nil {
			n.Stop(context.Background())
		}
	}()
	n.db, err = store.Open(cfg.Storage.Path, store.Options{})
	if err != nil {
		return n, n.storageDiag(err)
	}
	n.svc = &hostsvc.Services{DB: n.db, Metrics: n.reg, Bus: n.bus, ChainID: cfg.Node.ChainID, ClockSkew: opts.ClockSkew}
	if err := n.openLedger(); err != nil {
		return n, err
	}
	if err := n.openSigner(); err != nil {
		return n, err
	}
	if err := n.startNetwork(ctx); err != nil {
		return n, err
	}
	if cfg.Metrics.Enabled {
		if err := n.serveMetrics(); err != nil {
			return n, err
		}
	}
	for _, kind := range startOrder {
		p := cfg.Primary(kind)
		if p == nil {
			continue
		}
		n.log.Info("starting plugin", "plugin", p.ID(), "path", p.Source)
		t0 := time.Now()
		s, err := n.supervise(ctx, p)
		if err != nil {
			return n, &DiagnosticsError{Diags: PluginDiagnostics(cfg, p, err)}
		}
		n.mu.Lock()
		n.plugins[kind] = s
		n.mu.Unlock()
		st := s.Status()
		n.log.Info("plugin ready", "plugin", st.Plugin, "pid", st.Pid, "took", time.Since(t0).Round(time.Millisecond))
	}
	if n.chain != nil && cfg.RPC.Enabled {
		if err := n.serveRPC(ctx); err != nil {
			return n, err
		}
	}
	n.startProving()
	return n, nil
}

func (n *Node) candidate(p *config.Plugin) plugin.Candidate {
	return plugin.Candidate{
		Spec: plugin.Spec{Kind: p.Kind, Name: p.Name, Path: p.Source, SHA256: p.SHA256, Args: p.Args, Env: p.Env,
			StartTimeout: p.StartTimeout, Logger: n.log.Named("plugin")},
		Restart: plugin.RestartPolicy{MaxRestarts: p.Restart.MaxRestarts, Window: p.Restart.Window,
			InitialBackoff: p.Restart.InitialBackoff, MaxBackoff: p.Restart.MaxBackoff},
		Config: func(proc *plugin.Process) ([]byte, error) {
			if p.Kind == config.KindConsensus {
				if err := n.checkKeyless(proc); err != nil {
					return nil, err
				}
			}
			out, diags := n.cfg.DecodePluginConfig(p, proc.Schema)
			if diags.HasErrors() {
				return nil, &configDiags{diags: diags}
			}
			return out, nil
		},
	}
}

func (n *Node) supervise(ctx context.Context, p *config.Plugin) (*plugin.Supervisor, error) {
	opts := plugin.Options{
		Primary: n.candidate(p),
		Node: &pluginv1.NodeInfo{ChainId: n.cfg.Node.ChainID, NodeName: n.cfg.Node.Name, HostVersion: n.opts.HostVersion,
			HostCapabilities: n.svc.Capabilities()},
		Services:       n.services,
		HealthInterval: n.opts.HealthInterval,
		Logger:         n.log,
	}
	if p.Kind == config.KindConsensus && n.chain != nil {
		opts.Ready, opts.Stopping = n.startConsensus, n.stopConsensus
	}
	if p.Fallback != "" {
		fp := n.cfg.Plugin(p.Kind, p.Fallback)
		if fp == nil {
			return nil, fmt.Errorf("%w: fallback %q of %s is not configured", plugin.ErrConfig, p.Fallback, p.ID())
		}
		c := n.candidate(fp)
		opts.Fallback = &c
	}
	return plugin.Supervise(ctx, opts)
}

func (n *Node) services(spec plugin.Spec) plugin.HostServices {
	ns, err := n.db.Namespace(hostsvc.NamespaceName(spec.Kind, spec.Name))
	return func(s *grpc.Server) {
		if err != nil {
			// The namespace name comes from a validated config; this is a
			// store failure, which the plugin sees as Unavailable calls.
			n.log.Error("plugin store namespace", "plugin", spec.ID(), "error", err)
			return
		}
		n.svc.Register(s, ns, spec.Kind, spec.Name)
	}
}

func (n *Node) storageDiag(err error) error {
	subject := n.cfg.Storage.DeclRange
	if r, ok := n.cfg.Range("storage.path"); ok {
		subject = r
	}
	return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot open the node's database",
		Detail: err.Error(), Subject: subject.Ptr()}}}
}

func (n *Node) serveMetrics() error {
	ln, err := net.Listen("tcp", n.cfg.Metrics.Listen)
	if err != nil {
		subject := n.cfg.Metrics.DeclRange
		if r, ok := n.cfg.Range("metrics.listen"); ok {
			subject = r
		}
		return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot listen for metrics",
			Detail: err.Error(), Subject: subject.Ptr()}}}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", n.reg.Handler())
	// Profiles only when metrics.pprof asks for them: they let an operator
	// see where a node's CPU goes under load, and anyone else too.
	if n.cfg.Metrics.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		st := n.Status()
		if !st.Healthy() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	n.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	n.metricsAddr = ln.Addr()
	go func() { _ = n.metrics.Serve(ln) }()
	n.log.Info("metrics endpoint", "addr", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

// MetricsAddr is the address of the metrics endpoint, or nil.
func (n *Node) MetricsAddr() net.Addr { return n.metricsAddr }

// Status of the node for operators.
type Status struct {
	ChainID string          `json:"chain_id"`
	Node    string          `json:"node"`
	Uptime  string          `json:"uptime"`
	Plugins []plugin.Status `json:"plugins"`
}

// Healthy reports whether every plugin is running.
func (s Status) Healthy() bool {
	for _, p := range s.Plugins {
		if p.State != plugin.StateRunning {
			return false
		}
	}
	return true
}

// Status returns a snapshot.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := Status{ChainID: n.cfg.Node.ChainID, Node: n.cfg.Node.Name, Uptime: time.Since(n.started).Round(time.Second).String()}
	for _, kind := range startOrder {
		if s := n.plugins[kind]; s != nil {
			st.Plugins = append(st.Plugins, s.Status())
		}
	}
	return st
}

// Plugin returns the supervisor of a kind, or nil.
func (n *Node) Plugin(kind string) *plugin.Supervisor {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.plugins[kind]
}

// Wait runs until ctx ends (nil) or a plugin fails for good (its error).
// Meanwhile it keeps the plugin metrics current.
func (n *Node) Wait(ctx context.Context) error {
	n.mu.Lock()
	sups := make([]*plugin.Supervisor, 0, len(n.plugins))
	for _, s := range n.plugins {
		sups = append(sups, s)
	}
	n.mu.Unlock()
	failed := make(chan *plugin.Supervisor, len(sups))
	for _, s := range sups {
		go func(s *plugin.Supervisor) {
			select {
			case <-s.Done():
				if s.Err() != nil {
					failed <- s
				}
			case <-ctx.Done():
			}
		}(s)
	}
	lctx, stopLog := context.WithCancel(ctx)
	defer stopLog()
	go n.logBlocks(lctx)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	restarts := map[string]int{}
	for {
		n.recordPluginMetrics(restarts)
		select {
		case <-ctx.Done():
			return nil
		case s := <-failed:
			return s.Err()
		case <-tick.C:
		}
	}
}

// recordPluginMetrics runs on the health loop's goroutine only, which
// owns seen: restarts are a counter, so each round adds what is new.
func (n *Node) recordPluginMetrics(seen map[string]int) {
	for _, st := range n.Status().Plugins {
		up := 0.0
		if st.State == plugin.StateRunning {
			up = 1
		}
		l := map[string]string{"plugin": st.Plugin}
		_ = n.reg.Record("trellis_plugin_up", metrics.Gauge, up, l, "1 while the plugin is running.")
		_ = n.reg.Record("trellis_plugin_restarts_total", metrics.Counter, float64(max(int(st.Restarts)-seen[st.Plugin], 0)), l, "Times the host restarted the plugin since the node started.")
		seen[st.Plugin] = max(seen[st.Plugin], int(st.Restarts))
	}
}

// Stop stops plugins in reverse start order, then the endpoint and the
// store. It is bounded by ctx and safe to call more than once.
func (n *Node) Stop(ctx context.Context) {
	if n.rpc != nil {
		n.rpc.Close()
	}
	if n.proveStop != nil {
		n.proveStop()
	}
	for i := len(startOrder) - 1; i >= 0; i-- {
		n.mu.Lock()
		s := n.plugins[startOrder[i]]
		delete(n.plugins, startOrder[i])
		n.mu.Unlock()
		if s != nil {
			s.Close(ctx)
		}
	}
	n.stopNetwork()
	if n.metrics != nil {
		_ = n.metrics.Shutdown(ctx)
	}
	if n.bus != nil {
		n.bus.Close()
	}
	if n.db != nil {
		if err := n.db.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			n.log.Error("closing database", "error", err)
		}
	}
}
