package robustness

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/testnet"
)

// finalBlock is what the checker keeps of a final block.
type finalBlock struct {
	hash, stateRoot string
	txs             map[string]bool
	from            string // the node it was first read from
}

// checker polls every node's final blocks and memory. It holds the first
// final block seen at each height and flags any node that reports another.
type checker struct {
	net      *testnet.Net
	interval time.Duration

	mu         sync.Mutex
	blocks     map[uint64]*finalBlock
	checked    []uint64 // per node: highest height compared
	violations []string
	rss        [][]rssSample // per node
	top        uint64        // highest final height any node reported
	topAt      time.Time
}

// rssSample is a node's resident memory (node and plugin processes) at a
// time since the start.
type rssSample struct {
	At  time.Duration
	RSS uint64 // bytes
}

func newChecker(net *testnet.Net, interval time.Duration) *checker {
	n := len(net.State.Nodes)
	return &checker{net: net, interval: interval, blocks: map[uint64]*finalBlock{},
		checked: make([]uint64, n), rss: make([][]rssSample, n)}
}

// run polls until ctx ends.
func (c *checker) run(ctx context.Context, start time.Time) {
	clients := make([]*rpc.Client, len(c.net.State.Nodes))
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	rssTick := time.NewTicker(5 * time.Second)
	defer rssTick.Stop()
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-rssTick.C:
			c.sampleRSS(time.Since(start))
		case <-t.C:
			for i := range clients {
				c.poll(ctx, clients, i)
			}
		}
	}
}

// poll reads node i's new final blocks. A node that does not answer is
// skipped: it is down or paused, which the schedule did on purpose.
func (c *checker) poll(ctx context.Context, clients []*rpc.Client, i int) {
	n := c.net.State.Nodes[i]
	if clients[i] == nil {
		cl, err := rpc.Dial(n.RPC)
		if err != nil {
			return
		}
		clients[i] = cl
	}
	cl := clients[i]
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	fb, err := cl.BlockByTag(cctx, rpc.TagFinalized, false)
	if err != nil {
		return
	}
	c.mu.Lock()
	if fb.Height > c.top {
		c.top, c.topAt = fb.Height, time.Now()
	}
	from := c.checked[i] + 1
	c.mu.Unlock()
	for h := from; h <= fb.Height && ctx.Err() == nil; h++ {
		b, err := cl.BlockByNumber(cctx, h, false)
		if err != nil {
			return
		}
		c.record(i, n.Name, b)
	}
}

func (c *checker) record(i int, name string, b *rpc.Block) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked[i] = max(c.checked[i], b.Height)
	got := &finalBlock{hash: b.Hash.String(), stateRoot: fmt.Sprint(b.StateRoot), from: name}
	have := c.blocks[b.Height]
	if have == nil {
		got.txs = make(map[string]bool, len(b.TxHashes))
		for _, h := range b.TxHashes {
			got.txs[h.String()] = true
		}
		c.blocks[b.Height] = got
		return
	}
	if have.hash != got.hash && len(c.violations) < 100 {
		c.violations = append(c.violations, fmt.Sprintf("two final blocks at height %d: %s on %s, %s on %s", b.Height, have.hash, have.from, got.hash, name))
	}
	if have.stateRoot != got.stateRoot && len(c.violations) < 100 {
		c.violations = append(c.violations, fmt.Sprintf("state roots differ at height %d: %s on %s, %s on %s", b.Height, have.stateRoot, have.from, got.stateRoot, name))
	}
}

// highest is the highest final height any node reported.
func (c *checker) highest() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.top
}

// lowestChecked is the lowest height every node has been compared to.
func (c *checker) lowestChecked(nodes []int) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	low := ^uint64(0)
	for _, i := range nodes {
		low = min(low, c.checked[i])
	}
	return low
}

func (c *checker) sampleRSS(at time.Duration) {
	for i, n := range c.net.State.Nodes {
		var sum uint64
		for _, p := range testnet.NodeGroup(n) {
			sum += procRSS(p.PID)
		}
		if sum == 0 {
			continue // down
		}
		c.mu.Lock()
		c.rss[i] = append(c.rss[i], rssSample{At: at, RSS: sum})
		c.mu.Unlock()
	}
}

// procRSS reads VmRSS of pid in bytes; 0 if it is gone.
func procRSS(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// memoryGrowth flags a node whose memory at the end is more than
// growthFactor times, and growthSlack bytes above, what it held after the
// warm-up (the first fifth of the run): a leak, not a working set.
const (
	growthFactor = 3
	growthSlack  = 256 << 20
)

func (c *checker) memoryViolations(names []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for i, s := range c.rss {
		if len(s) < 5 {
			continue
		}
		warm := s[len(s)/5].RSS
		last := s[len(s)-1].RSS
		if last > growthFactor*warm && last > warm+growthSlack {
			out = append(out, fmt.Sprintf("%s grew from %d MB after warm-up to %d MB at the end", names[i], warm>>20, last>>20))
		}
	}
	return out
}
