package testnet

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
)

// ChainStats describes the final blocks of a load run, read from the
// watched node: how blocks came, who made them and who proved them.
type ChainStats struct {
	From, To uint64 `json:"-"`
	Blocks   int    `json:"blocks"`
	// Interval is the time between consecutive final blocks (timestamps).
	Interval latencyStats `json:"block_interval"`
	// Proposers is how many distinct validators produced them.
	Proposers int `json:"distinct_proposers"`
	// Voters is how many distinct validators' votes the blocks' commits
	// carry (with LoadOptions.Voters; 0 otherwise).
	Voters int `json:"distinct_voters,omitempty"`
	// Proofs counts the proofs the blocks carry; Provers, the distinct
	// provers paid for them; ProofDelay, the time from a proven block's
	// timestamp to that of the block carrying its proof.
	Proofs     int          `json:"proofs"`
	Provers    int          `json:"distinct_provers_paid"`
	ProofDelay latencyStats `json:"proof_delay"`
	// Reorgs, RevertedBlocks and MaxReorgDepth sum the consensus plugins'
	// counts over every node during the run (longest chain only).
	Reorgs         int64  `json:"reorgs"`
	RevertedBlocks int64  `json:"reverted_blocks"`
	MaxReorgDepth  uint64 `json:"max_reorg_depth"`
	// ReorgDepths counts the run's reorgs by blocks reverted.
	ReorgDepths map[uint64]uint64 `json:"reorg_depths,omitempty"`
}

// parseDepths reads the LC plugin's "depth:count …" detail.
func parseDepths(s string) map[uint64]uint64 {
	m := map[uint64]uint64{}
	for _, f := range strings.Fields(s) {
		d, n, ok := strings.Cut(f, ":")
		dv, err1 := strconv.ParseUint(d, 10, 64)
		nv, err2 := strconv.ParseUint(n, 10, 64)
		if ok && err1 == nil && err2 == nil {
			m[dv] = nv
		}
	}
	return m
}

// chainStats reads final blocks from+1..to from c.
func chainStats(ctx context.Context, c *rpc.Client, from, to uint64, voters func([]byte) []int) (*ChainStats, error) {
	cs := &ChainStats{From: from, To: to}
	if to <= from {
		return cs, nil
	}
	stamps := map[uint64]int64{}
	proposers, provers, voted := map[string]bool{}, map[string]bool{}, map[int]bool{}
	var intervals, delays []time.Duration
	var prev int64
	err := eachBlock(ctx, c, from, to, func(b *rpc.Block) {
		stamps[b.Height] = b.TimestampMs
		if b.Height > from {
			cs.Blocks++
			intervals = append(intervals, time.Duration(b.TimestampMs-prev)*time.Millisecond)
			proposers[b.Proposer.String()] = true
			if voters != nil {
				for _, v := range voters(b.ConsensusData) {
					voted[v] = true
				}
			}
			for _, p := range b.Proofs {
				cs.Proofs++
				provers[p.Prover.String()] = true
				if ts, ok := stamps[p.Height]; ok {
					delays = append(delays, time.Duration(b.TimestampMs-ts)*time.Millisecond)
				}
			}
		}
		prev = b.TimestampMs
	})
	if err != nil {
		return nil, err
	}
	cs.Interval, cs.ProofDelay = summarize(intervals), summarize(delays)
	cs.Proposers, cs.Provers = len(proposers), len(provers)
	if voters != nil {
		cs.Voters = len(voted)
	}
	return cs, nil
}

// write prints the statistics for people.
func (cs *ChainStats) write(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "  final blocks %d..%d: %d blocks from %d proposers; interval p50 %s, p99 %s, max %s\n",
		cs.From+1, cs.To, cs.Blocks, cs.Proposers, ms(cs.Interval.P50), ms(cs.Interval.P99), ms(cs.Interval.Max))
	if cs.Proofs > 0 {
		fmt.Fprintf(w, "  proofs carried %d, by %d provers; block→proof on chain p50 %s, p99 %s\n",
			cs.Proofs, cs.Provers, ms(cs.ProofDelay.P50), ms(cs.ProofDelay.P99))
	}
	if cs.Reorgs > 0 || cs.RevertedBlocks > 0 {
		ds := make([]uint64, 0, len(cs.ReorgDepths))
		for d := range cs.ReorgDepths {
			ds = append(ds, d)
		}
		slices.Sort(ds)
		var by []string
		for _, d := range ds {
			by = append(by, fmt.Sprintf("%d deep: %d", d, cs.ReorgDepths[d]))
		}
		fmt.Fprintf(w, "  reorgs (all nodes) %d (%s), blocks reverted %d\n", cs.Reorgs, strings.Join(by, ", "), cs.RevertedBlocks)
	}
}

// eachBlock reads the canonical blocks from..to (headers) from c in
// batches of the server's limit, handing each to fn in height order.
func eachBlock(ctx context.Context, c *rpc.Client, from, to uint64, fn func(*rpc.Block)) error {
	for lo := from; lo <= to; lo += rpc.DefaultMaxBatch {
		hi := min(lo+rpc.DefaultMaxBatch-1, to)
		calls := make([]rpc.BatchCall, 0, hi-lo+1)
		blocks := make([]*rpc.Block, hi-lo+1)
		for h := lo; h <= hi; h++ {
			calls = append(calls, rpc.BatchCall{Method: "trellis_getBlockByNumber", Params: []any{h, false}, Result: &blocks[h-lo]})
		}
		if err := c.CallBatch(ctx, calls); err != nil {
			return err
		}
		for i, bc := range calls {
			if bc.Err != nil || blocks[i] == nil {
				return fmt.Errorf("block %d: %v", lo+uint64(i), bc.Err)
			}
			fn(blocks[i])
		}
	}
	return nil
}
