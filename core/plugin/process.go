package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/sdk"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// Defaults for Spec fields left zero.
const (
	DefaultStartTimeout = 10 * time.Second
	DefaultCallTimeout  = 10 * time.Second
)

// Spec says how to start one plugin binary.
type Spec struct {
	Kind, Name string
	// Path is the binary's absolute path.
	Path string
	// SHA256 pins the binary (hex). Empty skips pinning; only the
	// conformance kit does that, for a binary it hashes itself.
	SHA256 string
	Args   []string
	Env    map[string]string
	// StartTimeout bounds the start up to a checked Info and schema.
	StartTimeout time.Duration
	// CallTimeout bounds Configure and every health check.
	CallTimeout time.Duration
	Logger      hclog.Logger
}

// ID is "kind.name", how errors and logs name a plugin.
func (s *Spec) ID() string { return s.Kind + "." + s.Name }

func (s *Spec) startTimeout() time.Duration {
	if s.StartTimeout > 0 {
		return s.StartTimeout
	}
	return DefaultStartTimeout
}

func (s *Spec) callTimeout() time.Duration {
	if s.CallTimeout > 0 {
		return s.CallTimeout
	}
	return DefaultCallTimeout
}

// Process is one running plugin process after a checked start.
type Process struct {
	Spec   Spec
	Info   *pluginv1.InfoResponse
	Schema *schema.Schema
	// Common is the common plugin service; Kind is the kind's client
	// (feev1.FeeClient, consensusv1.ConsensusClient, ...).
	Common *sdk.CommonClient
	Kind   any

	client *goplugin.Client
	stderr *tail
	closed sync.Once
}

// Start starts the binary and checks it: the file, its checksum, the
// handshake and protocol version, Info against the spec, and the schema. It
// does not configure the plugin.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	fail := func(phase string, err error, t *tail) error {
		se := &StartError{Plugin: spec.ID(), Path: spec.Path, Phase: phase, Err: err}
		if t != nil {
			se.Stderr = t.lines()
		}
		return se
	}
	if err := checkBinary(spec.Path, spec.SHA256); err != nil {
		phase := "binary"
		if errors.Is(err, ErrChecksum) {
			phase = "checksum"
		}
		return nil, fail(phase, err, nil)
	}
	logger := spec.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	t := newTail(20)
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = os.Environ()
	for k, v := range spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// The kernel kills the plugin when the host dies, even by SIGKILL; the
	// SDK's parent watch is the second line for plugins not built with it.
	// A process group of its own keeps a terminal's Ctrl-C from reaching the
	// plugin before the host has stopped plugins in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(spec.Kind),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     spec.startTimeout(),
		Logger:           logger,
		Stderr:           t,
		// After the handshake go-plugin carries the plugin's os.Stderr over
		// gRPC; keep those lines too.
		SyncStderr: lineWriter{t},
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxCallSendMsgSize(sdk.MaxMessageBytes))},
	}
	if spec.SHA256 != "" {
		sum, _ := hex.DecodeString(spec.SHA256)
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	if !sdk.ValidKind(spec.Kind) {
		return nil, fail("config", fmt.Errorf("%w: unknown kind %q", ErrIdentity, spec.Kind), nil)
	}
	client := goplugin.NewClient(cfg)
	p := &Process{Spec: spec, client: client, stderr: t}
	ok := false
	defer func() {
		if !ok {
			client.Kill()
		}
	}()

	rpc, err := client.Client()
	if err != nil {
		// Kill waits for go-plugin's pipe readers, so the stderr tail in the
		// error is complete: a plugin that exits at start often says why
		// on its last line.
		client.Kill()
		return nil, fail("handshake", classifyStartErr(err), t)
	}
	raw, err := rpc.Dispense(sdk.CommonName)
	if err != nil {
		return nil, fail("handshake", fmt.Errorf("%w: %v", ErrHandshake, err), t)
	}
	p.Common = raw.(*sdk.CommonClient)
	if p.Kind, err = rpc.Dispense(spec.Kind); err != nil {
		return nil, fail("handshake", fmt.Errorf("%w: %v", ErrHandshake, err), t)
	}

	cctx, cancel := context.WithTimeout(ctx, spec.startTimeout())
	defer cancel()
	info, err := p.Common.Info(cctx, &pluginv1.InfoRequest{})
	if err != nil {
		return nil, fail("info", p.callErr(err), t)
	}
	if info.GetKind() != spec.Kind || info.GetName() != spec.Name {
		return nil, fail("info", fmt.Errorf("%w: the binary says it is %s.%s (version %s), the config declares %s",
			ErrIdentity, info.GetKind(), info.GetName(), info.GetVersion(), spec.ID()), t)
	}
	p.Info = info
	sr, err := p.Common.ConfigSchema(cctx, &pluginv1.ConfigSchemaRequest{})
	if err != nil {
		return nil, fail("schema", p.callErr(err), t)
	}
	sc, err := schema.FromProto(sr.GetSchema())
	if err == nil {
		err = sc.Validate()
	}
	if err != nil {
		return nil, fail("schema", fmt.Errorf("%w: %v", ErrSchema, err), t)
	}
	p.Schema = sc
	ok = true
	return p, nil
}

// HostServices registers the host services for one plugin on s.
type HostServices func(s *grpc.Server)

