package trial

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/testnet"
)

// Options run a trial.
type Options struct {
	Out       string // output directory: cells/, results.json, results.csv, report.md
	Binary    string // the trellis binary the nodes run
	PluginDir string // the plugin binaries
	Wait      time.Duration
	// Voters reads a final block's consensus data into the validator
	// indexes whose votes it carries, per consensus plugin (cmd/trellis
	// knows the formats; this package imports no plugin).
	Voters map[string]func([]byte) []int
}

// Result is one cell's outcome: the load report, or why it has none.
type Result struct {
	Cell    Cell                `json:"cell"`
	Report  *testnet.LoadReport `json:"report,omitempty"`
	Error   string              `json:"error,omitempty"`
	Seconds float64             `json:"seconds"`
	// Faults are the scenario's faults as they happened.
	Faults []FaultEvent `json:"faults,omitempty"`
	// Safety compares every running node's final blocks at the end.
	Safety *testnet.Safety `json:"safety,omitempty"`
	// Link is the shaped links' round trip as the nodes measured it.
	Link *LinkMeasure `json:"link,omitempty"`
	// Dir keeps the cell's node directories (logs) when it failed.
	Dir string `json:"dir,omitempty"`
}

// Run runs every cell of s in turn on real processes, writing a progress
// line per cell with the time left, and the results as they come. A cell
// that fails is recorded with its logs kept, and the trial goes on. Every
// process a cell started is stopped before the next starts, and when ctx
// ends.
func Run(ctx context.Context, s *Spec, o Options, progress io.Writer) ([]Result, error) {
	if err := os.MkdirAll(filepath.Join(o.Out, "cells"), 0o755); err != nil {
		return nil, err
	}
	if err := preflight(s, o); err != nil {
		return nil, err
	}
	cells := s.Cells()
	var results []Result
	t0 := time.Now()
	for i, c := range cells {
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		left := "unknown"
		if i > 0 {
			per := time.Since(t0) / time.Duration(i)
			left = (per * time.Duration(len(cells)-i)).Round(time.Second).String()
		}
		fmt.Fprintf(progress, "[%d/%d] %s: %d %s validators, %.0f transfers/s for %s (time left ≈ %s)\n",
			i+1, len(cells), c.Name(), c.Validators, c.Consensus, s.Load.Rate, s.Load.duration, left)
		r := runCell(ctx, s, c, o, progress)
		results = append(results, r)
		if r.Error != "" {
			fmt.Fprintf(progress, "[%d/%d] %s failed: %s (logs kept in %s)\n", i+1, len(cells), c.Name(), r.Error, r.Dir)
		} else {
			fmt.Fprintf(progress, "[%d/%d] %s: %d final, p50 %s, %.0f/s (%.0fs)\n", i+1, len(cells), c.Name(),
				r.Report.Finalized, r.Report.Latency.P50.Round(time.Millisecond), r.Report.FinalizedPerSec, r.Seconds)
		}
		if err := write(o.Out, s, results); err != nil {
			return results, err
		}
	}
	return results, nil
}

// preflight refuses a trial whose binaries are missing before anything
// starts.
func preflight(s *Spec, o Options) error {
	bins := []string{o.Binary, filepath.Join(o.PluginDir, config.BinaryPrefix+config.KindFee+"-"+config.DefaultPlugins[config.KindFee])}
	for _, c := range s.Consensus {
		bins = append(bins, filepath.Join(o.PluginDir, config.BinaryPrefix+config.KindConsensus+"-"+c))
	}
	if s.Prover != "" {
		bins = append(bins, filepath.Join(o.PluginDir, config.BinaryPrefix+config.KindProver+"-"+s.Prover))
	}
	for _, b := range bins {
		if st, err := os.Stat(b); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable (run `make build`, or pass -plugin-dir): nothing was started", b)
		}
	}
	return nil
}

