package trial

import (
	"encoding/csv"
	"fmt"
	"strings"
	"time"
)

// row is one cell's figures, as the CSV, the tables and the plots show
// them.
type row struct {
	cell                                  Cell
	err                                   string
	finalPerSec, p50, p95, p99, max       float64 // seconds, or transfers/s
	provenP50                             float64
	accepted, final, neverFinal           int64
	blocks, proposers, voters, provers    int
	reorgs, maxReorg                      int
	msgs, bytes, recvMsgs, recvBytes, cpu float64 // mean per node per final block
	rssMB                                 float64 // mean per node, at the end
	participation                         float64 // share of stake that proposed or voted
	recoverMax                            float64 // slowest recovery of the cell's faults, s; -1 if one never recovered
	rttP50                                float64 // measured link round trip, ms
	safe                                  bool
	stalled                               bool // fewer than half the accepted transfers became final
	safetyNodes                           int
	safetyHeights                         uint64
}

func rowOf(r Result) row {
	x := row{cell: r.Cell, err: r.Error}
	if r.Safety != nil {
		x.safe, x.safetyNodes, x.safetyHeights = len(r.Safety.Violations) == 0, r.Safety.Nodes, r.Safety.Heights
	}
	for _, ev := range r.Faults {
		switch {
		case ev.RecoverS == nil:
			x.recoverMax = -1
		case x.recoverMax >= 0:
			x.recoverMax = max(x.recoverMax, *ev.RecoverS)
		}
	}
	if r.Link != nil {
		x.rttP50 = r.Link.RTTP50Ms
	}
	rep := r.Report
	if rep == nil {
		return x
	}
	sec := func(d time.Duration) float64 { return d.Seconds() }
	x.finalPerSec, x.p50, x.p95, x.p99, x.max = rep.FinalizedPerSec, sec(rep.Latency.P50), sec(rep.Latency.P95), sec(rep.Latency.P99), sec(rep.Latency.Max)
	if rep.ProvenLatency != nil && rep.ProvenLatency.Count > 0 {
		x.provenP50 = sec(rep.ProvenLatency.P50)
	}
	x.accepted, x.final, x.neverFinal = rep.Accepted, rep.Finalized, int64(rep.Unfinalized)
	x.stalled = 2*x.final < x.accepted
	if c := rep.Chain; c != nil {
		x.blocks, x.proposers, x.voters, x.provers = c.Blocks, c.Proposers, c.Voters, c.Provers
		x.reorgs, x.maxReorg = int(c.Reorgs), int(c.MaxReorgDepth)
		// Testnet validators hold equal stake: a count over n is the
		// share of stake.
		x.participation = float64(max(c.Proposers, c.Voters)) / float64(r.Cell.Validators)
	}
	var n, nr float64
	for _, nc := range rep.Nodes {
		if nc.RSSMB > 0 {
			x.rssMB += nc.RSSMB
			nr++
		}
		if nc.MsgsPerBlock == nil || nc.BytesPerBlock == nil || nc.CPUPerBlock == nil {
			continue
		}
		x.msgs += *nc.MsgsPerBlock
		x.bytes += *nc.BytesPerBlock
		x.cpu += *nc.CPUPerBlock
		if nc.RecvMsgsPerBlock != nil && nc.RecvBytesPerBlock != nil {
			x.recvMsgs += *nc.RecvMsgsPerBlock
			x.recvBytes += *nc.RecvBytesPerBlock
		}
		n++
	}
	if n > 0 {
		x.msgs, x.bytes, x.recvMsgs, x.recvBytes, x.cpu = x.msgs/n, x.bytes/n, x.recvMsgs/n, x.recvBytes/n, x.cpu/n
	}
	if nr > 0 {
		x.rssMB /= nr
	}
	return x
}

// csvHeader names the columns of results.csv and the HTML table.
var csvHeader = []string{"consensus", "validators", "scenario", "run", "error", "accepted", "final", "never_final", "final_per_s",
	"final_p50_s", "final_p95_s", "final_p99_s", "final_max_s", "proven_p50_s", "final_blocks", "proposers", "voters",
	"participation_stake_share", "provers_paid", "reorgs", "max_reorg_depth", "sent_msgs_per_node_block", "sent_bytes_per_node_block",
	"recv_msgs_per_node_block", "recv_bytes_per_node_block", "cpu_s_per_node_block", "rss_mb_per_node", "recover_max_s",
	"link_rtt_p50_ms", "safety_nodes", "safety_heights", "safe", "stalled"}

