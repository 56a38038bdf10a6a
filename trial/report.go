package trial

import (
	"fmt"
	"strings"
	"time"
)

// row is one cell's figures, as the CSV and the report show them.
type row struct {
	cell                               Cell
	err                                string
	finalPerSec, p50, p99, provenP50   float64 // seconds, or transfers/s
	accepted, final, neverFinal        int64
	blocks, proposers, provers, reorgs int
	msgs, bytes, cpu                   float64 // mean per node per final block
}

func rowOf(r Result) row {
	x := row{cell: r.Cell, err: r.Error}
	rep := r.Report
	if rep == nil {
		return x
	}
	sec := func(d time.Duration) float64 { return d.Seconds() }
	x.finalPerSec, x.p50, x.p99 = rep.FinalizedPerSec, sec(rep.Latency.P50), sec(rep.Latency.P99)
	if rep.ProvenLatency != nil && rep.ProvenLatency.Count > 0 {
		x.provenP50 = sec(rep.ProvenLatency.P50)
	}
	x.accepted, x.final, x.neverFinal = rep.Accepted, rep.Finalized, int64(rep.Unfinalized)
	if c := rep.Chain; c != nil {
		x.blocks, x.proposers, x.provers, x.reorgs = c.Blocks, c.Proposers, c.Provers, int(c.Reorgs)
	}
	var n float64
	for _, nc := range rep.Nodes {
		if nc.MsgsPerBlock == nil || nc.BytesPerBlock == nil || nc.CPUPerBlock == nil {
			continue
		}
		x.msgs += *nc.MsgsPerBlock
		x.bytes += *nc.BytesPerBlock
		x.cpu += *nc.CPUPerBlock
		n++
	}
	if n > 0 {
		x.msgs, x.bytes, x.cpu = x.msgs/n, x.bytes/n, x.cpu/n
	}
	return x
}

const csvHeader = "consensus,validators,run,error,accepted,final,never_final,final_per_s,final_p50_s,final_p99_s,proven_p50_s,final_blocks,proposers,provers_paid,reorgs,msgs_per_node_block,bytes_per_node_block,cpu_s_per_node_block\n"

func csvOf(rs []Result) string {
	var b strings.Builder
	b.WriteString(csvHeader)
	for _, r := range rs {
		x := rowOf(r)
		fmt.Fprintf(&b, "%s,%d,%d,%q,%d,%d,%d,%.2f,%.3f,%.3f,%.3f,%d,%d,%d,%d,%.2f,%.0f,%.4f\n",
			x.cell.Consensus, x.cell.Validators, x.cell.Run, x.err, x.accepted, x.final, x.neverFinal, x.finalPerSec,
			x.p50, x.p99, x.provenP50, x.blocks, x.proposers, x.provers, x.reorgs, x.msgs, x.bytes, x.cpu)
	}
	return b.String()
}

func markdownOf(s *Spec, rs []Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Trial %s\n\nReal processes on one machine; load %.0f transfers/s for %s, drain %s. ", s.Name, s.Load.Rate, s.Load.duration, s.Load.drain)
	b.WriteString("\"final\" is a BFT commit or an LC block k deep; figures per node are means over the nodes, per final block.\n\n")
	b.WriteString("| cell | final / accepted | final/s | final p50 / p99 | proven p50 | blocks (proposers) | provers paid | reorgs | msgs / KB / CPU s per node per block |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		x := rowOf(r)
		if x.err != "" {
			fmt.Fprintf(&b, "| %s | failed: %s | | | | | | | |\n", r.Cell.Name(), strings.ReplaceAll(x.err, "|", "/"))
			continue
		}
		proven := "-"
		if x.provenP50 > 0 {
			proven = fmt.Sprintf("%.1f s", x.provenP50)
		}
		fmt.Fprintf(&b, "| %s | %d / %d | %.0f | %.1f s / %.1f s | %s | %d (%d) | %d | %d | %.1f / %.0f / %.2f |\n",
			r.Cell.Name(), x.final, x.accepted, x.finalPerSec, x.p50, x.p99, proven, x.blocks, x.proposers, x.provers, x.reorgs,
			x.msgs, x.bytes/1000, x.cpu)
	}
	return b.String()
}
