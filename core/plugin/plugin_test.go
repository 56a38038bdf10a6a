package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/internal/testbin"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
)

const probePkg = "internal/testplugins/probe"

type env struct {
	t     testing.TB
	probe string
	sum   string
	db    *store.DB
	svc   *hostsvc.Services
}

func newEnv(t *testing.T) *env { return newEnvTB(t) }

func newEnvTB(t testing.TB) *env {
	t.Helper()
	probe := testbin.Build(t, probePkg)
	sum, err := FileSHA256(probe)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &env{t: t, probe: probe, sum: sum, db: db,
		svc: &hostsvc.Services{DB: db, Metrics: metrics.New(), Bus: hostsvc.NewBus(), ChainID: "test"}}
}

func (e *env) spec(kind, name string, args ...string) Spec {
	return Spec{Kind: kind, Name: name, Path: e.probe, SHA256: e.sum, Args: append([]string{"-kind", kind, "-name", name}, args...),
		StartTimeout: 5 * time.Second, CallTimeout: 2 * time.Second, Logger: testLogger(e.t)}
}

func (e *env) services(spec Spec) HostServices {
	ns, err := e.db.Namespace(hostsvc.NamespaceName(spec.Kind, spec.Name))
	if err != nil {
		e.t.Fatal(err)
	}
	return func(s *grpc.Server) { e.svc.Register(s, ns, spec.Kind, spec.Name) }
}

func (e *env) candidate(spec Spec) Candidate {
	return Candidate{Spec: spec, Config: func(*Process) ([]byte, error) { return []byte(`{"greeting":"hi","limit":10}`), nil },
		Restart: RestartPolicy{MaxRestarts: 3, Window: time.Minute, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}}
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "host", Output: testWriter{t}, Level: hclog.Warn})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func TestStartAndConfigure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	spec := e.spec("fee", "probe")
	p, err := Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Info.GetVersion() != "0.0.1" || len(p.Schema.Attributes) != 2 {
		t.Fatalf("info %v schema %+v", p.Info, p.Schema)
	}
	if err := p.Configure(ctx, []byte(`{"greeting":"hi","limit":10}`), &pluginv1.NodeInfo{ChainId: "test"}, e.services(spec)); err != nil {
		t.Fatal(err)
	}
	h, err := p.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.GetStatus() != pluginv1.HealthResponse_STATUS_SERVING || h.GetMessage() != "hi" || h.GetDetails()["starts"] != "1" {
		t.Fatalf("health = %v", h)
	}
	// The probe wrote its start count through the Store host service into
	// its own namespace of the node's bbolt file.
	ns, _ := e.db.Namespace("fee.probe")
	if v, err := ns.Get([]byte("starts")); err != nil || len(v) != 8 || v[7] != 1 {
		t.Fatalf("starts in store = %v, %v", v, err)
	}
}