// records are the cells as CSV fields, in csvHeader's order.
func records(rs []Result) [][]string {
	out := make([][]string, 0, len(rs))
	for _, r := range rs {
		x := rowOf(r)
		f := func(format string, v any) string { return fmt.Sprintf(format, v) }
		out = append(out, []string{x.cell.Consensus, f("%d", x.cell.Validators), x.cell.Scenario, f("%d", x.cell.Run), x.err,
			f("%d", x.accepted), f("%d", x.final), f("%d", x.neverFinal), f("%.2f", x.finalPerSec),
			f("%.3f", x.p50), f("%.3f", x.p95), f("%.3f", x.p99), f("%.3f", x.max), f("%.3f", x.provenP50),
			f("%d", x.blocks), f("%d", x.proposers), f("%d", x.voters), f("%.3f", x.participation), f("%d", x.provers),
			f("%d", x.reorgs), f("%d", x.maxReorg), f("%.2f", x.msgs), f("%.0f", x.bytes), f("%.2f", x.recvMsgs), f("%.0f", x.recvBytes),
			f("%.4f", x.cpu), f("%.1f", x.rssMB), f("%.2f", x.recoverMax), f("%.1f", x.rttP50),
			f("%d", x.safetyNodes), f("%d", x.safetyHeights), f("%t", x.safe), f("%t", x.stalled)})
	}
	return out
}

func csvOf(rs []Result) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(csvHeader) // a strings.Builder does not fail
	_ = w.WriteAll(records(rs))
	return b.String()
}

// describe says what the spec ran, for both reports.
func describe(s *Spec) string {
	return fmt.Sprintf("Real processes on one machine; load %.0f transfers/s for %s, drain %s. "+
		"\"final\" is a BFT commit or an LC block k deep; figures per node are means over the nodes, per final block. "+
		"Participation is the share of stake (equal per validator) that proposed or voted. "+
		"A cell where fewer than half the accepted transfers became final is marked stalled and left out of the plots: its latencies describe a few transfers.", s.Load.Rate, s.Load.duration, s.Load.drain)
}

// oneLine fits an error in a table cell.
func oneLine(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "|", "/"), "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func markdownOf(s *Spec, rs []Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Trial %s\n\n%s\n\n", s.Name, describe(s))
	b.WriteString("| cell | final / accepted | final/s | final p50 / p99 | proven p50 | blocks (proposers, voters) | participation | provers paid | reorgs | sent msgs / KB, recv KB, CPU s per node per block | RSS MB | recovery | link RTT | safety |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		x := rowOf(r)
		if x.err != "" && r.Report == nil {
			fmt.Fprintf(&b, "| %s | failed: %s | | | | | | | | | | | | |\n", r.Cell.Name(), oneLine(x.err))
			continue
		}
		opt := func(v float64, f string) string {
			if v <= 0 {
				return "-"
			}
			return fmt.Sprintf(f, v)
		}
		rec := "-"
		switch {
		case x.recoverMax < 0:
			rec = "never"
		case len(r.Faults) > 0:
			rec = fmt.Sprintf("%.1f s", x.recoverMax)
		}
		safety := "-"
		if r.Safety != nil {
			safety = fmt.Sprintf("ok (%d nodes × %d heights)", x.safetyNodes, x.safetyHeights)
		}
		if x.err != "" {
			safety = "FAILED: " + oneLine(x.err)
		}
		name := r.Cell.Name()
		if x.stalled {
			name += " (stalled)"
		}
		fmt.Fprintf(&b, "| %s | %d / %d | %.0f | %.1f s / %.1f s | %s | %d (%d, %d) | %.0f %% | %d | %d | %.1f / %.1f, %.1f, %.3f | %.0f | %s | %s | %s |\n",
			name, x.final, x.accepted, x.finalPerSec, x.p50, x.p99, opt(x.provenP50, "%.1f s"), x.blocks, x.proposers, x.voters,
			100*x.participation, x.provers, x.reorgs, x.msgs, x.bytes/1000, x.recvBytes/1000, x.cpu, x.rssMB, rec, opt(x.rttP50, "%.0f ms"), safety)
	}
	return b.String()
}

// Figures are a real cell's figures the simulator's calibration compares:
// consensus messages published and KB sent plus received per node per
// final block, submit→final p50 in seconds, and whether it stalled.
type Figures struct {
	Msgs, KB, P50 float64
	Stalled       bool
}

// FiguresOf reads a result's Figures; false for a cell that failed.
func FiguresOf(r Result) (Figures, bool) {
	x := rowOf(r)
	if r.Report == nil || x.final == 0 {
		return Figures{}, false
	}
	return Figures{Msgs: x.msgs, KB: (x.bytes + x.recvBytes) / 1000, P50: x.p50, Stalled: x.stalled}, true
}
