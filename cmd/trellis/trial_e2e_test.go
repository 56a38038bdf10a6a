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

// TestE2ETrial runs a small trial spec — BFT and LC, one validator each,
// a short load — through `trellis trial` and checks the outputs hold both
// cells with sane figures and that no process is left behind.
func TestE2ETrial(t *testing.T) {
	b := buildBinaries(t)
	testbin.Build(t, "plugins/consensus-bft/cmd/trellis-consensus-bft")
	testbin.Build(t, "plugins/consensus-lc/cmd/trellis-consensus-lc")
	dir := t.TempDir()
	spec := filepath.Join(dir, "small.hcl")
	if err := os.WriteFile(spec, []byte(`
trial "small" {
  consensus  = ["bft", "lc"]
  validators = [1]
  load {
    rate     = 20
    duration = "5s"
    drain    = "60s"
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.trellis, "trial", "-spec", spec, "-out", out)
	o, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("trellis trial: %v\n%s", err, o)
	}
	for _, want := range []string{"[1/2] bft-1-r1", "[2/2] lc-1-r1", "time left", "2 cells, 0 failed"} {
		if !strings.Contains(string(o), want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	var res struct {
		Results []trial.Result `json:"results"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil || json.Unmarshal(raw, &res) != nil || len(res.Results) != 2 {
		t.Fatalf("results.json: %v\n%s", err, raw)
	}
	for _, r := range res.Results {
		rep := r.Report
		if r.Error != "" || rep == nil || rep.Finalized == 0 || rep.Unfinalized != 0 || rep.Conflicts != 0 || rep.Latency.P50 <= 0 || rep.Chain == nil || rep.Chain.Blocks == 0 {
			t.Errorf("%s: error %q, report %+v, chain %+v", r.Cell.Name(), r.Error, rep, rep.Chain)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if lines := strings.Count(string(csv), "\n"); lines != 3 || !strings.Contains(string(md), "| lc-1-r1 |") {
		t.Errorf("results.csv has %d lines; report.md:\n%s", lines, md)
	}
	for _, c := range []string{"bft-1-r1", "lc-1-r1"} {
		st, err := openState(filepath.Join(out, "cells", c))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range st.Nodes {
			if g := testnet.NodeGroup(n); len(g) > 0 {
				t.Errorf("%s: %s still running after the trial", c, n.Name)
			}
		}
	}
}
