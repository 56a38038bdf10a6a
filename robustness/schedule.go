package robustness

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind is a kind of fault.
type Kind string

// The faults a schedule draws from. Link delay and loss would need
// netem (root); they are left out rather than faked.
const (
	KillNode    Kind = "kill-node"    // SIGKILL the node process, restart it after the hold
	KillPlugin  Kind = "kill-plugin"  // SIGKILL the node's consensus plugin; the host restarts it
	Pause       Kind = "pause"        // SIGSTOP the node and its plugins, SIGCONT after the hold
	Restart     Kind = "restart"      // graceful stop and start
	Partition   Kind = "partition"    // split the validators into groups, heal after the hold
	IsolateOne  Kind = "isolate"      // cut one node off from every other
	RestartSkew Kind = "restart-skew" // restart with the host clock skewed, then restart without
)

// Kinds lists every fault kind in a fixed order (the schedule draws by
// index, so the order is part of the seed's meaning).
var Kinds = []Kind{KillNode, KillPlugin, Pause, Restart, Partition, IsolateOne, RestartSkew}

// Fault is one scheduled fault: applied, held, then healed; the next one
// starts only after finality resumed.
type Fault struct {
	Kind   Kind
	Node   int     // the node it hits (KillNode, KillPlugin, Pause, Restart, IsolateOne, RestartSkew)
	Groups [][]int // Partition
	Hold   time.Duration
	Skew   time.Duration // RestartSkew
}

func (f Fault) String() string {
	switch f.Kind {
	case Partition:
		return fmt.Sprintf("%s %s for %s", f.Kind, formatGroups(f.Groups), f.Hold)
	case RestartSkew:
		return fmt.Sprintf("%s node%d by %s for %s", f.Kind, f.Node, f.Skew, f.Hold)
	}
	return fmt.Sprintf("%s node%d for %s", f.Kind, f.Node, f.Hold)
}

func formatGroups(gs [][]int) string {
	var parts []string
	for _, g := range gs {
		var s []string
		for _, i := range g {
			s = append(s, fmt.Sprint(i))
		}
		parts = append(parts, "{"+strings.Join(s, ",")+"}")
	}
	return strings.Join(parts, "/")
}

// MaxSkew bounds the clock skew a schedule injects.
const MaxSkew = 2 * time.Second

// Schedule draws n faults for a testnet of nodes validators from seed.
// Holds are between minHold and maxHold.
func Schedule(seed uint64, nodes, n int, minHold, maxHold time.Duration) []Fault {
	rng := rand.New(rand.NewPCG(seed, seed^0x5deece66d))
	span := int64(maxHold - minHold)
	out := make([]Fault, 0, n)
	for range n {
		f := Fault{Kind: Kinds[rng.IntN(len(Kinds))], Node: rng.IntN(nodes), Hold: minHold}
		if span > 0 {
			f.Hold += time.Duration(rng.Int64N(span))
		}
		switch f.Kind {
		case Partition:
			f.Groups = randomGroups(rng, nodes)
		case RestartSkew:
			f.Skew = time.Duration(rng.Int64N(int64(2*MaxSkew))) - MaxSkew
		}
		out = append(out, f)
	}
	return out
}

// randomGroups splits 0..n-1 into 2 to n non-empty groups.
func randomGroups(rng *rand.Rand, n int) [][]int {
	k := 2 + rng.IntN(n-1)
	perm := rng.Perm(n)
	groups := make([][]int, k)
	for i, p := range perm {
		if i < k {
			groups[i] = append(groups[i], p)
		} else {
			g := rng.IntN(k)
			groups[g] = append(groups[g], p)
		}
	}
	return groups
}
