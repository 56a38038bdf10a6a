package bft

import (
	"context"
	"testing"
	"time"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// TestEmptyMempoolWaits: with empty_block_interval set and the host
// reporting an empty mempool, a height does not start; a transaction at
// one node starts it everywhere (the others join on its messages).
func TestEmptyMempoolWaits(t *testing.T) {
	cfg := testConfig()
	cfg.EmptyBlockInterval = time.Hour
	c := newCluster(t, 4, cfg)
	for _, nd := range c.node {
		nd.chain.setPool(0)
	}
	c.startAll(all(4)...)
	// Height 1's parent is genesis, an hour old: it starts at once.
	c.waitFinal(1, all(4)...)
	waitStatus(t, c, func(s snapshot) bool { return s.height == 2 && s.waiting })
	time.Sleep(100 * time.Millisecond) // a node that did not wait would decide many heights here
	for i, nd := range c.node {
		if h := nd.chain.finalHeight(); h != 1 {
			t.Fatalf("node %d finalized height %d with nothing to include", i, h)
		}
		if got := nd.eng.status().stepName(); got != stepWaiting {
			t.Fatalf("node %d status step %q, want %q", i, got, stepWaiting)
		}
	}
	c.node[3].chain.setPool(1)
	c.waitFinal(3, all(4)...)
	c.node[3].chain.setPool(0)
	// At most one more height runs before the empty pool is seen.
	waitStatus(t, c, func(s snapshot) bool { return s.waiting })
	h := c.node[0].chain.finalHeight()
	time.Sleep(100 * time.Millisecond)
	for i, nd := range c.node {
		if got := nd.chain.finalHeight(); got > h+1 {
			t.Fatalf("node %d went on to height %d after the pool emptied at %d", i, got, h)
		}
	}
	checkSameChain(t, c, 3, all(4)...)
}

// TestEmptyBlockInterval: with nothing to include, blocks still come, no
// closer together than the interval (block timestamps), so liveness stays
// visible.
func TestEmptyBlockInterval(t *testing.T) {
	cfg := testConfig()
	cfg.EmptyBlockInterval = 150 * time.Millisecond
	c := newCluster(t, 4, cfg)
	for _, nd := range c.node {
		nd.chain.setPool(0)
	}
	c.startAll(all(4)...)
	c.waitFinal(4, all(4)...)
	checkSameChain(t, c, 4, all(4)...)
	prev := int64(0)
	for h := uint64(1); h <= 4; h++ {
		r, err := c.node[0].chain.GetBlock(context.Background(), &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: h}}})
		if err != nil {
			t.Fatal(err)
		}
		ts := r.GetBlock().GetHeader().GetTimestampMs()
		if h >= 2 && ts-prev < cfg.EmptyBlockInterval.Milliseconds() {
			t.Fatalf("height %d at %d ms, %d ms after its parent: closer than empty_block_interval %v", h, ts, ts-prev, cfg.EmptyBlockInterval)
		}
		prev = ts
	}
}

// waitStatus waits until every node's status satisfies ok; the deadline
// only stops a hung test.
func waitStatus(t *testing.T, c *cluster, ok func(snapshot) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, nd := range c.node {
		for !ok(nd.eng.status()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %+v; %s", nd.name, nd.eng.status(), c.describe())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
