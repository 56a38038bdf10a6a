package sim

import (
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