// TestBadPlugins covers every way a plugin can fail to start: each gets one
// error naming the plugin, with the sentinel for its cause.
func TestBadPlugins(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	notExec := filepath.Join(dir, "trellis-fee-x")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		mut       func(*Spec)
		configure bool
		want      error
		contains  []string
	}{
		{"missing binary", func(s *Spec) { s.Path = filepath.Join(dir, "nope") }, false, ErrNotFound, []string{"nope"}},
		{"not executable", func(s *Spec) { s.Path = notExec }, false, ErrNotExecutable, []string{notExec}},
		{"wrong checksum", func(s *Spec) { s.SHA256 = strings.Repeat("ab", 32) }, false, ErrChecksum,
			[]string{"expected sha256 " + strings.Repeat("ab", 32), "file has " + e.sum}},
		{"garbage before handshake", func(s *Spec) { s.Args = append(s.Args, "-mode", "garbage") }, false, ErrHandshake,
			[]string{"hello from a plugin", "stderr"}},
		{"hang before handshake", func(s *Spec) {
			s.Args = append(s.Args, "-mode", "hang-handshake")
			s.StartTimeout = 500 * time.Millisecond
		}, false,
			ErrStartTimeout, nil},
		{"exit at start", func(s *Spec) { s.Args = append(s.Args, "-mode", "exit") }, false, ErrExited, []string{"exiting at start as asked"}},
		{"other protocol version", func(s *Spec) { s.Args = append(s.Args, "-mode", "protocol-2") }, false, ErrProtocolVersion, []string{"v1"}},
		{"wrong identity", func(s *Spec) { s.Args = []string{"-kind", "fee", "-name", "other"} }, false, ErrIdentity,
			[]string{"fee.other", "declares fee.probe"}},
		{"kind mismatch", func(s *Spec) { s.Kind = "da"; s.Args = []string{"-kind", "fee", "-name", "probe"} }, false, ErrIdentity, nil},
		{"invalid schema, refused by the SDK", func(s *Spec) { s.Args = append(s.Args, "-mode", "bad-schema") }, false, ErrExited,
			[]string{"invalid schema", `"x"`}},
		{"invalid schema, refused by the host", func(s *Spec) { s.Args = append(s.Args, "-mode", "bad-schema-raw") }, false, ErrSchema, []string{`"x"`}},
		{"crash in configure", func(s *Spec) { s.Args = append(s.Args, "-mode", "crash-configure") }, true, ErrExited,
			[]string{"configure"}},
		{"hang in configure", func(s *Spec) {
			s.Args = append(s.Args, "-mode", "hang-configure")
			s.CallTimeout = 300 * time.Millisecond
		}, true,
			ErrCallTimeout, []string{"configure"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := e.spec("fee", "probe")
			tc.mut(&spec)
			p, err := Start(context.Background(), spec)
			if err == nil && tc.configure {
				err = p.Configure(context.Background(), []byte(`{}`), &pluginv1.NodeInfo{}, e.services(spec))
				p.Close()
			} else if err == nil {
				p.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var se *StartError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "plugin "+spec.ID()) {
				t.Fatalf("error does not name the plugin: %v", err)
			}
			for _, c := range tc.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error lacks %q:\n%v", c, err)
				}
			}
		})
	}
}

func TestConfigureDiagnostics(t *testing.T) {
	e := newEnv(t)
	spec := e.spec("fee", "probe")
	p, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.Configure(context.Background(), []byte(`{"greeting":"x","limit":-1}`), &pluginv1.NodeInfo{}, e.services(spec))
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Diagnostics) != 1 || strings.Join(ce.Diagnostics[0].Path, ".") != "limit" {
		t.Fatalf("err = %#v", err)
	}
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("not ErrConfig: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// A bounded wait for an event, not a speed requirement.
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSupervisorRestartsAfterKill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	spec := e.spec("fee", "probe")
	s, err := Supervise(ctx, Options{Primary: e.candidate(spec), Services: e.services, Logger: testLogger(t), HealthInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	p, _ := s.Process(ctx)
	pid := p.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new process", func() bool { st := s.Status(); return st.State == StateRunning && st.Pid != pid })
	p2, err := s.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The restarted plugin resumed from its persisted state.
	if h.GetDetails()["starts"] != "2" {
		t.Fatalf("restarted plugin health = %v", h)
	}
	if st := s.Status(); st.Restarts != 1 || st.Fallback || !strings.Contains(st.LastError, "exited") {
		t.Fatalf("status = %+v", st)
	}
}

func TestSupervisorRestartsHungPlugin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	spec := e.spec("fee", "probe", "-mode", "hang-health")
	spec.CallTimeout = 200 * time.Millisecond
	cand := e.candidate(spec)
	cand.Restart.MaxRestarts = 100
	s, err := Supervise(ctx, Options{Primary: cand, Services: e.services, Logger: testLogger(t), HealthInterval: 50 * time.Millisecond, HealthFailures: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	waitFor(t, "a restart of the hung plugin", func() bool { return s.Status().Restarts >= 1 })
	if st := s.Status(); !strings.Contains(st.LastError, "health checks failed") {
		t.Fatalf("status = %+v", st)
	}
}

func TestSupervisorFallsBack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	primary := e.candidate(e.spec("prover", "gpu", "-mode", "crash-after", "-after", "50ms"))
	primary.Restart.MaxRestarts = 2
	fb := e.candidate(e.spec("prover", "cpu"))
	s, err := Supervise(ctx, Options{Primary: primary, Fallback: &fb, Services: e.services, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	waitFor(t, "the fallback", func() bool { st := s.Status(); return st.Fallback && st.State == StateRunning })
	p, err := s.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Info.GetName() != "cpu" {
		t.Fatalf("running %s after fallback", p.Spec.ID())
	}
}

// crashUntilGivenUp supervises a plugin that crashes 20 ms after every
// start, under a policy of maxRestarts, until the supervisor gives up.
func crashUntilGivenUp(t *testing.T, maxRestarts int) *Supervisor {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	c := e.candidate(e.spec("fee", "probe", "-mode", "crash-after", "-after", "20ms"))
	c.Restart.MaxRestarts = maxRestarts
	s, err := Supervise(ctx, Options{Primary: c, Services: e.services, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ctx) })
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("supervisor never gave up")
	}
	return s
}

func TestSupervisorGivesUp(t *testing.T) {
	s := crashUntilGivenUp(t, 2)
	if err := s.Err(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "fee.probe") {
		t.Fatalf("Err = %v", err)
	}
	if _, err := s.Process(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Process after failure = %v", err)
	}
}

// max_restarts = 0 means no restart: the first crash is final. (The zero
// used to be taken for "unset" and replaced by the default of 5.)
func TestSupervisorMaxRestartsZero(t *testing.T) {
	s := crashUntilGivenUp(t, 0)
	if err := s.Err(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), ": 1 failures within") {
		t.Fatalf("Err = %v, want failure after the first crash", err)
	}
}

func TestSupervisorPermanentErrorsAreNotRetried(t *testing.T) {
	e := newEnv(t)
	spec := e.spec("fee", "probe")
	spec.SHA256 = strings.Repeat("00", 32)
	fb := e.candidate(e.spec("fee", "other"))
	_, err := Supervise(context.Background(), Options{Primary: e.candidate(spec), Fallback: &fb, Services: e.services, Logger: testLogger(t)})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v", err)
	}
}

