//go:build linux

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/internal/testbin"
	"github.com/trellis-chain/trellis/testnet"
	"github.com/trellis-chain/trellis/trial"
)

// runTrial runs `trellis trial` on spec and returns its output, exit code
// and parsed results.
func runTrial(t *testing.T, bin, spec, pluginDir string) (string, int, []trial.Result, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "spec.hcl")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := []string{"trial", "-spec", path, "-out", out}
	if pluginDir != "" {
		args = append(args, "-plugin-dir", pluginDir)
	}
	o, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("trellis trial: %v\n%s", err, o)
	}
	var res struct {
		Results []trial.Result `json:"results"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil || json.Unmarshal(raw, &res) != nil {
		t.Fatalf("results.json: %v\n%s\n%s", err, raw, o)
	}
	for _, r := range res.Results {
		st, err := openState(filepath.Join(out, "cells", r.Cell.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range st.Nodes {
			if g := testnet.NodeGroup(n); len(g) > 0 {
				t.Errorf("%s: %s still running after the trial", r.Cell.Name(), n.Name)
			}
		}
	}
	return string(o), code, res.Results, out
}

// TestE2ETrial runs a small spec — BFT and LC at four validators, a
// crash-and-restart and 50 ms links with 1 % loss — through `trellis
// trial`, and checks every output is there with sane figures: the
// faults happened and were recovered from, the links' round trip as the
// nodes measured it is at least the one asked, every node agreed on every
// final block, and no process is left.
func TestE2ETrial(t *testing.T) {
	b := buildBinaries(t)
	testbin.Build(t, "plugins/consensus-bft/cmd/trellis-consensus-bft")
	testbin.Build(t, "plugins/consensus-lc/cmd/trellis-consensus-lc")
	o, code, results, out := runTrial(t, b.trellis, `
trial "small" {
  consensus  = ["bft", "lc"]
  validators = [4]
  load {
    rate     = 20
    duration = "10s"
    drain    = "60s"
  }
  scenario "restart" {
    crash {
      nodes    = 1
      at       = "2s"
      duration = "4s"
    }
  }
  scenario "wan" {
    link {
      delay = "50ms"
      loss  = 0.01
    }
  }
}
`, "")
	if code != 0 {
		t.Fatalf("trellis trial exited %d:\n%s", code, o)
	}
	for _, want := range []string{"[1/4] bft-4-restart-r1", "[4/4] lc-4-wan-r1", "time left", "4 cells, 0 failed"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if len(results) != 4 {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		rep, name := r.Report, r.Cell.Name()
		if r.Error != "" || rep == nil || rep.Finalized == 0 || rep.Unfinalized != 0 || rep.Conflicts != 0 || rep.Latency.P50 <= 0 || rep.Chain == nil || rep.Chain.Blocks == 0 {
			t.Errorf("%s: error %q, report %+v", name, r.Error, rep)
			continue
		}
		if r.Safety == nil || r.Safety.Nodes != 4 || r.Safety.Heights == 0 || len(r.Safety.Violations) != 0 {
			t.Errorf("%s: safety %+v", name, r.Safety)
		}
		if r.Cell.Consensus == "bft" && rep.Chain.Voters < 3 {
			t.Errorf("%s: %d voters in the commits", name, rep.Chain.Voters)
		}
		for _, nc := range rep.Nodes {
			if nc.RSSMB <= 0 && nc.Note == "" {
				t.Errorf("%s: %s has no RSS", name, nc.Node)
			}
		}
		switch r.Cell.Scenario {
		case "restart":
			if len(r.Faults) != 1 || r.Faults[0].Kind != "crash" || r.Faults[0].RecoverS == nil || r.Faults[0].EndS <= r.Faults[0].AtS {
				t.Errorf("%s: faults %+v", name, r.Faults)
			}
		case "wan":
			if l := r.Link; l == nil || l.Peers != 3 || l.RTTMinMs < l.AskedRTTMs-1 || l.Dropped == 0 || l.Forwarded == 0 {
				t.Errorf("%s: link %+v", name, r.Link)
			}
		}
	}
	csv, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	page, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if lines := strings.Count(string(csv), "\n"); lines != 5 || !strings.Contains(string(md), "| lc-4-wan-r1 |") {
		t.Errorf("results.csv has %d lines; report.md:\n%s", lines, md)
	}
	for _, id := range []string{"plot-finality", "plot-overhead", "plot-participation", "plot-throughput"} {
		if !strings.Contains(string(page), `<figure id="`+id+`"><svg`) {
			t.Errorf("report.html lacks the %s plot", id)
		}
	}
}

// TestE2ETrialCatchesSafetyViolation: a test consensus plugin whose
// followers finalize their own blocks (splitbrain, installed as solo)
// makes two nodes final on different blocks at one height; the trial
// fails that cell loudly, names the height, keeps its logs and exits 1.
func TestE2ETrialCatchesSafetyViolation(t *testing.T) {
	b := buildBinaries(t)
	sb := testbin.Build(t, "internal/testplugins/splitbrain")
	plugins := t.TempDir()
	for from, to := range map[string]string{sb: "trellis-consensus-solo", b.fee: "trellis-fee-eip1559"} {
		raw, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(plugins, to), raw, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o, code, results, _ := runTrial(t, b.trellis, `
trial "broken" {
  consensus  = ["solo"]
  validators = [2]
  load {
    rate     = 10
    duration = "4s"
    drain    = "15s"
  }
}
`, plugins)
	if code != 1 || !strings.Contains(o, "SAFETY VIOLATION") || !strings.Contains(o, "1 failed") {
		t.Fatalf("exit %d, output:\n%s", code, o)
	}
	if len(results) != 1 || !strings.Contains(results[0].Error, "final as") || results[0].Dir == "" || results[0].Safety == nil || len(results[0].Safety.Violations) == 0 {
		t.Fatalf("result %+v", results)
	}
	if _, err := os.Stat(filepath.Join(results[0].Dir, "node1", "node.log")); err != nil {
		t.Fatalf("logs not kept: %v", err)
	}
}
