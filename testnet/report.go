package testnet

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// LoadReport is what load prints at the end.
type LoadReport struct {
	ChainID          string         `json:"chain_id"`
	Consensus        string         `json:"consensus"`
	Rate             float64        `json:"target_rate"`
	DurationS        float64        `json:"duration_s"`
	Sent             int64          `json:"sent"`
	Accepted         int64          `json:"accepted"`
	Rejected         int64          `json:"rejected"`
	RejectedByReason map[string]int `json:"rejected_by_reason"`
	Finalized        int64          `json:"finalized"`
	Unfinalized      int            `json:"unfinalized"`
	FinalizedPerSec  float64        `json:"finalized_per_s"`
	Latency          latencyStats   `json:"latency"`
	FinalBlocks      int64          `json:"final_blocks_seen"`
	Conflicts        int            `json:"conflicting_final_blocks"`
	// FinalTxs lists every sent transfer the load saw final, and where.
	FinalTxs []FinalTx  `json:"-"`
	Nodes    []nodeCost `json:"nodes"`
	// Chain describes the blocks finalized during the run.
	Chain *ChainStats `json:"chain,omitempty"`
	// ProvenLatency is submit→proven (with ProvenWait); Unproven counts
	// final transfers whose block was not seen proven in time.
	ProvenLatency *latencyStats `json:"proven_latency,omitempty"`
	Unproven      int           `json:"unproven,omitempty"`
}

// FinalTx is a transfer the load saw final: in the block of that hash at
// that height, on the node it followed.
type FinalTx struct {
	Tx     tx.Hash
	Height uint64
	Block  string
	Sent   time.Time
}

// nodeCost is a node's overhead over the run, per final block.
type nodeCost struct {
	Node          string   `json:"node"`
	Blocks        int64    `json:"blocks"`
	MsgsPerBlock  *float64 `json:"consensus_msgs_per_block"`
	BytesPerBlock *float64 `json:"consensus_bytes_per_block"`
	CPUPerBlock   *float64 `json:"cpu_s_per_block"`
	// Received are the consensus topics' messages and bytes taken in.
	RecvMsgsPerBlock  *float64 `json:"consensus_recv_msgs_per_block"`
	RecvBytesPerBlock *float64 `json:"consensus_recv_bytes_per_block"`
	// RSSMB is the node's and its plugins' resident memory at the end.
	RSSMB float64 `json:"rss_mb"`
	Note  string  `json:"note,omitempty"`
}

// Write prints the report for people.
func (rep *LoadReport) Write(w io.Writer) {
	fmt.Fprintf(w, "\nload on %q (%s): %.0f tx/s target for %.1fs\n", rep.ChainID, rep.Consensus, rep.Rate, rep.DurationS)
	fmt.Fprintf(w, "  sent %d, accepted %d, rejected %d, finalized %d, not finalized %d\n", rep.Sent, rep.Accepted, rep.Rejected, rep.Finalized, rep.Unfinalized)
	if len(rep.RejectedByReason) > 0 {
		reasons := make([]string, 0, len(rep.RejectedByReason))
		for k := range rep.RejectedByReason {
			reasons = append(reasons, k)
		}
		sort.Slice(reasons, func(i, j int) bool {
			a, b := rep.RejectedByReason[reasons[i]], rep.RejectedByReason[reasons[j]]
			return a > b || (a == b && reasons[i] < reasons[j])
		})
		for _, k := range reasons {
			fmt.Fprintf(w, "    rejected %-20s %d\n", k, rep.RejectedByReason[k])
		}
	}
	fmt.Fprintf(w, "  finalized transfers/s: %.1f\n", rep.FinalizedPerSec)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "  latency submit→final: p50 %s, p99 %s, max %s (%d transfers)\n", ms(rep.Latency.P50), ms(rep.Latency.P99), ms(rep.Latency.Max), rep.Latency.Count)
	if l := rep.ProvenLatency; l != nil {
		fmt.Fprintf(w, "  latency submit→proven: p50 %s, p99 %s, max %s (%d transfers; %d final but not seen proven)\n", ms(l.P50), ms(l.P99), ms(l.Max), l.Count, rep.Unproven)
	}
	fmt.Fprintf(w, "  final blocks seen %d, conflicting final blocks %d\n", rep.FinalBlocks, rep.Conflicts)
	if rep.Chain != nil {
		rep.Chain.write(w)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tBLOCKS\tCONSENSUS MSGS/BLOCK\tCONSENSUS BYTES/BLOCK\tCPU S/BLOCK\tNOTE")
	f := func(v *float64, prec int) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', prec, 64)
	}
	for _, n := range rep.Nodes {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", n.Node, n.Blocks, f(n.MsgsPerBlock, 1), f(n.BytesPerBlock, 0), f(n.CPUPerBlock, 4), n.Note)
	}
	_ = tw.Flush()
}