func TestCloseEndsProcess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s, err := Supervise(ctx, Options{Primary: e.candidate(e.spec("fee", "probe")), Services: e.services, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	pid := s.Status().Pid
	s.Close(ctx)
	if alive(pid) {
		t.Fatalf("plugin %d still alive after Close", pid)
	}
	if st := s.Status(); st.State != StateStopped {
		t.Fatalf("state %s", st.State)
	}
}

func alive(pid int) bool {
	// A zombie is not alive: read its state.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// TestNoOrphansAfterHostKill runs a host in a child process, kills it with
// SIGKILL, and checks its plugin does not outlive it.
func TestNoOrphansAfterHostKill(t *testing.T) {
	if os.Getenv("TRELLIS_TEST_HOST") == "1" {
		runChildHost()
		return
	}
	e := newEnv(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^TestNoOrphansAfterHostKill$")
	cmd.Env = append(os.Environ(), "TRELLIS_TEST_HOST=1", "TRELLIS_TEST_PROBE="+e.probe)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if _, err := fmt.Sscanf(string(buf[:n]), "plugin-pid %d", &pid); err != nil {
		cmd.Process.Kill()
		t.Fatalf("child host said %q: %v", buf[:n], err)
	}
	if !alive(pid) {
		t.Fatal("plugin not running under the child host")
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, "the orphaned plugin to exit", func() bool { return !alive(pid) })
}

func runChildHost() {
	probe := os.Getenv("TRELLIS_TEST_PROBE")
	p, err := Start(context.Background(), Spec{Kind: "fee", Name: "probe", Path: probe, Args: []string{"-kind", "fee", "-name", "probe"}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("plugin-pid " + strconv.Itoa(p.Pid()))
	time.Sleep(time.Hour)
}

func TestBackoff(t *testing.T) {
	r := RestartPolicy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		if got := r.Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// KindClient gives the running plugin's kind client, and says so when no
// plugin of the kind is configured or the running one is of another kind.
func TestKindClient(t *testing.T) {
	ctx := context.Background()
	if _, err := KindClient[feev1.FeeClient](ctx, nil, "fee"); err == nil || !strings.Contains(err.Error(), "no fee plugin configured") {
		t.Fatalf("nil supervisor: %v", err)
	}
	e := newEnv(t)
	s, err := Supervise(ctx, Options{Primary: e.candidate(e.spec("fee", "probe")), Services: e.services, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if _, err := KindClient[feev1.FeeClient](ctx, s, "fee"); err != nil {
		t.Fatalf("the fee plugin: %v", err)
	}
	if _, err := KindClient[proverv1.ProverClient](ctx, s, "prover"); err == nil || !strings.Contains(err.Error(), "fee.probe is not a prover plugin") {
		t.Fatalf("a fee plugin asked for as a prover: %v", err)
	}
}
