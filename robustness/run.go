package robustness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/trellis-chain/trellis/testnet"
)

// Options is one robustness run.
type Options struct {
	Dir       string // the testnet directory (created; kept for the logs)
	Binary    string // the trellis binary
	PluginDir string // where the plugin binaries are
	Nodes     int    // validators (4 keeps quorum with any one node down)
	Seed      uint64
	Faults    int // faults in the schedule
	MinHold   time.Duration
	MaxHold   time.Duration
	Rate      float64 // transfers per second sent throughout
	// Duration, when set, ends the schedule at the first fault that would
	// start after it (a soak draws more faults than it will use).
	Duration time.Duration
	// ResumeBound is how long finality may take to resume after a fault
	// heals before the run counts a violation.
	ResumeBound time.Duration
}

// The bounds a run holds nodes to.
const (
	DefaultResumeBound = 60 * time.Second
	rpcWait            = 120 * time.Second
	stopTimeout        = 10 * time.Second
	drain              = 60 * time.Second
)

// FaultResult is what one fault did.
type FaultResult struct {
	Fault   string        `json:"fault"`
	Kind    Kind          `json:"kind"`
	Resume  time.Duration `json:"resume_ns"`  // heal to a new final height
	CatchUp time.Duration `json:"catchup_ns"` // heal to every node at that height
	Err     string        `json:"error,omitempty"`
}

// Report is a run's outcome.
type Report struct {
	Seed     uint64        `json:"seed"`
	Nodes    int           `json:"nodes"`
	Wall     time.Duration `json:"wall_ns"`
	Faults   []FaultResult `json:"faults"`
	Sent     int64         `json:"sent"`
	Accepted int64         `json:"accepted"`
	Final    int64         `json:"final"`
	Unfinal  int           `json:"accepted_not_final"`
	Lost     int           `json:"lost"`
	Heights  uint64        `json:"final_height"`
	// WALResumes counts BFT plugins that resumed a height from their
	// write-ahead log after a kill or restart, read from the node logs.
	WALResumes int                    `json:"wal_resumes"`
	Violations []string               `json:"violations"`
	RSS        map[string][]rssSample `json:"rss"`
	Load       *testnet.LoadReport    `json:"load"`
}

