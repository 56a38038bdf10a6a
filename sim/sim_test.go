package sim

import (
	"fmt"
	"os"
	"testing"
	"time"

	bft "github.com/trellis-chain/trellis/plugins/consensus-bft"
	"github.com/trellis-chain/trellis/protocol/account"
)

func smallConfig(n int) Config {
	return Config{Consensus: "bft", Validators: n, Seed: 7, Rate: 100, Duration: 5 * time.Second, Drain: 5 * time.Second,
		BFT: bft.Config{ChainID: "sim-test", TimeoutPropose: bft.DefaultTimeoutPropose, TimeoutProposeDelta: bft.DefaultTimeoutProposeDelta,
			TimeoutVote: bft.DefaultTimeoutVote, TimeoutVoteDelta: bft.DefaultTimeoutVoteDelta, BlockInterval: bft.DefaultBlockInterval}}
}

// TestBFTDecides: the BFT plugin's own engine, four times over on the
// virtual clock, finalizes the load's transfers, every node agreeing.
func TestBFTDecides(t *testing.T) {
	r, err := Run(smallConfig(4), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.FinalHeight < 10 || r.Final != r.Submitted || r.P50 <= 0 || len(r.Violations) != 0 || r.Proposers != 4 || r.Voters < 3 || r.Voters > 4 {
		t.Fatalf("result %+v", r)
	}
}

// TestDeterministic: same config and seed, same trace, bit for bit; a
// different seed, another trace.
func TestDeterministic(t *testing.T) {
	c := smallConfig(7)
	c.Link = Link{Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.01, UplinkBps: 10e6}
	c.Crashed = 2
	a, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.TraceHash != b.TraceHash || a.Events != b.Events || a.P50 != b.P50 || a.FinalHeight == 0 {
		t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
	}
	c.Seed++
	d, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.TraceHash == a.TraceHash {
		t.Fatal("another seed gave the same trace")
	}
}

// TestLCDecides: the longest-chain plugin's own engine, four times over,
// makes the load's transfers k deep, every node agreeing.
func TestLCDecides(t *testing.T) {
	c := smallConfig(4)
	c.Consensus, c.Duration, c.Drain = "lc", 10*time.Second, 30*time.Second
	r, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.FinalHeight < 5 || r.Final != r.Submitted || r.P50 <= 0 || len(r.Violations) != 0 || r.Proposers < 2 || r.Voters != 0 {
		t.Fatalf("result %+v", r)
	}
}

// TestAddressesValid: every simulated validator's address decodes as an
// address (the LC plugin refuses a set with one that does not).
func TestAddressesValid(t *testing.T) {
	for i := range MaxValidators {
		a := simAddress(i)
		if _, err := account.AddressFromBytes(a[:]); err != nil {
			t.Fatalf("validator %d: %v", i, err)
		}
	}
}

// TestPause: one of four BFT validators paused leaves a quorum, so
// finality barely notices; two paused stop it until they resume, and every
// transfer still becomes final, with no safety violation. The same pause
// gives the same trace twice.
func TestPause(t *testing.T) {
	run := func(nodes ...int) *Result {
		c := smallConfig(4)
		c.Duration, c.Drain = 8*time.Second, 10*time.Second
		c.Pauses = []Pause{{Nodes: nodes, At: 2 * time.Second, Duration: 4 * time.Second}}
		return runClean(t, c, fmt.Sprintf("pause of %v", nodes))
	}
	one, two := run(3), run(2, 3)
	t.Logf("one paused: p50 %.2f s max %.2f s; two paused: p50 %.2f s max %.2f s", one.P50, one.Max, two.P50, two.Max)
	if one.Max > 2 {
		t.Errorf("one of four paused: a transfer waited %.2f s", one.Max)
	}
	if two.Max < 3 {
		t.Errorf("two of four paused for 4 s: the longest wait was only %.2f s", two.Max)
	}
	if again := run(2, 3); again.TraceHash != two.TraceHash {
		t.Error("the same pause gave another trace")
	}
	c := smallConfig(4)
	c.Pauses = []Pause{{Nodes: []int{4}, At: time.Second, Duration: time.Second}}
	if _, err := Run(c, nil); err == nil {
		t.Error("a pause of validator 4 of 4 was accepted")
	}
}

func TestPartition(t *testing.T) {
	run := func(groups ...[]int) *Result {
		c := smallConfig(4)
		c.Duration, c.Drain = 8*time.Second, 15*time.Second
		c.Partitions = []Partition{{Groups: groups, At: 2 * time.Second, Duration: 4 * time.Second}}
		r := runClean(t, c, fmt.Sprintf("partition %v", groups))
		if r.Cut == 0 {
			t.Fatalf("partition %v stopped no message", groups)
		}
		return r
	}
	halves := run([]int{0, 1}, []int{2, 3})
	minority := run([]int{0, 1, 2}, []int{3})
	t.Logf("halves: p50 %.2f s max %.2f s, %d cut; one alone: p50 %.2f s max %.2f s, %d cut",
		halves.P50, halves.Max, halves.Cut, minority.P50, minority.Max, minority.Cut)
	// Neither half holds more than 2/3 of the stake: nothing is final
	// until the partition heals.
	if halves.Max < 3 {
		t.Errorf("halves apart for 4 s: the longest wait was only %.2f s", halves.Max)
	}
	// Three of four keep finalizing, and the one cut off catches up.
	if minority.Max > 2 {
		t.Errorf("one of four cut off: a transfer waited %.2f s", minority.Max)
	}
	if minority.MinFinalHeight+1 < minority.FinalHeight {
		t.Errorf("the validator cut off ended at final height %d, node 0 at %d", minority.MinFinalHeight, minority.FinalHeight)
	}
	if again := run([]int{0, 1}, []int{2, 3}); again.TraceHash != halves.TraceHash {
		t.Error("the same partition gave another trace")
	}
	for _, p := range []Partition{
		{Groups: [][]int{{0, 1}, {1, 2}}},
		{Groups: [][]int{{0, 4}}},
		{Groups: [][]int{{0, 1, 2, 3}}},
		{Groups: [][]int{{0}, {1}}, At: -time.Second},
	} {
		c := smallConfig(4)
		c.Partitions = []Partition{p}
		if _, err := Run(c, nil); err == nil {
			t.Errorf("partition %+v was accepted", p)
		}
	}
}

func TestCrashAndRestart(t *testing.T) {
	run := func(crashes ...Crash) *Result {
		c := smallConfig(4)
		c.Duration, c.Drain = 14*time.Second, 15*time.Second
		c.Crashes = crashes
		return runClean(t, c, fmt.Sprintf("crashes %+v", crashes))
	}
	// One of four down for 4 s, then back: the others go on, and it
	// catches up.
	one := run(Crash{Nodes: []int{3}, At: 2 * time.Second, Duration: 4 * time.Second})
	if one.Max > 2 || one.MinFinalHeight+1 < one.FinalHeight {
		t.Errorf("one of four restarted: longest wait %.2f s, it ended at final height %d of %d", one.Max, one.MinFinalHeight, one.FinalHeight)
	}
	// Two of four down: nothing is final until they are back.
	two := run(Crash{Nodes: []int{2, 3}, At: 2 * time.Second, Duration: 4 * time.Second})
	if two.Max < 3 || two.MinFinalHeight+1 < two.FinalHeight {
		t.Errorf("two of four restarted: longest wait %.2f s, final heights %d / %d", two.Max, two.MinFinalHeight, two.FinalHeight)
	}
	t.Logf("one restarted: p50 %.2f s max %.2f s; two restarted: p50 %.2f s max %.2f s", one.P50, one.Max, two.P50, two.Max)
	if again := run(Crash{Nodes: []int{2, 3}, At: 2 * time.Second, Duration: 4 * time.Second}); again.TraceHash != two.TraceHash {
		t.Error("the same crashes gave another trace")
	}
	// A crash for good: three of four finish the run.
	run(Crash{Nodes: []int{3}, At: 2 * time.Second})
	for _, c := range []Config{
		func() Config { c := smallConfig(4); c.Crashes = []Crash{{Nodes: []int{4}}}; return c }(),
		func() Config { c := smallConfig(4); c.Crashes = []Crash{{Nodes: []int{1}, At: -1}}; return c }(),
		func() Config {
			c := smallConfig(4)
			c.Consensus = "lc"
			c.Crashes = []Crash{{Nodes: []int{1}, At: time.Second}}
			return c
		}(),
	} {
		if _, err := Run(c, nil); err == nil {
			t.Errorf("crashes %+v (%s) were accepted", c.Crashes, c.Consensus)
		}
	}
}

// runClean runs c and fails the test unless every transfer became final
// with no safety violation.
func runClean(t *testing.T, c Config, what string) *Result {
	t.Helper()
	r, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Final != r.Submitted || len(r.Violations) != 0 {
		t.Fatalf("%s: %+v", what, r)
	}
	return r
}
