package trial

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/testnet"
)

// FaultEvent is one fault as it happened in a cell.
type FaultEvent struct {
	Kind  string `json:"kind"` // crash, pause, partition
	Nodes []int  `json:"nodes,omitempty"`
	// Groups is the partition's shape.
	Groups string `json:"groups,omitempty"`
	// AtS and EndS are seconds from the load's start; EndS is 0 for a
	// crash that stays down.
	AtS  float64 `json:"at_s"`
	EndS float64 `json:"end_s,omitempty"`
	// RecoverS is the time from the fault's end (its start, for a crash
	// that stays down) until every running node finalized a block above
	// the highest final height any node had then; nil if that did not
	// happen before the cell ended.
	RecoverS *float64 `json:"recover_s"`
	Error    string   `json:"error,omitempty"`
}

// action is one fault resolved for a cell.
type action struct {
	kind     string
	nodes    []int
	groups   [][]int
	at, dur  time.Duration
	stayDown bool
}

// plan resolves sc at n validators. Crashed and paused validators are
// taken from the highest index down, so node 0, which the load watches,
// is never one of them; it is in the first group of every partition.
func (sc *Scenario) plan(n int) ([]action, []int) {
	if sc == nil {
		return nil, nil
	}
	var acts []action
	var faulted []int
	next := n - 1
	take := func(c int) []int {
		var out []int
		for range c {
			out = append(out, next)
			next--
		}
		faulted = append(faulted, out...)
		return out
	}
	for _, f := range sc.Crash {
		acts = append(acts, action{kind: "crash", nodes: take(f.count(n)), at: f.at, dur: f.duration, stayDown: f.duration == 0})
	}
	for _, f := range sc.Pause {
		acts = append(acts, action{kind: "pause", nodes: take(f.count(n)), at: f.at, dur: f.duration})
	}
	for _, p := range sc.Partition {
		g, _ := p.groups(n) // checked with the spec
		acts = append(acts, action{kind: "partition", groups: g, at: p.at, dur: p.duration})
	}
	sort.Slice(acts, func(i, j int) bool { return acts[i].at < acts[j].at })
	return acts, faulted
}

// faulter applies a cell's faults on its testnet; its mutex serialises
// the testnet's state (restart re-applies a partition).
type faulter struct {
	mu     sync.Mutex
	net    *testnet.Net
	binary string
	wait   time.Duration
	start  time.Time
	events []FaultEvent
}

// run applies acts, each in its own goroutine, and returns their events
// once all have ended or ctx has.
func (f *faulter) run(ctx context.Context, acts []action) []FaultEvent {
	var wg sync.WaitGroup
	f.events = make([]FaultEvent, len(acts))
	for i, a := range acts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.events[i] = f.apply(ctx, a)
		}()
	}
	wg.Wait()
	return f.events
}

func (f *faulter) since() float64 { return time.Since(f.start).Seconds() }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// outcomeErr is the first error of a testnet action's outcomes.
func outcomeErr(out []testnet.Outcome, err error) error {
	if err != nil {
		return err
	}
	for _, o := range out {
		if o.Err != nil {
			return fmt.Errorf("%s: %w", o.Node, o.Err)
		}
	}
	return nil
}

func (f *faulter) apply(ctx context.Context, a action) FaultEvent {
	ev := FaultEvent{Kind: a.kind, Nodes: a.nodes}
	if a.groups != nil {
		ev.Groups = testnet.FormatGroups(a.groups)
	}
	if !sleepCtx(ctx, time.Until(f.start.Add(a.at))) {
		ev.Error = "the cell ended before the fault"
		return ev
	}
	ev.AtS = f.since()
	do := func(begin bool) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case a.kind == "crash" && begin:
			return outcomeErr(f.net.Kill(a.nodes, 5*time.Second), nil)
		case a.kind == "crash":
			return outcomeErr(f.net.Restart(a.nodes, f.binary, f.wait, 10*time.Second))
		case a.kind == "pause" && begin:
			return outcomeErr(f.net.Signal(a.nodes, syscall.SIGSTOP, "paused"), nil)
		case a.kind == "pause":
			return outcomeErr(f.net.Signal(a.nodes, syscall.SIGCONT, "resumed"), nil)
		case begin:
			return outcomeErr(f.net.Partition(a.groups))
		default:
			return outcomeErr(f.net.Heal())
		}
	}
	if err := do(true); err != nil {
		ev.Error = err.Error()
		return ev
	}
	if !a.stayDown {
		if !sleepCtx(ctx, time.Until(f.start.Add(a.at+a.dur))) {
			ev.Error = "the cell ended before the fault's end"
			return ev
		}
		if err := do(false); err != nil {
			ev.Error = err.Error()
			return ev
		}
		ev.EndS = f.since()
	}
	from := time.Now()
	if r, ok := f.recovered(ctx); ok {
		s := r.Sub(from).Seconds()
		ev.RecoverS = &s
	}
	return ev
}

// recovered waits until every running node has finalized a block above
// the highest final height any node has now, and says when.
func (f *faulter) recovered(ctx context.Context) (time.Time, bool) {
	var target uint64
	for _, h := range f.finalHeights(ctx) {
		target = max(target, h)
	}
	for {
		hs := f.finalHeights(ctx)
		ok := len(hs) > 0
		for _, h := range hs {
			ok = ok && h > target
		}
		if ok {
			return time.Now(), true
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return time.Time{}, false
		}
	}
}

// finalHeights reads the final height of every running node (paused and
// crashed nodes are not running).
func (f *faulter) finalHeights(ctx context.Context) []uint64 {
	f.mu.Lock()
	nodes := append([]testnet.Node(nil), f.net.State.Nodes...)
	f.mu.Unlock()
	var out []uint64
	for _, n := range nodes {
		ps, ok := testnet.NodeProc(n)
		if !ok || ps.State == 'T' || ps.State == 't' {
			continue
		}
		h, err := finalHeight(ctx, n)
		if err != nil {
			continue // restarting; the next poll reads it
		}
		out = append(out, h)
	}
	return out
}

func finalHeight(ctx context.Context, n testnet.Node) (uint64, error) {
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	b, err := c.BlockByTag(cctx, rpc.TagFinalized, false)
	if err != nil {
		return 0, err
	}
	return b.Height, nil
}
