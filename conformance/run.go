package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/sdk"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// ChainID is the chain id the kit's host services and NodeInfo report.
const ChainID = "trellis-conformance"

// runner holds one run's state: the options, the temporary node database
// that backs the host services, and the report being written.
type runner struct {
	opts    Options
	path    string
	sum     string
	timeout time.Duration
	log     hclog.Logger
	report  *Report

	db     *store.DB
	svc    *hostsvc.Services
	nsSeq  int
	schema *schema.Schema
	// config is the JSON handed to Configure (given or built from defaults);
	// configErr says why there is none.
	config    []byte
	configErr error
}

// Run starts the plugin binary opts.Path as a node would and runs every
// check of its kind. It never panics and never hangs past its timeouts:
// whatever the binary does is reported as a failed check. Checks after a
// failure still run where they can; a plugin that does not start at all
// yields one failed check.
func Run(ctx context.Context, opts Options) *Report {
	r := &runner{opts: opts, timeout: opts.Timeout, log: opts.Logger}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	r.report = &Report{Kind: opts.Kind, Name: opts.Name, Path: opts.Path}
	if !sdk.ValidKind(opts.Kind) {
		r.record("common/options", 0, fmt.Errorf("%w: unknown plugin kind %q (want one of %s)",
			ErrOptions, opts.Kind, strings.Join(sdk.Kinds, ", ")))
		return r.report
	}
	r.path = opts.Path
	if abs, err := filepath.Abs(opts.Path); err == nil {
		r.path = abs
	}
	r.report.Path = r.path
	// The kit pins the binary by the checksum it computes itself, so the
	// host's SecureConfig path is exercised. A file it cannot hash is
	// reported by the start (not found, not executable).
	r.sum, _ = plugin.FileSHA256(r.path)
	r.report.SHA256 = r.sum

	cleanup, err := r.openHost()
	if err != nil {
		r.record("common/host-services", 0, err)
		return r.report
	}
	defer cleanup()

	if opts.Name == "" {
		r.report.Name = r.discoverName(ctx)
	}
	if r.runMain(ctx) {
		r.runBadConfigs(ctx)
	}
	return r.report
}

// openHost opens the temporary bbolt file behind the host services.
func (r *runner) openHost() (func(), error) {
	dir, err := os.MkdirTemp("", "trellis-conformance-")
	if err != nil {
		return nil, fmt.Errorf("temporary node directory: %w", err)
	}
	db, err := store.Open(filepath.Join(dir, "node.db"), store.Options{NoSync: true})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("temporary node database: %w", err)
	}
	r.db = db
	r.svc = &hostsvc.Services{DB: db, Metrics: metrics.New(), Bus: hostsvc.NewBus(), ChainID: ChainID}
	return func() {
		r.svc.Bus.Close()
		_ = db.Close() // a scratch database, removed next
		os.RemoveAll(dir)
	}, nil
}

func (r *runner) spec() plugin.Spec {
	return plugin.Spec{Kind: r.opts.Kind, Name: r.report.Name, Path: r.path, SHA256: r.sum, Args: r.opts.Args,
		StartTimeout: r.timeout, CallTimeout: r.timeout, Logger: r.log}
}

// hostServices gives each process its own Store namespace, so a fresh
// process never sees what an earlier one wrote.
func (r *runner) hostServices() (plugin.HostServices, error) {
	r.nsSeq++
	ns, err := r.db.Namespace(fmt.Sprintf("conformance.%d", r.nsSeq))
	if err != nil {
		return nil, err
	}
	kind, name := r.opts.Kind, r.report.Name
	return func(s *grpc.Server) { r.svc.Register(s, ns, kind, name) }, nil
}

func (r *runner) nodeInfo() *pluginv1.NodeInfo {
	return &pluginv1.NodeInfo{ChainId: ChainID, NodeName: "conformance", HostVersion: sdk.Version,
		HostCapabilities: r.svc.Capabilities()}
}

// configure hands p the config with fresh host services.
func (r *runner) configure(ctx context.Context, p *plugin.Process, config []byte) error {
	hs, err := r.hostServices()
	if err != nil {
		return fmt.Errorf("kit: host services: %w", err)
	}
	return p.Configure(ctx, config, r.nodeInfo(), hs)
}

// discoverName asks the binary its name over a bare go-plugin connection,
// before the checked start that needs it. Any failure here is left for the
// checked start to report; the name then comes from the file name.
func (r *runner) discoverName(ctx context.Context) string {
	fallback := strings.TrimPrefix(filepath.Base(r.path), "trellis-"+r.opts.Kind+"-")
	if r.sum == "" {
		return fallback
	}
	sum, err := hex.DecodeString(r.sum)
	if err != nil {
		return fallback
	}
	cmd := exec.Command(r.path, r.opts.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(r.opts.Kind),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     r.timeout,
		Logger:           r.log,
		SecureConfig:     &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		Stderr:           io.Discard,
	}
	c := goplugin.NewClient(cfg)
	defer c.Kill()
	rpc, err := c.Client()
	if err != nil {
		return fallback
	}
	raw, err := rpc.Dispense(sdk.CommonName)
	if err != nil {
		return fallback
	}
	common, ok := raw.(*sdk.CommonClient)
	if !ok {
		return fallback
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	info, err := common.Info(cctx, &pluginv1.InfoRequest{})
	if err != nil || info.GetName() == "" {
		return fallback
	}
	return info.GetName()
}

// skipError marks a check as skipped rather than failed.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

func skipf(format string, args ...any) error { return &skipError{reason: fmt.Sprintf(format, args...)} }

// violation is a contract violation with a detail.
func violation(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrViolation, fmt.Sprintf(format, args...))
}

// run runs one check under the per-check timeout and records it. A panic
// in the kit's own code (a malformed answer it did not foresee) fails the
// check instead of the run.
func (r *runner) run(ctx context.Context, name string, fn func(ctx context.Context) error) (passed bool) {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("conformance kit: check panicked: %v", v)
			}
		}()
		err = fn(cctx)
	}()
	r.record(name, time.Since(start), err)
	return err == nil
}

func (r *runner) record(name string, d time.Duration, err error) {
	c := Check{Name: name, Duration: d, Passed: err == nil}
	if err != nil {
		var se *skipError
		if errors.As(err, &se) {
			c.Skipped = true
		}
		// The check's name already says it is about the contract.
		c.Detail = strings.ReplaceAll(err.Error(), ErrViolation.Error()+": ", "")
	}
	r.report.Checks = append(r.report.Checks, c)
}

func (r *runner) skip(name, format string, args ...any) {
	r.record(name, 0, skipf(format, args...))
}

// callErr explains a failed call, naming a process that died in it.
func callErr(p *plugin.Process, what string, err error) error {
	if p.Exited() {
		msg := fmt.Sprintf("%s: %v: the plugin process exited", what, err)
		if lines := p.Stderr(); len(lines) > 0 {
			msg += "; last stderr lines:\n" + strings.Join(lines, "\n")
		}
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// alive fails when p has exited, after a call that should have left it
// running.
func alive(p *plugin.Process, after string) error {
	if p.Exited() {
		return callErr(p, after, errors.New("no answer"))
	}
	return nil
}
