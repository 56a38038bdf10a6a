package testnet

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
)

// provenPoll is how often the proof follower asks about unproven blocks.
const provenPoll = 500 * time.Millisecond

// trackProven asks the watched node, every provenPoll, whether the blocks
// holding final transfers are proven yet, and notes when each first is.
func (r *loadRun) trackProven(ctx context.Context, n Node) {
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		return
	}
	defer c.Close()
	t := time.NewTicker(provenPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, h := range r.unprovenHeights(200) {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			b, err := c.BlockByNumber(cctx, h, false)
			cancel()
			if err == nil && b.Finality == rpc.FinalityProven {
				r.mu.Lock()
				r.provenAt[h] = time.Now()
				r.mu.Unlock()
			}
		}
	}
}

// unprovenHeights lists up to max heights of final transfers not yet seen
// proven, lowest first.
func (r *loadRun) unprovenHeights(max int) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[uint64]bool{}
	var out []uint64
	for _, f := range r.seenFinal {
		if _, ok := r.provenAt[f.Height]; ok || seen[f.Height] {
			continue
		}
		seen[f.Height] = true
		out = append(out, f.Height)
		if len(out) == max {
			break
		}
	}
	return out
}

// waitProven waits, at most provenWait, until every final transfer's
// block was seen proven.
func (r *loadRun) waitProven(ctx context.Context, progress io.Writer) {
	deadline := time.Now().Add(r.provenWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		left := len(r.unprovenHeights(1 << 20))
		if left == 0 {
			return
		}
		fmt.Fprintf(progress, "waiting for proofs: %d final block(s) not proven yet\n", left)
		time.Sleep(2 * time.Second)
	}
}

// provenLatencies is submit→proven over the final transfers whose block
// was seen proven, and how many were not.
func (r *loadRun) provenLatencies() (*latencyStats, int) {
	var lat []time.Duration
	unproven := 0
	for _, f := range r.seenFinal {
		at, ok := r.provenAt[f.Height]
		if !ok {
			unproven++
			continue
		}
		lat = append(lat, at.Sub(f.Sent))
	}
	s := summarize(lat)
	return &s, unproven
}
