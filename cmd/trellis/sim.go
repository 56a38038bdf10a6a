package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/trellis-chain/trellis/config"
	bft "github.com/trellis-chain/trellis/plugins/consensus-bft"
	"github.com/trellis-chain/trellis/sim"
	"github.com/trellis-chain/trellis/trial"
)

// cmdSim runs a trial spec in the deterministic simulator.
func cmdSim(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sim", "sim -spec FILE.hcl -out DIR [-seed N] [-real TRIAL-OUT/results.json]", stderr)
	specPath := fs.String("spec", "", "the trial spec (docs/trials.md)")
	out := fs.String("out", "", "directory for results.json and report.md")
	seed := fs.Uint64("seed", 1, "the seed: same spec and seed, same trace")
	realPath := fs.String("real", "", "a trial's results.json to calibrate against: the report puts twin cells side by side")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *specPath == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	src, err := os.ReadFile(*specPath)
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return 1
	}
	spec, diags := trial.ParseSim(src, *specPath)
	if diags.HasErrors() {
		_ = config.WriteDiagnostics(stderr, map[string]*hcl.File{*specPath: {Bytes: src}}, diags)
		return 1
	}
	cells, err := spec.SimCells()
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return 1
	}
	var real []trial.Result
	if *realPath != "" {
		raw, err := os.ReadFile(*realPath)
		var doc struct {
			Results []trial.Result `json:"results"`
		}
		if err == nil {
			err = json.Unmarshal(raw, &doc)
		}
		if err != nil {
			fmt.Fprintf(stderr, "sim: -real %s: %v\n", *realPath, err)
			return 1
		}
		real = doc.Results
		if real == nil {
			real = []trial.Result{}
		}
	}
	var rs []sim.CellResult
	failed := 0
	for i, c := range cells {
		// Run r of a cell is seed+r−1: repeats are samples, not copies.
		cellSeed := *seed + uint64(c.Run-1)
		fmt.Fprintf(stdout, "[%d/%d] %s: %d %s validators (%d crashed), %.0f transfers/s for %s, seed %d\n", i+1, len(cells), c.Name(), c.Validators, c.Consensus, c.Crashed, c.Rate, c.Duration, cellSeed)
		cfg := sim.Config{Consensus: c.Consensus, Validators: c.Validators, Seed: cellSeed, Crashed: c.Crashed, Rate: c.Rate,
			Duration: c.Duration, Drain: c.Drain, Progress: 5 * time.Second,
			BFT: bft.Config{ChainID: "sim-" + spec.Name, TimeoutPropose: bft.DefaultTimeoutPropose, TimeoutProposeDelta: bft.DefaultTimeoutProposeDelta,
				TimeoutVote: bft.DefaultTimeoutVote, TimeoutVoteDelta: bft.DefaultTimeoutVoteDelta, BlockInterval: 200 * time.Millisecond}}
		for _, p := range c.Pauses {
			cfg.Pauses = append(cfg.Pauses, sim.Pause{Nodes: p.Nodes, At: p.At, Duration: p.Duration})
		}
		for _, p := range c.Crashes {
			cfg.Crashes = append(cfg.Crashes, sim.Crash{Nodes: p.Nodes, At: p.At, Duration: p.Duration})
		}
		for _, p := range c.Partitions {
			cfg.Partitions = append(cfg.Partitions, sim.Partition{Groups: p.Groups, At: p.At, Duration: p.Duration})
		}
		if c.Validators >= 256 { // a simulated second takes minutes here
			cfg.Progress = time.Second
		}
		if c.Delay > 0 || c.Loss > 0 {
			cfg.Link = sim.DefaultLink
			cfg.Link.Delay, cfg.Link.Jitter, cfg.Link.Loss = c.Delay, c.Jitter, c.Loss
		}
		cr := sim.CellResult{Cell: c, Seed: cellSeed}
		r, err := sim.Run(cfg, stdout)
		switch {
		case err != nil:
			cr.Error = err.Error()
		case len(r.Violations) > 0:
			cr.Result, cr.Error = r, "SAFETY VIOLATION: "+r.Violations[0]
		default:
			cr.Result = r
			fmt.Fprintf(stdout, "[%d/%d] %s: %d of %d final, p50 %.2f s (modelled), trace %s, %.2f simulated s per wall s, heap %.0f MB\n",
				i+1, len(cells), c.Name(), r.Final, r.Submitted, r.P50, r.TraceHash[:12], r.SimPerWall, r.HeapMB)
		}
		if cr.Error != "" {
			failed++
			fmt.Fprintf(stdout, "[%d/%d] %s failed: %s\n", i+1, len(cells), c.Name(), cr.Error)
		}
		rs = append(rs, cr)
		if err := sim.Write(*out, spec.Name, rs, real); err != nil {
			fmt.Fprintf(stderr, "sim: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "sim %s: %d cells, %d failed; report in %s\n", spec.Name, len(rs), failed, filepath.Join(*out, "report.md"))
	if failed > 0 {
		return 1
	}
	return 0
}
