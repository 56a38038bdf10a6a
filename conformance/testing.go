package conformance

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/trellis-chain/trellis/core/plugin"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
)

// Test runs the kit against opts.Path from a Go test and reports each check
// as a subtest of t, named after the check, that fails with the check's
// detail (or is skipped with it). It returns the report:
//
//	func TestConformance(t *testing.T) {
//		conformance.Test(t, conformance.Options{Kind: "fee", Path: "./trellis-fee-flat"})
//	}
//
// Without opts.Logger the plugin's and the runtime's warnings go to t.Log.
func Test(t *testing.T, opts Options) *Report {
	t.Helper()
	if opts.Logger == nil {
		w := &testLog{t: t}
		defer w.stop()
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "conformance", Output: w, Level: hclog.Warn})
	}
	rep := Run(t.Context(), opts)
	for _, c := range rep.Checks {
		t.Run(c.Name, func(t *testing.T) {
			switch {
			case c.Skipped:
				t.Skip(c.Detail)
			case !c.Passed:
				t.Error(c.Detail)
			}
		})
	}
	var b strings.Builder
	_ = rep.Write(&b)
	t.Logf("conformance of %s (%s plugin %q):\n%s", rep.Path, rep.Kind, rep.Name, b.String())
	return rep
}

// testLog forwards log lines to t.Log until the run is over: go-plugin's
// goroutines may log after Run returns, when t.Log would panic.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (w *testLog) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// Started is a plugin process that Start launched.
type Started struct {
	// Kind is the client of the plugin's kind service
	// (proverv1.ProverClient for a prover, and so on).
	Kind any
	p    *plugin.Process
}

// Health asks the plugin's common service for its health.
func (s *Started) Health(ctx context.Context) (*pluginv1.HealthResponse, error) {
	return s.p.Health(ctx)
}

// Start starts the plugin binary at path under the host's plugin runtime,
// as a node would, and configures it with config (its config block as
// JSON). The process is closed when the test ends. timeout bounds the
// start and each call: a bound on a hang, not a speed goal.
func Start(t testing.TB, kind, name, path string, config []byte, timeout time.Duration) *Started {
	t.Helper()
	ctx := context.Background()
	p, err := plugin.Start(ctx, plugin.Spec{Kind: kind, Name: name, Path: path, StartTimeout: timeout, CallTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if err := p.Configure(ctx, config, &pluginv1.NodeInfo{ChainId: ChainID, NodeName: "conformance"}, nil); err != nil {
		t.Fatal(err)
	}
	return &Started{Kind: p.Kind, p: p}
}
