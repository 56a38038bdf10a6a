//go:build linux

package robustness

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/internal/testbin"
)

var (
	seedFlag   = flag.Uint64("robustness.seed", 0, "schedule seed (0: from the clock)")
	faultsFlag = flag.Int("robustness.faults", 12, "faults in the schedule")
	soakFlag   = flag.Duration("robustness.soak", 0, "run TestSoak for about this long (0: skip it)")
	rateFlag   = flag.Float64("robustness.rate", 40, "transfers per second sent throughout")
	keepFlag   = flag.Bool("robustness.keep", false, "keep the testnet directory (logs, robustness-report.json with every memory sample) after a run that passed")
)

func seed() uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	return uint64(time.Now().UnixNano())
}

// run runs one schedule, keeps the testnet directory (logs, report) when
// the run fails and prints how to replay it.
func run(t *testing.T, o Options) *Report {
	trellis := testbin.Build(t, "cmd/trellis")
	testbin.Build(t, "plugins/consensus-bft/cmd/trellis-consensus-bft")
	testbin.Build(t, "plugins/fee-eip1559/cmd/trellis-fee-eip1559")
	dir, err := os.MkdirTemp("", "trellis-robustness-")
	if err != nil {
		t.Fatal(err)
	}
	o.Dir, o.Binary, o.PluginDir = filepath.Join(dir, "tn"), trellis, filepath.Dir(trellis)
	var log strings.Builder
	rep, err := Run(context.Background(), o, &testWriter{t: t, b: &log})
	failed := err != nil || rep == nil || len(rep.Violations) > 0
	if rep != nil {
		var w strings.Builder
		rep.Write(&w)
		t.Log("\n" + w.String())
	}
	if failed {
		t.Errorf("robustness run failed; seed %d (replay: go test ./robustness -run %s -robustness.seed %d); logs and report kept in %s",
			o.Seed, t.Name(), o.Seed, o.Dir)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if *keepFlag {
		t.Logf("kept %s (report: %s)", o.Dir, filepath.Join(o.Dir, "robustness-report.json"))
		return rep
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Log(err)
	}
	return rep
}

// testWriter sends progress lines to the test log as they come.
type testWriter struct {
	t *testing.T
	b *strings.Builder
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestRobustness is the short schedule CI runs on every submission.
func TestRobustness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator testnet")
	}
	rep := run(t, Options{Nodes: 4, Seed: seed(), Faults: *faultsFlag, MinHold: time.Second, MaxHold: 4 * time.Second, Rate: *rateFlag})
	if rep != nil && rep.Final == 0 {
		t.Error("no transfer became final during the run")
	}
}

// TestSoak is the long run, by hand:
//
//	go test ./robustness -run TestSoak -robustness.soak 30m -timeout 60m -v
func TestSoak(t *testing.T) {
	if *soakFlag == 0 {
		t.Skip("set -robustness.soak")
	}
	// A fault and its recovery take 5-10 s: draw more than fit.
	n := max(1, int(*soakFlag/time.Second))
	run(t, Options{Nodes: 4, Seed: seed(), Faults: n, Duration: *soakFlag, MinHold: time.Second, MaxHold: 8 * time.Second, Rate: *rateFlag * 2.5})
}