// Run starts a testnet, loads it, runs the schedule drawn from o.Seed and
// checks the invariants. The error is for a run that could not be carried
// out; broken invariants are in Report.Violations. The testnet is stopped
// at the end; its directory stays for the logs.
func Run(ctx context.Context, o Options, out io.Writer) (*Report, error) {
	if o.Nodes < 4 {
		return nil, fmt.Errorf("robustness: %d nodes; at least 4, so that one faulty node leaves a quorum", o.Nodes)
	}
	if o.ResumeBound <= 0 {
		o.ResumeBound = DefaultResumeBound
	}
	sched := Schedule(o.Seed, o.Nodes, o.Faults, o.MinHold, o.MaxHold)
	fmt.Fprintf(out, "robustness: seed %d, %d faults on %d validators, %g transfers/s; testnet in %s\n", o.Seed, len(sched), o.Nodes, o.Rate, o.Dir)
	net, err := testnet.Up(testnet.UpOptions{Dir: o.Dir, Binary: o.Binary, Wait: rpcWait, Spec: testnet.Spec{
		Nodes: o.Nodes, Consensus: testnet.ConsensusBFT, ChainID: "robustness", BasePort: 0,
		BlockInterval: 300 * time.Millisecond, LoadAccounts: 64, PluginDir: o.PluginDir,
	}}, out)
	if err != nil {
		return nil, err
	}
	defer func() {
		if _, err := net.Down(stopTimeout); err != nil {
			fmt.Fprintf(out, "robustness: testnet down: %v\n", err)
		}
	}()
	start := time.Now()
	rep := &Report{Seed: o.Seed, Nodes: o.Nodes, RSS: map[string][]rssSample{}}
	chk := newChecker(net, 250*time.Millisecond)
	cctx, ccancel := context.WithCancel(ctx)
	checked := make(chan struct{})
	go func() { defer close(checked); chk.run(cctx, start) }()
	defer func() { ccancel(); <-checked }()
	all := make([]int, o.Nodes)
	for i := range all {
		all[i] = i
	}
	if err := waitFor(ctx, o.ResumeBound, func() bool { return chk.lowestChecked(all) >= 2 }); err != nil {
		return nil, fmt.Errorf("the testnet did not finalize height 2 on every node: %w", err)
	}

	stop := make(chan struct{})
	type loadResult struct {
		rep *testnet.LoadReport
		err error
	}
	loaded := make(chan loadResult, 1)
	go func() {
		r, err := net.Load(ctx, testnet.LoadOptions{Rate: o.Rate, Duration: 24 * time.Hour, Nodes: all, Watch: 0,
			Workers: 8, Batch: 16, Drain: drain, Amount: 1, Stop: stop}, io.Discard)
		loaded <- loadResult{r, err}
	}()
	// Let the load connect to every node before the first fault.
	sleep(ctx, 3*time.Second)
	select {
	case lr := <-loaded:
		return nil, fmt.Errorf("load: %w", lr.err)
	default:
	}

	for k, f := range sched {
		if ctx.Err() != nil || (o.Duration > 0 && time.Since(start) > o.Duration) {
			break
		}
		fr := FaultResult{Fault: f.String(), Kind: f.Kind}
		fmt.Fprintf(out, "[%s] fault %d: %s\n", since(start), k+1, f)
		heal, err := apply(net, o, f)
		if err != nil {
			fr.Err = err.Error()
			rep.Violations = append(rep.Violations, fmt.Sprintf("fault %d (%s): %v", k+1, f, err))
		}
		sleep(ctx, f.Hold)
		if heal != nil {
			if err := heal(); err != nil {
				fr.Err = err.Error()
				rep.Violations = append(rep.Violations, fmt.Sprintf("healing fault %d (%s): %v", k+1, f, err))
			}
		}
		healed, base := time.Now(), chk.highest()
		if err := waitFor(ctx, o.ResumeBound, func() bool { return chk.highest() > base }); err != nil {
			rep.Violations = append(rep.Violations, fmt.Sprintf("fault %d (%s): finality did not resume within %s of the heal (stuck at %d)", k+1, f, o.ResumeBound, base))
		}
		fr.Resume = time.Since(healed)
		if err := waitFor(ctx, 2*o.ResumeBound, func() bool { return chk.lowestChecked(all) > base }); err != nil {
			rep.Violations = append(rep.Violations, fmt.Sprintf("fault %d (%s): not every node reached height %d within %s of the heal", k+1, f, base+1, 2*o.ResumeBound))
		}
		fr.CatchUp = time.Since(healed)
		fmt.Fprintf(out, "[%s]   healed; finality resumed in %s, every node caught up in %s (final height %d)\n",
			since(start), fr.Resume.Round(time.Millisecond), fr.CatchUp.Round(time.Millisecond), chk.highest())
		rep.Faults = append(rep.Faults, fr)
	}

	close(stop)
	fmt.Fprintf(out, "[%s] schedule done; draining the load (up to %s)\n", since(start), drain)
	lr := <-loaded
	if lr.err != nil {
		return rep, fmt.Errorf("load: %w", lr.err)
	}
	rep.Load = lr.rep
	rep.Sent, rep.Accepted, rep.Final, rep.Unfinal = lr.rep.Sent, lr.rep.Accepted, lr.rep.Finalized, lr.rep.Unfinalized
	if lr.rep.Conflicts > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("the load client saw %d conflicting final blocks", lr.rep.Conflicts))
	}
	// Every node must reach the highest height the client saw a transfer
	// final at, so that each of those blocks is compared on every node.
	var need uint64
	for _, ft := range lr.rep.FinalTxs {
		need = max(need, ft.Height)
	}
	if err := waitFor(ctx, 2*o.ResumeBound, func() bool { return chk.lowestChecked(all) >= need }); err != nil {
		rep.Violations = append(rep.Violations, fmt.Sprintf("not every node reached height %d, the last at which a transfer was seen final", need))
	}
	ccancel()
	<-checked
	rep.Lost = chk.lost(lr.rep.FinalTxs, &rep.Violations)
	rep.Violations = append(rep.Violations, chk.violations...)
	names := make([]string, o.Nodes)
	for i, n := range net.State.Nodes {
		names[i] = n.Name
		rep.RSS[n.Name] = chk.rss[i]
	}
	rep.Violations = append(rep.Violations, chk.memoryViolations(names)...)
	for _, n := range net.State.Nodes {
		l, err := os.ReadFile(n.Log)
		if err != nil {
			continue
		}
		rep.WALResumes += bytes.Count(l, []byte("resuming from the write-ahead log"))
		if k := bytes.Count(l, []byte("write-ahead log unreadable")); k > 0 {
			rep.Violations = append(rep.Violations, fmt.Sprintf("%s: the BFT write-ahead log was unreadable after %d restart(s)", n.Name, k))
		}
	}
	rep.Heights = chk.highest()
	rep.Wall = time.Since(start)
	if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(o.Dir, "robustness-report.json"), b, 0o644)
	}
	return rep, nil
}

// lost counts transfers the client saw final that are not in the block the
// client saw them in, as every node holds it.
func (c *checker) lost(fts []testnet.FinalTx, violations *[]string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ft := range fts {
		b := c.blocks[ft.Height]
		switch {
		case b == nil:
			n++
			*violations = append(*violations, fmt.Sprintf("transfer %s seen final at height %d: no node's block at that height was read", ft.Tx, ft.Height))
		case b.hash != ft.Block:
			n++
			*violations = append(*violations, fmt.Sprintf("transfer %s seen final in block %s at height %d; the nodes hold %s", ft.Tx, ft.Block, ft.Height, b.hash))
		case !b.txs[ft.Tx.String()]:
			n++
			*violations = append(*violations, fmt.Sprintf("transfer %s seen final at height %d is not in that block", ft.Tx, ft.Height))
		}
		if len(*violations) > 100 {
			break
		}
	}
	return n
}

