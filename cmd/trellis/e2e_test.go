package main

// End-to-end tests: they build the real trellis, fee-plugin and probe
// binaries and run them as processes, the way an operator would.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/internal/testbin"
)

// waitBound bounds every wait in these tests. It is generous: the machine is
// shared, and nothing here asserts on speed.
const waitBound = 60 * time.Second

type binaries struct {
	dir, trellis, fee, probe string
}

// buildBinaries builds trellis and the plugins into one directory
// (testbin builds every binary into the same temporary directory), so
// trellis finds the plugins beside itself.
func buildBinaries(tb testing.TB) binaries {
	tb.Helper()
	b := binaries{
		trellis: testbin.Build(tb, "cmd/trellis"),
		fee:     testbin.Build(tb, "plugins/fee-eip1559/cmd/trellis-fee-eip1559"),
		probe:   testbin.Build(tb, "internal/testplugins/probe"),
	}
	b.dir = filepath.Dir(b.trellis)
	if filepath.Dir(b.fee) != b.dir || filepath.Dir(b.probe) != b.dir {
		tb.Fatalf("binaries built into different directories: %s %s %s", b.trellis, b.fee, b.probe)
	}
	return b
}

func sha(tb testing.TB, path string) string {
	tb.Helper()
	s, err := plugin.FileSHA256(path)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// trellisCLI runs the trellis binary to completion in dir and returns its
// stdout, stderr and exit code.
func trellisCLI(tb testing.TB, bin, dir string, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		tb.Fatalf("trellis %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		tb.Fatalf("trellis %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), waitBound, o.String(), e.String())
	}
	return o.String(), e.String(), code
}