// Configure serves the host services on the broker and hands the plugin its
// decoded config. Diagnostics the plugin returns come back as *ConfigError.
func (p *Process) Configure(ctx context.Context, configJSON []byte, node *pluginv1.NodeInfo, hs HostServices) error {
	fail := func(err error) error {
		return &StartError{Plugin: p.Spec.ID(), Path: p.Spec.Path, Phase: "configure", Err: err, Stderr: p.stderr.lines()}
	}
	id := p.Common.Broker.NextId()
	go p.Common.Broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		opts = append(opts, grpc.MaxRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxSendMsgSize(sdk.MaxMessageBytes))
		s := grpc.NewServer(opts...)
		if hs != nil {
			hs(s)
		}
		return s
	})
	cctx, cancel := context.WithTimeout(ctx, p.Spec.callTimeout())
	defer cancel()
	resp, err := p.Common.Configure(cctx, &pluginv1.ConfigureRequest{ConfigJson: configJSON, HostServices: id, Node: node})
	if err != nil {
		return fail(p.callErr(err))
	}
	var ce ConfigError
	for _, d := range resp.GetDiagnostics() {
		if d.GetSeverity() == pluginv1.Diagnostic_SEVERITY_WARNING {
			p.Spec.Logger.Warn("plugin config warning", "plugin", p.Spec.ID(), "path", strings.Join(d.GetAttributePath(), "."), "summary", d.GetSummary())
			continue
		}
		ce.Diagnostics = append(ce.Diagnostics, Diagnostic{Path: d.GetAttributePath(), Summary: d.GetSummary(), Detail: d.GetDetail()})
	}
	if len(ce.Diagnostics) > 0 {
		return &ce
	}
	return nil
}

// Health asks the plugin how it is, bounded by the call timeout.
func (p *Process) Health(ctx context.Context) (*pluginv1.HealthResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, p.Spec.callTimeout())
	defer cancel()
	r, err := p.Common.Health(cctx, &pluginv1.HealthRequest{})
	if err != nil {
		return nil, p.callErr(err)
	}
	return r, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool { return p.client.Exited() }

// Pid returns the process id, or 0.
func (p *Process) Pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Stderr returns the last lines the plugin wrote to stderr.
func (p *Process) Stderr() []string { return p.stderr.lines() }

// Close ends the process: the connection is closed so the plugin can exit
// on its own, and it is killed after 2 s if it does not.
func (p *Process) Close() {
	p.closed.Do(p.client.Kill)
}

// callErr explains a failed call: the process died, or it did not answer.
func (p *Process) callErr(err error) error {
	if p.client.Exited() {
		return fmt.Errorf("%w: %v", ErrExited, err)
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w (%s): %v", ErrCallTimeout, p.Spec.callTimeout(), err)
	case codes.Unavailable:
		// The connection broke: the process is dying or dead. Once go-plugin
		// marks it exited its stderr has been read to the end.
		for i := 0; i < 100 && !p.client.Exited(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if p.client.Exited() {
			return fmt.Errorf("%w: %v", ErrExited, err)
		}
	}
	return err
}

func classifyStartErr(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, goplugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("%w: %v", ErrChecksum, err)
	case strings.Contains(msg, "incompatible API version"), strings.Contains(msg, "incompatible core API version"):
		return fmt.Errorf("%w (host speaks v%d): %v", ErrProtocolVersion, sdk.ProtocolVersion, err)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("%w: no handshake line on stdout: %v", ErrStartTimeout, err)
	case strings.Contains(msg, "plugin exited before we could connect"):
		return fmt.Errorf("%w before the handshake: %v", ErrExited, err)
	case strings.Contains(msg, "Unrecognized remote plugin message: \n"), strings.HasSuffix(msg, "Unrecognized remote plugin message: "):
		return fmt.Errorf("%w before the handshake", ErrExited)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		return fmt.Errorf("%w: the plugin wrote something other than the handshake to stdout (plugins must log to stderr): %v", ErrHandshake, firstLine(msg))
	}
	return fmt.Errorf("%w: %v", ErrHandshake, err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checkBinary checks the file before go-plugin runs it, so each failure has
// its own error naming the file and both hashes.
func checkBinary(path, want string) error {
	if path == "" {
		return fmt.Errorf("%w: no path", ErrNotFound)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s (mode %s)", ErrNotExecutable, path, fi.Mode())
	}
	if want == "" {
		return nil
	}
	got, err := FileSHA256(path)
	if err != nil {
		return err
	}
	if !strings.EqualFold(got, want) {
		return &ChecksumError{Path: path, Expected: strings.ToLower(want), Actual: got}
	}
	return nil
}

// FileSHA256 returns the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tail keeps the last lines written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []string
}

func newTail(max int) *tail { return &tail{max: max} }

// Write receives one stderr line per call from go-plugin.
func (t *tail) Write(b []byte) (int, error) {
	line := readableLine(strings.TrimRight(string(b), "\r\n"))
	if strings.TrimSpace(line) == "" {
		return len(b), nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(line) > 500 {
		line = line[:500] + "…"
	}
	t.buf = append(t.buf, line)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(b), nil
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}

// readableLine renders an hclog JSON line as "level: message k=v".
func readableLine(line string) string {
	if !strings.HasPrefix(line, "{") {
		return line
	}
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	msg, _ := m["@message"].(string)
	lvl, _ := m["@level"].(string)
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(lvl + ": " + msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, m[k])
	}
	return b.String()
}

// lineWriter splits arbitrary writes into lines for a tail.
type lineWriter struct{ t *tail }

func (w lineWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(string(b), "\n") {
		_, _ = w.t.Write([]byte(l))
	}
	return len(b), nil
}
