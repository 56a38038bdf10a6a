package conformance

import (
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
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