// apply injects f and returns what heals it.
func apply(net *testnet.Net, o Options, f Fault) (func() error, error) {
	one := []int{f.Node}
	restart := func(env ...string) error {
		outs, err := net.RestartEnv(one, o.Binary, env, rpcWait, stopTimeout)
		return errors.Join(err, outcomeErr(outs))
	}
	switch f.Kind {
	case KillNode:
		if err := outcomeErr(net.Kill(one, 5*time.Second)); err != nil {
			return nil, err
		}
		return func() error { return restart() }, nil
	case KillPlugin:
		return nil, killPlugin(net.State.Nodes[f.Node], "trellis-consensus-bft")
	case Pause:
		if err := outcomeErr(net.Signal(one, syscall.SIGSTOP, "paused")); err != nil {
			return nil, err
		}
		return func() error { return outcomeErr(net.Signal(one, syscall.SIGCONT, "resumed")) }, nil
	case Restart:
		return nil, restart()
	case Partition, IsolateOne:
		groups := f.Groups
		if f.Kind == IsolateOne {
			var rest []int
			for i := range o.Nodes {
				if i != f.Node {
					rest = append(rest, i)
				}
			}
			groups = [][]int{{f.Node}, rest}
		}
		outs, err := net.Partition(groups)
		if err := errors.Join(err, outcomeErr(outs)); err != nil {
			return nil, err
		}
		return func() error {
			outs, err := net.Heal()
			return errors.Join(err, outcomeErr(outs))
		}, nil
	case RestartSkew:
		if err := restart(testnet.EnvClockSkew + "=" + f.Skew.String()); err != nil {
			return nil, err
		}
		return func() error { return restart() }, nil
	}
	return nil, fmt.Errorf("unknown fault kind %q", f.Kind)
}

// killPlugin sends SIGKILL to the node's plugin process whose command is
// name.
func killPlugin(n testnet.Node, name string) error {
	for _, p := range testnet.NodeGroup(n) {
		cmd, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/cmdline")
		if err != nil || p.PID == n.PID {
			continue
		}
		argv0, _, _ := bytes.Cut(cmd, []byte{0})
		if filepath.Base(string(argv0)) == name {
			return syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	return fmt.Errorf("%s: no %s process", n.Name, name)
}

func outcomeErr(outs []testnet.Outcome) error {
	var errs []error
	for _, o := range outs {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Node, o.Err))
		}
	}
	return errors.Join(errs...)
}

// waitFor polls cond every 100 ms until it holds, ctx ends or d passes.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", d)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }

// Summary is a fault kind's resume times.
type Summary struct {
	Kind            Kind
	Count           int
	ResumeP50, Max  time.Duration
	CatchUpP50, CMx time.Duration
}

// Summarize groups the faults by kind.
func (r *Report) Summarize() []Summary {
	by := map[Kind][]FaultResult{}
	for _, f := range r.Faults {
		by[f.Kind] = append(by[f.Kind], f)
	}
	var out []Summary
	for _, k := range Kinds {
		fs := by[k]
		if len(fs) == 0 {
			continue
		}
		res := make([]time.Duration, len(fs))
		cat := make([]time.Duration, len(fs))
		for i, f := range fs {
			res[i], cat[i] = f.Resume, f.CatchUp
		}
		slices.Sort(res)
		slices.Sort(cat)
		out = append(out, Summary{Kind: k, Count: len(fs), ResumeP50: res[len(res)/2], Max: res[len(res)-1], CatchUpP50: cat[len(cat)/2], CMx: cat[len(cat)-1]})
	}
	return out
}

// Write prints the report for people.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "seed %d: %d faults over %s, final height %d\n", r.Seed, len(r.Faults), r.Wall.Round(time.Second), r.Heights)
	fmt.Fprintf(w, "%-14s %5s %12s %12s %12s %12s\n", "fault", "count", "resume p50", "resume max", "catch-up p50", "catch-up max")
	for _, s := range r.Summarize() {
		fmt.Fprintf(w, "%-14s %5d %12s %12s %12s %12s\n", s.Kind, s.Count, s.ResumeP50.Round(time.Millisecond), s.Max.Round(time.Millisecond),
			s.CatchUpP50.Round(time.Millisecond), s.CMx.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "transfers: sent %d, accepted %d, final %d, accepted but not final %d, lost %d\n", r.Sent, r.Accepted, r.Final, r.Unfinal, r.Lost)
	fmt.Fprintf(w, "BFT plugins that resumed a height from the write-ahead log: %d (none unreadable unless listed below)\n", r.WALResumes)
	for _, name := range slices.Sorted(maps.Keys(r.RSS)) {
		s := r.RSS[name]
		if len(s) == 0 {
			continue
		}
		var peak uint64
		for _, x := range s {
			peak = max(peak, x.RSS)
		}
		fmt.Fprintf(w, "%s RSS (node + plugins): first %d MB, peak %d MB, last %d MB (%d samples)\n", name, s[0].RSS>>20, peak>>20, s[len(s)-1].RSS>>20, len(s))
	}
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "invariant violations: 0")
		return
	}
	fmt.Fprintf(w, "invariant violations: %d\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintln(w, "  "+v)
	}
}
