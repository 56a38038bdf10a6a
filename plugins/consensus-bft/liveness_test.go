package bft

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/protocol/vote"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// TestFirstDeliveryLost loses the first delivery of every message to
// every peer: what gossip does to a node that is partitioned, paused or
// restarting when a vote goes out. Every round's messages are new, so
// timeouts alone never get a vote through; only re-sending does.
func TestFirstDeliveryLost(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	var mu sync.Mutex
	seen := map[string]bool{}
	c.net.drop = func(from, to, topic string, data []byte) bool {
		if from == to {
			return false
		}
		k := fmt.Sprintf("%s>%s:%x", from, to, sha256.Sum256(data))
		mu.Lock()
		defer mu.Unlock()
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	c.startAll(all(4)...)
	c.waitFinal(3, all(4)...)
	checkSameChain(t, c, 3, all(4)...)
}

// partitionSeed is the seed of TestPartitionSchedule: TRELLIS_BFT_SEED
// reruns a failing schedule.
func partitionSeed(t *testing.T) uint64 {
	if s := os.Getenv("TRELLIS_BFT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TRELLIS_BFT_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// phase is one step of a partition schedule: groups that cannot reach
// each other (nil: healed) for a while.
type phase struct {
	groups [][]int
	d      time.Duration
}

// partitionSchedule draws phases of every shape a 4-validator network can
// split into, each followed by a short heal, from seed.
func partitionSchedule(seed uint64, n int) []phase {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	shapes := []func(p []int) [][]int{
		func(p []int) [][]int { return [][]int{p[:2], p[2:]} },                 // 2/2: no quorum anywhere
		func(p []int) [][]int { return [][]int{p[:1], p[1:]} },                 // 1/3: the majority goes on
		func(p []int) [][]int { return [][]int{p[:1], p[1:2], p[2:]} },         // 1/1/2
		func(p []int) [][]int { return [][]int{p[:1], p[1:2], p[2:3], p[3:]} }, // everyone alone
	}
	var out []phase
	for range n {
		p := rng.Perm(4)
		out = append(out,
			phase{groups: shapes[rng.IntN(len(shapes))](p), d: time.Duration(100+rng.IntN(1400)) * time.Millisecond},
			phase{d: time.Duration(rng.IntN(300)) * time.Millisecond})
	}
	return out
}

// TestPartitionSchedule runs a seeded schedule of partitions and heals
// over a 4-validator network and checks that after the last heal every
// node finalizes again and all agree. The 2/2 case is the one that halted
// for good before precommits armed their timeout and votes were re-sent.
func TestPartitionSchedule(t *testing.T) {
	seed := partitionSeed(t)
	sched := partitionSchedule(seed, 6)
	var desc []string
	for _, ph := range sched {
		if ph.groups != nil {
			desc = append(desc, fmt.Sprintf("%v for %s", ph.groups, ph.d))
		}
	}
	t.Logf("seed %d (rerun with TRELLIS_BFT_SEED=%d): %s", seed, seed, strings.Join(desc, ", "))

	c := newCluster(t, 4, testConfig())
	var mu sync.Mutex
	group := []int{0, 0, 0, 0}
	reachable := func(a, b int) bool {
		mu.Lock()
		defer mu.Unlock()
		return group[a] == group[b]
	}
	c.net.drop = func(from, to, topic string, data []byte) bool {
		var f, g int
		if _, err := fmt.Sscanf(from, "peer%d", &f); err != nil {
			return false
		}
		if _, err := fmt.Sscanf(to, "peer%d", &g); err != nil {
			return false
		}
		return !reachable(f, g)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	synced := c.syncHosts(ctx, reachable)
	defer func() { cancel(); <-synced }()
	c.startAll(all(4)...)
	c.waitFinal(1, all(4)...)
	for _, ph := range sched {
		mu.Lock()
		for i := range group {
			group[i] = 0
		}
		for gi, g := range ph.groups {
			for _, i := range g {
				group[i] = gi
			}
		}
		mu.Unlock()
		time.Sleep(ph.d)
	}
	mu.Lock()
	group = []int{0, 0, 0, 0}
	mu.Unlock()
	top := uint64(0)
	for i := range c.node {
		top = max(top, c.node[i].chain.finalHeight())
	}
	c.waitFinal(top+2, all(4)...)
	checkSameChain(t, c, top+2, all(4)...)
}

// TestEquivocatingProposer: validator 3 (a quarter of the stake) signs two
// different proposals for one round. The honest three hand the host
// evidence that verifies under its key, and keep deciding.
func TestEquivocatingProposer(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	set, err := NewValidatorSet(c.set)
	if err != nil {
		t.Fatal(err)
	}
	r := uint32(0)
	for set.Proposer(testChain, 1, r) != 3 {
		r++
	}
	byz := c.vals[3]
	c.net.pause() // the honest engines are at height 1 when the proposals arrive
	for i := range 3 {
		c.start(i)
	}
	for _, ts := range []int64{1000, 2000} {
		blk, hash := encodeBlock(&hostv1.Header{ChainId: testChain, Height: 1, ParentHash: genesisHash, TimestampMs: ts, Proposer: byz.addr[:]})
		c.net.publish("byz", TopicProposal, signProposal(byz, 1, r, -1, blk, hash).Encode())
	}
	c.net.resume()
	c.waitFinal(3, 0, 1, 2)
	for i := range 3 {
		deadline := time.Now().Add(30 * time.Second)
		for len(c.node[i].chain.evidenceList()) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("node %d reported no evidence of the double proposal", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		ev, err := vote.DecodeEvidence(c.node[i].chain.evidenceList()[0])
		if err != nil {
			t.Fatal(err)
		}
		if ev.Validator != byz.addr || ev.A.Step != vote.StepProposal {
			t.Fatalf("node %d: evidence against %s at step %v, want %s's proposal", i, ev.Validator, ev.A.Step, byz.addr)
		}
		if err := ev.Verify(testChain, byz.sk.PublicKey()); err != nil {
			t.Fatalf("node %d: evidence does not verify: %v", i, err)
		}
	}
	checkSameChain(t, c, 3, 0, 1, 2)
}