// initNode runs `trellis init` into a fresh directory and rewrites the
// metrics listener to a free port. It returns the directory and node.hcl.
func initNode(tb testing.TB, b binaries) (dir, cfg string) {
	tb.Helper()
	dir = filepath.Join(tb.TempDir(), "node")
	out, errOut, code := trellisCLI(tb, b.trellis, filepath.Dir(dir), "init", "-plugin-dir", b.dir, dir)
	if code != 0 {
		tb.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	cfg = filepath.Join(dir, "node.hcl")
	replaceInFile(tb, cfg, `"127.0.0.1:9464"`, `"127.0.0.1:0"`)
	replaceInFile(tb, cfg, `"127.0.0.1:8545"`, `"127.0.0.1:0"`)
	replaceInFile(tb, cfg, `/tcp/26656"`, `/tcp/0"`)
	replaceInFile(tb, cfg, `/udp/26656/`, `/udp/0/`)
	return dir, cfg
}

func replaceInFile(tb testing.TB, path, old, new string) {
	tb.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Contains(src, []byte(old)) {
		tb.Fatalf("%s does not contain %q:\n%s", path, old, src)
	}
	if err := os.WriteFile(path, bytes.Replace(src, []byte(old), []byte(new), 1), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// lineOf returns the 1-based line of the first line of path containing s.
func lineOf(tb testing.TB, path, s string) int {
	tb.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	tb.Fatalf("%s has no line containing %q", path, s)
	return 0
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runningNode is a `trellis run` process.
type runningNode struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	waitErr        error
}

func startRun(tb testing.TB, b binaries, dir, cfg string) *runningNode {
	tb.Helper()
	n := &runningNode{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(b.trellis, "run", "-config", cfg)
	n.cmd.Dir = dir
	n.cmd.Stdout, n.cmd.Stderr = n.stdout, n.stderr
	if err := n.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
	return n
}

// exitCode waits (bounded) for the process to exit and returns its code.
func (n *runningNode) exitCode(tb testing.TB) int {
	tb.Helper()
	select {
	case <-n.done:
	case <-time.After(waitBound):
		tb.Fatalf("trellis run did not exit within %s\nstdout:\n%s\nstderr:\n%s", waitBound, n.stdout, n.stderr)
	}
	var ee *exec.ExitError
	if errors.As(n.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1
		}
		return ee.ExitCode()
	}
	if n.waitErr != nil {
		tb.Fatalf("trellis run: %v", n.waitErr)
	}
	return 0
}

var healthURLRe = regexp.MustCompile(`health (http://\S+/health)`)

// healthURL waits until the node prints its health URL.
func (n *runningNode) healthURL(tb testing.TB) string {
	tb.Helper()
	var u string
	eventually(tb, "the health URL printed", func() bool {
		if m := healthURLRe.FindStringSubmatch(n.stdout.String()); m != nil {
			u = m[1]
			return true
		}
		select {
		case <-n.done:
			tb.Fatalf("trellis run exited early\nstdout:\n%s\nstderr:\n%s", n.stdout, n.stderr)
		default:
		}
		return false
	})
	return u
}

// pluginStatus mirrors plugin.Status as /health encodes it.
type pluginStatus struct {
	Plugin    string `json:"plugin"`
	State     string `json:"state"`
	Pid       int    `json:"pid"`
	Restarts  int    `json:"restarts"`
	Fallback  bool   `json:"fallback"`
	LastError string `json:"last_error"`
}

type health struct {
	Plugins []pluginStatus `json:"plugins"`
}

func (h health) plugin(id string) (pluginStatus, bool) {
	for _, p := range h.Plugins {
		if p.Plugin == id {
			return p, true
		}
	}
	return pluginStatus{}, false
}

func httpGet(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func getHealth(url string) (int, health, error) {
	code, body, err := httpGet(url)
	if err != nil {
		return 0, health{}, err
	}
	var h health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		return code, h, fmt.Errorf("health JSON %q: %w", body, err)
	}
	return code, h, nil
}

// waitHealth polls url until it answers 200 and cond holds, and returns
// the health it saw last.
func waitHealth(tb testing.TB, url, what string, cond func(health) bool) health {
	tb.Helper()
	var last health
	var lastCode int
	var lastErr error
	deadline := time.Now().Add(waitBound)
	for {
		lastCode, last, lastErr = getHealth(url)
		if lastErr == nil && lastCode == http.StatusOK && cond(last) {
			return last
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s: last /health %d %+v (error %v)", waitBound, what, lastCode, last, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually polls cond until it holds, failing the test after waitBound.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", waitBound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may itself
	// contain parentheses: find the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

func TestE2EInit(t *testing.T) {
	b := buildBinaries(t)
	dir, cfg := initNode(t, b)
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	feeSum := sha(t, b.fee)
	for _, want := range []string{`plugin "fee" "eip1559"`, `sha256 = "` + feeSum + `"`, `plugin_dir = "` + b.dir + `"`} {
		if !strings.Contains(string(src), want) {
			t.Errorf("node.hcl lacks %q:\n%s", want, src)
		}
	}
	var g struct {
		ChainID    string            `json:"chain_id"`
		Validators []json.RawMessage `json:"validators"`
	}
	gb, err := os.ReadFile(filepath.Join(dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(gb, &g); err != nil {
		t.Fatalf("genesis.json: %v", err)
	}
	if g.ChainID != "trellis-dev" || len(g.Validators) != 1 {
		t.Errorf("genesis: chain_id %q, %d validators; want trellis-dev, 1", g.ChainID, len(g.Validators))
	}
	keys, err := os.ReadDir(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("keys/ is empty")
	}
	for _, k := range keys {
		fi, err := k.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("keys/%s has mode %v, want 0600", k.Name(), fi.Mode().Perm())
		}
	}

	// A second init refuses to overwrite, and -force overwrites.
	out, errOut, code := trellisCLI(t, b.trellis, dir, "init", "-plugin-dir", b.dir, dir)
	if code != 1 || !strings.Contains(errOut, "-force") {
		t.Errorf("second init: exit %d, want 1 with a hint about -force\n%s%s", code, out, errOut)
	}
	if _, _, code := trellisCLI(t, b.trellis, dir, "init", dir, "-force", "-plugin-dir", b.dir); code != 0 {
		t.Errorf("init -force: exit %d, want 0", code)
	}
}

func TestE2EConfigValidate(t *testing.T) {
	b := buildBinaries(t)
	dir, cfg := initNode(t, b)
	out, errOut, code := trellisCLI(t, b.trellis, dir, "config", "validate", "-config", "node.hcl")
	if code != 0 || !strings.Contains(out, "node.hcl: valid") {
		t.Fatalf("validate: exit %d, want 0 and \"valid\"\n%s%s", code, out, errOut)
	}

	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	typo := write("typo.hcl", strings.Replace(string(orig), "elasticity_multiplier ", "elasticity_multiplierr", 1))
	typoLine := lineOf(t, filepath.Join(dir, typo), "elasticity_multiplierr")

	tests := []struct {
		name     string
		file     string
		args     []string
		wantCode int
		want     []string // in stderr (code != 0) or stdout (code == 0)
	}{
		{"typo in plugin config", typo, nil, 1,
			[]string{fmt.Sprintf("typo.hcl:%d:5", typoLine), `Did you mean "elasticity_multiplier"?`}},
		{"typo offline", typo, []string{"-offline"}, 0, []string{"not checked: -offline"}},
		{"malformed HCL", write("malformed.hcl", "node {\n  name = \n"), nil, 1, []string{"malformed.hcl:2:"}},
		{"unknown block", write("unknown.hcl", "node {\n  name = \"a\"\n}\n\nfoo {\n}\n"), nil, 1,
			[]string{"unknown.hcl:5:1", `"foo"`}},
		{"wrong attribute type", write("type.hcl", "node {\n  name = [\"a\"]\n}\n"), nil, 1,
			[]string{"type.hcl:2:", "string required"}},
		{"missing file", "nope.hcl", nil, 1, []string{"nope.hcl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"config", "validate", "-config", tt.file}, tt.args...)
			out, errOut, code := trellisCLI(t, b.trellis, dir, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			got := errOut
			if code == 0 {
				got = out
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestE2EPluginVerify(t *testing.T) {
	b := buildBinaries(t)
	dir, cfg := initNode(t, b)
	feeSum := sha(t, b.fee)

	out, errOut, code := trellisCLI(t, b.trellis, dir, "plugin", "verify", "-config", cfg)
	if code != 0 || !strings.Contains(out, "ok    fee.eip1559") || !strings.Contains(out, "1 verified, 0 failed") {
		t.Fatalf("verify: exit %d, want 0 and ok\n%s%s", code, out, errOut)
	}

	out, errOut, code = trellisCLI(t, b.trellis, dir, "plugin", "verify", b.fee)
	if want := feeSum + "  " + b.fee + "\n"; code != 0 || out != want {
		t.Errorf("verify BINARY: exit %d, output %q; want 0, %q (%s)", code, out, want, errOut)
	}

	bad := flipFirstHexDigit(feeSum)
	replaceInFile(t, cfg, feeSum, bad)
	line := lineOf(t, cfg, bad)
	out, errOut, code = trellisCLI(t, b.trellis, dir, "plugin", "verify", "-config", cfg)
	if code != 1 {
		t.Fatalf("verify of a changed pin: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, w := range []string{"FAIL", "expected " + bad, fmt.Sprintf("node.hcl:%d,", line), "file has " + feeSum, "0 verified, 1 failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func flipFirstHexDigit(sum string) string {
	c := byte('0')
	if sum[0] == '0' {
		c = '1'
	}
	return string(c) + sum[1:]
}

var passedRe = regexp.MustCompile(`(\d+) passed, (\d+) failed\n$`)

func TestE2EPluginTest(t *testing.T) {
	b := buildBinaries(t)
	dir := t.TempDir()

	out, errOut, code := trellisCLI(t, b.trellis, dir, "plugin", "test", "-kind", "fee", b.fee)
	m := passedRe.FindStringSubmatch(out)
	if code != 0 || m == nil || m[2] != "0" || m[1] == "0" {
		t.Fatalf("plugin test of the fee plugin: exit %d, want 0 and \"N passed, 0 failed\" at the end\n%s%s", code, out, errOut)
	}

	t.Run("broken probe", func(t *testing.T) {
		out, errOut, code := trellisCLI(t, b.trellis, dir, "plugin", "test", "-kind", "fee", b.probe,
			"-kind", "fee", "-name", "probe", "-mode", "broken")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
		}
		if !strings.Contains(out, "FAIL  fee/price-block-split-sums") {
			t.Errorf("output does not name the failing check fee/price-block-split-sums:\n%s", out)
		}
		if m := passedRe.FindStringSubmatch(out); m == nil || m[2] == "0" {
			t.Errorf("output does not end with a non-zero failed count:\n%s", out)
		}
	})

	t.Run("broken probe after --", func(t *testing.T) {
		out, errOut, code := trellisCLI(t, b.trellis, dir, "plugin", "test", "-kind", "fee", b.probe,
			"--", "-kind", "fee", "-name", "probe", "-mode", "broken")
		if code != 1 || !strings.Contains(out, "FAIL  fee/price-block-split-sums") {
			t.Fatalf("exit %d, want 1 naming fee/price-block-split-sums\n%s%s", code, out, errOut)
		}
	})
}

func TestE2ERunRestartAndStop(t *testing.T) {
	b := buildBinaries(t)
	dir, cfg := initNode(t, b)
	n := startRun(t, b, dir, cfg)
	url := n.healthURL(t)

	h := waitHealth(t, url, "fee.eip1559 running", func(h health) bool {
		p, ok := h.plugin("fee.eip1559")
		return ok && p.State == "running" && p.Pid > 0
	})
	first, _ := h.plugin("fee.eip1559")
	if !alive(first.Pid) {
		t.Fatalf("plugin pid %d from /health is not alive", first.Pid)
	}

	code, body, err := httpGet(strings.TrimSuffix(url, "/health") + "/metrics")
	if err != nil || code != http.StatusOK || !strings.Contains(body, `trellis_plugin_up{plugin="fee.eip1559"}`) {
		t.Fatalf("/metrics: %d %v, want 200 with trellis_plugin_up:\n%s", code, err, body)
	}

	// Kill the plugin: the supervisor restarts it.
	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h = waitHealth(t, url, "fee.eip1559 restarted", func(h health) bool {
		p, ok := h.plugin("fee.eip1559")
		return ok && p.State == "running" && p.Pid > 0 && p.Pid != first.Pid && p.Restarts >= 1
	})
	second, _ := h.plugin("fee.eip1559")
	eventually(t, "trellis_plugin_restarts_total to count the restart", func() bool {
		code, body, err := httpGet(strings.TrimSuffix(url, "/health") + "/metrics")
		return err == nil && code == http.StatusOK && strings.Contains(body, `trellis_plugin_restarts_total{plugin="fee.eip1559"} 1`)
	})

	// SIGTERM stops the node cleanly, and the plugin with it.
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.exitCode(t); code != 0 {
		t.Fatalf("trellis run after SIGTERM: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, n.stdout, n.stderr)
	}
	if !strings.Contains(n.stdout.String(), "stopped cleanly") {
		t.Errorf("stdout lacks \"stopped cleanly\":\n%s", n.stdout)
	}
	eventually(t, fmt.Sprintf("plugin pid %d to exit", second.Pid), func() bool { return !alive(second.Pid) })
}

func TestE2EKillHostNoOrphans(t *testing.T) {
	b := buildBinaries(t)
	dir, cfg := initNode(t, b)
	n := startRun(t, b, dir, cfg)
	url := n.healthURL(t)
	h := waitHealth(t, url, "fee.eip1559 running", func(h health) bool {
		p, ok := h.plugin("fee.eip1559")
		return ok && p.State == "running" && p.Pid > 0
	})
	p, _ := h.plugin("fee.eip1559")
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := n.exitCode(t); code != -1 {
		t.Errorf("trellis run after SIGKILL: exit code %d, want killed by a signal", code)
	}
	eventually(t, fmt.Sprintf("orphaned plugin pid %d to exit", p.Pid), func() bool { return !alive(p.Pid) })
}

func TestE2ERunBadPlugin(t *testing.T) {
	b := buildBinaries(t)

	t.Run("checksum mismatch", func(t *testing.T) {
		dir, cfg := initNode(t, b)
		feeSum := sha(t, b.fee)
		bad := flipFirstHexDigit(feeSum)
		replaceInFile(t, cfg, feeSum, bad)
		line := lineOf(t, cfg, bad)
		n := startRun(t, b, dir, cfg)
		if code := n.exitCode(t); code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, n.stdout, n.stderr)
		}
		errOut := n.stderr.String()
		for _, w := range []string{fmt.Sprintf("node.hcl:%d:", line), "checksum mismatch", bad, feeSum} {
			if !strings.Contains(errOut, w) {
				t.Errorf("stderr lacks %q:\n%s", w, errOut)
			}
		}
	})

	t.Run("missing binary", func(t *testing.T) {
		dir, cfg := initNode(t, b)
		missing := filepath.Join(t.TempDir(), "trellis-fee-gone")
		replaceInFile(t, cfg, `plugin "fee" "eip1559" {`, `plugin "fee" "eip1559" {
  source = "`+missing+`"`)
		n := startRun(t, b, dir, cfg)
		if code := n.exitCode(t); code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, n.stdout, n.stderr)
		}
		if errOut := n.stderr.String(); !strings.Contains(errOut, missing) {
			t.Errorf("stderr does not name %s:\n%s", missing, errOut)
		}
	})
}

// writeConfig writes a node.hcl with the given plugin blocks into a fresh
// directory, with its metrics on a free port.
func writeConfig(tb testing.TB, plugins string) (dir, cfg string) {
	tb.Helper()
	dir = tb.TempDir()
	cfg = filepath.Join(dir, "node.hcl")
	src := `node {
  name     = "e2e"
  chain_id = "trellis-dev"
  data_dir = "data"
}

storage {
  path = "trellis.db"
}

metrics {
  listen = "127.0.0.1:0"
}
` + plugins
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir, cfg
}

func crashingProbeBlock(b binaries, probeSum, fallback string) string {
	fb := ""
	if fallback != "" {
		fb = fmt.Sprintf("  fallback = %q\n", fallback)
	}
	return fmt.Sprintf(`
plugin "fee" "probe" {
  source = %q
  sha256 = %q
  args   = ["-kind", "fee", "-name", "probe", "-mode", "crash-after", "-after", "100ms"]
%s
  restart {
    max_restarts    = 1
    window          = "1m"
    initial_backoff = "10ms"
  }
}
`, b.probe, probeSum, fb)
}

func TestE2ERunCrashingPlugin(t *testing.T) {
	b := buildBinaries(t)
	probeSum := sha(t, b.probe)

	t.Run("gives up", func(t *testing.T) {
		dir, cfg := writeConfig(t, crashingProbeBlock(b, probeSum, ""))
		n := startRun(t, b, dir, cfg)
		code := n.exitCode(t)
		if code == 0 || code == -1 {
			t.Fatalf("exit %d, want a non-zero exit\nstdout:\n%s\nstderr:\n%s", code, n.stdout, n.stderr)
		}
		errOut := n.stderr.String()
		if !strings.Contains(errOut, "node stopped") || !strings.Contains(errOut, "fee.probe") ||
			!strings.Contains(errOut, "keeps failing") {
			t.Errorf("stderr does not say the plugin keeps failing:\n%s", errOut)
		}
	})

	t.Run("fallback", func(t *testing.T) {
		dir, cfg := writeConfig(t, crashingProbeBlock(b, probeSum, "eip1559")+fmt.Sprintf(`
plugin "fee" "eip1559" {
  source = %q
  sha256 = %q
}
`, b.fee, sha(t, b.fee)))
		n := startRun(t, b, dir, cfg)
		url := n.healthURL(t)
		h := waitHealth(t, url, "the fallback fee.eip1559 running", func(h health) bool {
			p, ok := h.plugin("fee.eip1559")
			return ok && p.State == "running" && p.Fallback && p.Pid > 0
		})
		if len(h.Plugins) != 1 {
			t.Errorf("/health lists %d plugins, want 1 (the fee kind): %+v", len(h.Plugins), h.Plugins)
		}
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := n.exitCode(t); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0\nstderr:\n%s", code, n.stderr)
		}
	})
}

func fourPluginConfig(tb testing.TB, b binaries) (dir, cfg string) {
	tb.Helper()
	probeSum := sha(tb, b.probe)
	var s strings.Builder
	fmt.Fprintf(&s, "\nplugin \"fee\" \"eip1559\" {\n  source = %q\n  sha256 = %q\n}\n", b.fee, sha(tb, b.fee))
	for _, kind := range []string{"consensus", "prover", "da"} {
		fmt.Fprintf(&s, "\nplugin %q \"probe\" {\n  source = %q\n  sha256 = %q\n  args   = [\"-kind\", %q, \"-name\", \"probe\"]\n}\n",
			kind, b.probe, probeSum, kind)
	}
	return writeConfig(tb, s.String())
}

func vmRSSKiB(tb testing.TB, pid int) float64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				v, err := strconv.ParseFloat(f[0], 64)
				if err != nil {
					tb.Fatalf("VmRSS of %d: %v", pid, err)
				}
				return v
			}
		}
	}
	tb.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

func TestE2EFourPlugins(t *testing.T) {
	b := buildBinaries(t)
	dir, cfg := fourPluginConfig(t, b)
	n := startRun(t, b, dir, cfg)
	h := waitHealth(t, n.healthURL(t), "four plugins running", func(h health) bool { return len(h.Plugins) == 4 })
	for _, id := range []string{"fee.eip1559", "consensus.probe", "prover.probe", "da.probe"} {
		if p, ok := h.plugin(id); !ok || p.State != "running" || !alive(p.Pid) {
			t.Errorf("plugin %s: %+v, want running with a live pid", id, p)
		}
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.exitCode(t); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\nstderr:\n%s", code, n.stderr)
	}
}

// BenchmarkIdleNodeRSS measures the resident memory of an idle node with
// four plugins: run it with -benchtime 1x.
func BenchmarkIdleNodeRSS(b *testing.B) {
	bins := buildBinaries(b)
	var host, plugins float64
	for i := 0; i < b.N; i++ {
		dir, cfg := fourPluginConfig(b, bins)
		n := startRun(b, bins, dir, cfg)
		h := waitHealth(b, n.healthURL(b), "four plugins running", func(h health) bool { return len(h.Plugins) == 4 })
		time.Sleep(3 * time.Second)
		host = vmRSSKiB(b, n.cmd.Process.Pid) / 1024
		plugins = 0
		for _, p := range h.Plugins {
			plugins += vmRSSKiB(b, p.Pid) / 1024
		}
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		n.exitCode(b)
	}
	b.ReportMetric(host, "host-MiB")
	b.ReportMetric(plugins, "plugins-MiB")
	b.ReportMetric(host+plugins, "total-MiB")
}