func runCell(ctx context.Context, s *Spec, c Cell, o Options, progress io.Writer) Result {
	start := time.Now()
	dir := filepath.Join(o.Out, "cells", c.Name())
	r := Result{Cell: c}
	fail := func(err error) Result {
		r.Error, r.Dir, r.Seconds = err.Error(), dir, time.Since(start).Seconds()
		return r
	}
	if err := os.RemoveAll(dir); err != nil {
		return fail(err)
	}
	spec := testnet.Spec{Nodes: c.Validators, Consensus: c.Consensus, ChainID: "trial-" + s.Name, BlockInterval: 200 * time.Millisecond,
		LoadAccounts: 256, PluginDir: o.PluginDir, Prover: s.Prover, PluginConfig: map[string]string{}}
	sc := s.scenario(c.Scenario)
	if sc != nil && sc.Link != nil {
		spec.Link = &testnet.LinkShape{Delay: sc.Link.delay, Jitter: sc.Link.jitter, Loss: sc.Link.Loss}
	}
	net, err := testnet.Up(testnet.UpOptions{Spec: spec, Dir: dir, Binary: o.Binary, Wait: o.Wait}, io.Discard)
	if err != nil {
		return fail(err)
	}
	// Stop every process, whatever happens below (an interrupt ends the
	// load through ctx).
	defer func() { _, _ = net.Down(30 * time.Second) }()
	if spec.Link != nil {
		r.Link = measureLink(ctx, net, *spec.Link)
	}
	acts, faulted := sc.plan(c.Validators)
	var load []int // the load sends to validators no fault takes down
	for i := range c.Validators {
		if !slices.Contains(faulted, i) {
			load = append(load, i)
		}
	}
	fctx, stopFaults := context.WithCancel(ctx)
	f := &faulter{net: net, binary: o.Binary, wait: o.Wait, start: time.Now()}
	evs := make(chan []FaultEvent, 1)
	go func() { evs <- f.run(fctx, acts) }()
	rep, err := net.Load(ctx, testnet.LoadOptions{Rate: s.Load.Rate, Duration: s.Load.duration, Drain: s.Load.drain,
		ProvenWait: s.Load.provenWait, Nodes: load, Watch: 0, Workers: 16, Batch: 50, Amount: 1, Voters: o.Voters[c.Consensus]}, io.Discard)
	if r.Link != nil {
		r.Link.Forwarded, r.Link.Dropped = net.RelayCounts()
	}
	stopFaults()
	r.Faults = <-evs
	if err != nil {
		return fail(err)
	}
	// A crash that stays down is over with the cell; a node paused past
	// the load is resumed so that the safety check can read it.
	f.mu.Lock()
	_ = net.Signal(faulted, syscall.SIGCONT, "resumed")
	f.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	safety, err := net.CheckSafety(sctx, 1, rep.FinalTxs)
	if err != nil {
		return fail(err)
	}
	r.Safety = safety
	if rep.Conflicts > 0 || len(safety.Violations) > 0 {
		r.Report = rep
		return fail(fmt.Errorf("SAFETY VIOLATION: %d conflicting final blocks seen by the load; across nodes: %s", rep.Conflicts, strings.Join(safety.Violations, "; ")))
	}
	for _, ev := range r.Faults {
		if ev.Error != "" {
			r.Report = rep
			return fail(fmt.Errorf("fault %s: %s", ev.Kind, ev.Error))
		}
	}
	r.Report, r.Seconds = rep, time.Since(start).Seconds()
	return r
}

// write saves results.json, results.csv and report.md.
func write(out string, s *Spec, rs []Result) error {
	b, err := json.MarshalIndent(struct {
		Trial   string   `json:"trial"`
		Results []Result `json:"results"`
	}{s.Name, rs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.csv"), []byte(csvOf(rs)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "report.md"), []byte(markdownOf(s, rs)), 0o644); err != nil {
		return err
	}
	page, err := htmlOf(s, rs)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "report.html"), []byte(page), 0o644)
}
