package testnet

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"
)

// CPUReport is each node's processor use over a window with no load
// applied: what a network costs its machines while it only keeps itself
// alive (`testnet cpu`).
type CPUReport struct {
	ChainID   string    `json:"chain_id"`
	Consensus string    `json:"consensus"`
	WindowS   float64   `json:"window_s"`
	Nodes     []NodeCPU `json:"nodes"`
	// TotalPct is the nodes' sum, in percent of one core.
	TotalPct float64 `json:"total_pct_of_core"`
}

// NodeCPU is one node's use: the node process and its plugins together.
type NodeCPU struct {
	Node string `json:"node"`
	// Pct is CPU time over the window, in percent of one core.
	Pct    float64 `json:"pct_of_core"`
	Blocks int64   `json:"blocks_finalized"`
	RSSMB  float64 `json:"rss_mb"`
	Note   string  `json:"note,omitempty"`
}

// MeasureCPU samples every node's process group (utime + stime from
// /proc) and final height, waits d, and samples again; progress, if not
// nil, gets a line every ten seconds.
func (n *Net) MeasureCPU(ctx context.Context, d time.Duration, progress io.Writer) (*CPUReport, error) {
	if d < time.Second || d > time.Hour {
		return nil, fmt.Errorf("%w: -duration %s: want 1s to 1h", ErrTestnet, d)
	}
	st := n.State
	before := make([]nodeSnapshot, len(st.Nodes))
	for i, nd := range st.Nodes {
		before[i] = snapshotNode(nd)
	}
	// CPU is read from /proc on its own, all nodes within milliseconds and
	// each with its time: the snapshots' RPC calls can take seconds on a
	// saturated machine, which would stretch a node's interval past the
	// window.
	t0, ticks0 := groupTicks(st.Nodes)
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	done := time.After(d)
wait:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-done:
			break wait
		case <-tick.C:
			if progress != nil {
				fmt.Fprintf(progress, "measuring: %s of %s\n", time.Since(start).Round(time.Second), d)
			}
		}
	}
	t1, ticks1 := groupTicks(st.Nodes)
	window := time.Since(start).Seconds()
	rep := &CPUReport{ChainID: st.ChainID, Consensus: st.Consensus, WindowS: window}
	for i, nd := range st.Nodes {
		a, b := before[i], snapshotNode(nd)
		c := NodeCPU{Node: nd.Name}
		switch {
		case !a.ok || !b.ok:
			c.Note = "not measured: node " + a.err + " / " + b.err
		case a.pid != b.pid || ticks1[i] < ticks0[i]:
			c.Note = "restarted during the window"
		default:
			c.Pct = 100 * float64(ticks1[i]-ticks0[i]) / clockTicks / t1[i].Sub(t0[i]).Seconds()
			c.Blocks = int64(b.final) - int64(a.final)
			c.RSSMB = float64(b.rssPages*uint64(os.Getpagesize())) / (1 << 20)
			rep.TotalPct += c.Pct
		}
		rep.Nodes = append(rep.Nodes, c)
	}
	return rep, nil
}

// Write prints the report for people.
func (r *CPUReport) Write(w io.Writer) {
	fmt.Fprintf(w, "CPU of testnet %q (%s) over %.0f s, node and plugins, in %% of one core (/proc ticks of 10 ms)\n",
		r.ChainID, r.Consensus, r.WindowS)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tCPU %\tBLOCKS FINALIZED\tRSS MB\tNOTE")
	for _, n := range r.Nodes {
		fmt.Fprintf(tw, "  %s\t%.1f\t%d\t%.0f\t%s\n", n.Node, n.Pct, n.Blocks, n.RSSMB, n.Note)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "  total %.1f %% of one core\n", r.TotalPct)
}

// groupTicks reads every node's process group CPU ticks, with the time of
// each reading.
func groupTicks(nodes []Node) ([]time.Time, []uint64) {
	ts, ticks := make([]time.Time, len(nodes)), make([]uint64, len(nodes))
	for i, nd := range nodes {
		ticks[i], _ = groupUsage(nd)
		ts[i] = time.Now()
	}
	return ts, ticks
}

// groupUsage sums a node's process group (node and plugins): CPU ticks
// (utime + stime) and resident pages.
func groupUsage(n Node) (ticks, rssPages uint64) {
	for _, p := range NodeGroup(n) {
		ticks += p.Ticks
		rssPages += p.RSS
	}
	return ticks, rssPages
}
