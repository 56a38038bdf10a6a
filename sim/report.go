package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/trellis-chain/trellis/trial"
)

// CellResult is one simulated cell.
type CellResult struct {
	Cell   trial.SimCell `json:"cell"`
	Seed   uint64        `json:"seed"`
	Result *Result       `json:"result,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// Write saves results.json and report.md in dir; real, when not nil, are
// a trial's results to calibrate against, side by side in the report.
func Write(dir, name string, rs []CellResult, real []trial.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(struct {
		Trial    string       `json:"trial"`
		Modelled string       `json:"modelled"`
		Results  []CellResult `json:"results"`
	}{name, modelledNote, rs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		return err
	}
	md := markdown(name, rs)
	var extra []trial.Table
	if real != nil {
		cal := calibration(rs, real)
		md += "\n## " + cal.Title + "\n\n" + cal.Note + "\n\n| " + strings.Join(cal.Header, " | ") + " |\n|---|---|---|---|\n"
		for _, r := range cal.Rows {
			md += "| " + strings.Join(r, " | ") + " |\n"
		}
		extra = append(extra, cal)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644); err != nil {
		return err
	}
	page, err := htmlPage(name, rs, extra)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.html"), []byte(page), 0o644)
}

const modelledNote = "Simulated: the consensus plugin's own engine per validator, on a virtual clock. " +
	"Modelled, not measured: network delay, loss and uplink bandwidth (a full mesh, one hop per message); " +
	"CPU time (from the benchmarks: BLS sign, verify, aggregate; execution per transfer); " +
	"the mempool (every proposer sees every transfer at once). Latencies, bytes and CPU below are therefore modelled figures."

func markdown(name string, rs []CellResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Simulation %s\n\n%s\n\n", name, modelledNote)
	b.WriteString("| cell | final / submitted | final p50 / p99 (modelled) | heights | msgs published per node per block | KB sent + received per node per block | CPU s per node per block (modelled) | proposers | voters | trace | simulated s per wall s | heap MB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		if r.Error != "" {
			fmt.Fprintf(&b, "| %s | failed: %s | | | | | | | | | | |\n", r.Cell.Name(), strings.ReplaceAll(r.Error, "|", "/"))
			continue
		}
		x := r.Result
		safety := ""
		if len(x.Violations) > 0 {
			safety = " SAFETY VIOLATION: " + strings.Join(x.Violations, "; ")
		}
		for _, msg := range slices.Sorted(maps.Keys(x.Errors)) {
			safety += fmt.Sprintf(" (%d nodes: %s)", x.Errors[msg], strings.ReplaceAll(msg, "|", "/"))
		}
		fmt.Fprintf(&b, "| %s | %d / %d%s | %.2f s / %.2f s | %d | %.2f | %.1f | %.4f | %d | %d | %s | %.2f | %.0f |\n", r.Cell.Name(), x.Final, x.Submitted, safety,
			x.P50, x.P99, x.FinalHeight, x.Published, (x.SentBytes+x.RecvBytes)/1000, x.CPUSeconds, x.Proposers, x.Voters, x.TraceHash[:12], x.SimPerWall, x.HeapMB)
	}
	return b.String()
}

// calibration compares every simulated cell that has a real twin (same
// consensus, validators and scenario; the first run of each), for
// report.md and report.html alike.
func calibration(rs []CellResult, real []trial.Result) trial.Table {
	type key struct {
		cons     string
		n        int
		scenario string
	}
	twins := map[key]trial.Figures{}
	for _, r := range real {
		k := key{r.Cell.Consensus, r.Cell.Validators, r.Cell.Scenario}
		if _, seen := twins[k]; seen {
			continue
		}
		if f, ok := trial.FiguresOf(r); ok {
			twins[k] = f
		}
	}
	t := trial.Table{
		Title:  "Calibration against real trials",
		Note:   "Real figures from the trial's results.json (real processes), simulated from this run; messages are publishes per node per final block on both sides.",
		Header: []string{"cell", "msgs real / sim", "KB per node per block real / sim", "final p50 real / sim"},
	}
	for _, r := range rs {
		f, ok := twins[key{r.Cell.Consensus, r.Cell.Validators, r.Cell.Scenario}]
		if !ok || r.Result == nil {
			continue
		}
		x := r.Result
		p50 := fmt.Sprintf("%.2f s", f.P50)
		if f.Stalled {
			p50 = "stalled"
		}
		t.Rows = append(t.Rows, []string{r.Cell.Name(), fmt.Sprintf("%.2f / %.2f", f.Msgs, x.Published),
			fmt.Sprintf("%.0f / %.1f", f.KB, (x.SentBytes+x.RecvBytes)/1000), fmt.Sprintf("%s / %.2f s", p50, x.P50)})
	}
	if len(t.Rows) == 0 {
		t.Rows = [][]string{{"(no cell of this run has a real twin)", "", "", ""}}
	}
	return t
}

// htmlHeader names the columns of report.html's table.
var htmlHeader = []string{"cell", "final", "submitted", "final p50 s (modelled)", "final p99 s (modelled)", "msgs published per node per block",
	"KB per node per block (modelled)", "CPU ms per node per block (modelled)", "proposers", "voters", "trace", "simulated s per wall s", "heap MB", "error"}

// htmlPage is report.html: trial's page (the same plots) over the
// simulated cells; participation there is the share of validators that
// proposed a final block or voted in a final block's commit, as a trial
// counts it.
func htmlPage(name string, rs []CellResult, extra []trial.Table) (string, error) {
	points := make([]trial.Point, 0, len(rs))
	rows := make([][]string, 0, len(rs))
	failed := make([]bool, 0, len(rs))
	for _, r := range rs {
		x := r.Result
		if x == nil {
			x = &Result{}
		}
		points = append(points, trial.Point{Cell: r.Cell.Cell, P50: x.P50, KB: (x.SentBytes + x.RecvBytes) / 1000,
			Participation: float64(max(x.Proposers, x.Voters)) / float64(max(1, r.Cell.Validators)), FinalPerSec: x.FinalPerSec,
			Skip: r.Result == nil || x.Final == 0 || 2*x.Final < x.Submitted})
		f := func(format string, v any) string { return fmt.Sprintf(format, v) }
		trace := x.TraceHash
		if len(trace) > 12 {
			trace = trace[:12]
		}
		rows = append(rows, []string{r.Cell.Name(), f("%d", x.Final), f("%d", x.Submitted), f("%.3f", x.P50), f("%.3f", x.P99),
			f("%.2f", x.Published), f("%.1f", (x.SentBytes+x.RecvBytes)/1000), f("%.1f", 1000*x.CPUSeconds), f("%d", x.Proposers), f("%d", x.Voters),
			trace, f("%.2f", x.SimPerWall), f("%.0f", x.HeapMB), r.Error})
		failed = append(failed, r.Error != "")
	}
	return trial.Page("Simulation "+name, modelledNote, "validators that proposed or voted (%)", points, htmlHeader, rows, failed, extra...)
}
