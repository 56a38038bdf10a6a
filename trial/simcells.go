package trial

import (
	"fmt"
	"slices"
	"time"
)

// SimCell is one cell as the simulator takes it.
type SimCell struct {
	Cell
	Rate            float64
	Duration, Drain time.Duration
	Crashed         int
	Pauses          []SimPause
	Crashes         []SimCrash
	Partitions      []SimPartition
	Delay, Jitter   time.Duration
	Loss            float64
}

// SimPause is a pause fault as the simulator takes it: these validators
// stop at At after the load begins, for Duration.
type SimPause struct {
	Nodes        []int
	At, Duration time.Duration
}

// SimCrash is a crash that starts late or ends, as the simulator takes
// it: these validators stop at At; with Duration above zero they restart
// after it.
type SimCrash struct {
	Nodes        []int
	At, Duration time.Duration
}

// SimPartition is a partition as the simulator takes it: these groups
// cannot reach each other from At after the load begins, for Duration.
type SimPartition struct {
	Groups       [][]int
	At, Duration time.Duration
}

// SimCells expands the matrix for the simulator, refusing what it does
// not model yet: solo, a prover, and partitions or crashes that start late
// or end in longest-chain cells.
func (s *Spec) SimCells() ([]SimCell, error) {
	for _, c := range s.Consensus {
		if c != "bft" && c != "lc" {
			return nil, fmt.Errorf("trial %s: the simulator runs consensus \"bft\" and \"lc\", not %q", s.Name, c)
		}
	}
	if s.Prover != "" {
		return nil, fmt.Errorf("trial %s: the simulator does not model provers", s.Name)
	}
	for _, sc := range s.Scenarios {
		if len(sc.Partition) > 0 && slices.Contains(s.Consensus, "lc") {
			return nil, fmt.Errorf("trial %s, scenario %s: the simulator models partitions for \"bft\" only, not \"lc\" yet", s.Name, sc.Name)
		}
		for _, f := range sc.Crash {
			if (f.at != 0 || f.duration != 0) && slices.Contains(s.Consensus, "lc") {
				return nil, fmt.Errorf("trial %s, scenario %s: the simulator models crashes that start late or end for \"bft\" only, not \"lc\" yet", s.Name, sc.Name)
			}
		}
	}
	var out []SimCell
	for _, c := range s.Cells() {
		x := SimCell{Cell: c, Rate: s.Load.Rate, Duration: s.Load.duration, Drain: s.Load.drain}
		if sc := s.scenario(c.Scenario); sc != nil {
			acts, _ := sc.plan(c.Validators)
			for _, a := range acts {
				switch a.kind {
				case "crash":
					if a.at == 0 && a.stayDown {
						x.Crashed += len(a.nodes)
					} else {
						x.Crashes = append(x.Crashes, SimCrash{Nodes: a.nodes, At: a.at, Duration: a.dur})
					}
				case "pause":
					x.Pauses = append(x.Pauses, SimPause{Nodes: a.nodes, At: a.at, Duration: a.dur})
				case "partition":
					x.Partitions = append(x.Partitions, SimPartition{Groups: a.groups, At: a.at, Duration: a.dur})
				}
			}
			if l := sc.Link; l != nil {
				x.Delay, x.Jitter, x.Loss = l.delay, l.jitter, l.Loss
			}
		}
		out = append(out, x)
	}
	return out, nil
}
