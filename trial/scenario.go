package trial

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/trellis-chain/trellis/testnet"
)

// Limits of a scenario.
const (
	MaxLinkDelay = 2 * time.Second
	MaxLoss      = 0.5
)

// leftover refuses what a block's remain body still holds (unknown keys
// and blocks) and returns the block's range for later errors.
func leftover(b hcl.Body) (hcl.Range, hcl.Diagnostics) {
	_, diags := b.Content(&hcl.BodySchema{})
	return b.MissingItemRange(), diags
}

// tolerated is f, the most validators a third of equal stake allows down.
func tolerated(n int) int { return (n - 1) / 3 }

// count resolves a fault's nodes at n validators.
func (f *NodeFault) count(n int) int {
	if f.Nodes == "f" {
		return tolerated(n)
	}
	c, _ := strconv.Atoi(f.Nodes)
	return c
}

// checkScenarios validates every scenario against the whole matrix.
func (s *Spec) checkScenarios() hcl.Diagnostics {
	var d hcl.Diagnostics
	names := map[string]bool{}
	for _, sc := range s.Scenarios {
		rng, ld := leftover(sc.Remain)
		d = append(d, ld...)
		bad := func(at hcl.Range, summary, format string, args ...any) {
			d = append(d, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
				Detail: fmt.Sprintf("scenario %q: ", sc.Name) + fmt.Sprintf(format, args...), Subject: at.Ptr()})
		}
		if !nameRe.MatchString(sc.Name) || sc.Name == NoFaults {
			bad(rng, "Invalid scenario name", "want 1 to 32 of a-z 0-9 _ -, and not %q", NoFaults)
		}
		if names[sc.Name] {
			bad(rng, "Duplicate scenario", "named twice")
		}
		names[sc.Name] = true
		window := s.Load.duration
		times := func(at hcl.Range, what, atS, durS string, needEnd bool) (time.Duration, time.Duration) {
			start, dur := time.Duration(0), time.Duration(0)
			var err error
			if atS != "" {
				if start, err = time.ParseDuration(atS); err != nil || start < 0 {
					bad(at, "Invalid fault time", "%s at = %q: want a Go duration ≥ 0", what, atS)
				}
			}
			if durS != "" {
				if dur, err = time.ParseDuration(durS); err != nil || dur <= 0 {
					bad(at, "Invalid fault duration", "%s duration = %q: want a Go duration > 0", what, durS)
				}
			} else if needEnd {
				bad(at, "Fault without an end", "%s needs a duration", what)
			}
			if start+dur > window {
				bad(at, "Fault outside the load", "%s from %s for %s ends after the load's %s", what, start, dur, window)
			}
			return start, dur
		}
		var faulted []*NodeFault
		for _, kl := range []struct {
			kind string
			list []*NodeFault
		}{{"crash", sc.Crash}, {"pause", sc.Pause}} {
			kind := kl.kind
			for _, f := range kl.list {
				at, ld := leftover(f.Remain)
				d = append(d, ld...)
				if c, err := strconv.Atoi(f.Nodes); f.Nodes != "f" && (err != nil || c < 1) {
					bad(at, "Invalid node count", "%s nodes = %q: want a count ≥ 1 or \"f\"", kind, f.Nodes)
					continue
				}
				f.at, f.duration = times(at, kind, f.At, f.Duration, kind == "pause")
				faulted = append(faulted, f)
			}
		}
		for _, n := range s.Validators {
			// the most down at once: at each fault's start, those active
			worst, total := 0, 0
			for _, a := range faulted {
				down := 0
				for _, b := range faulted {
					if b.at <= a.at && (b.duration == 0 || b.at+b.duration > a.at) {
						down += b.count(n)
					}
				}
				worst, total = max(worst, down), total+a.count(n)
			}
			if len(faulted) > 0 && (worst == 0 || worst > tolerated(n)) {
				bad(rng, "Impossible fault", "at %d validators %d are crashed or paused at once, but a third of the stake allows %d (f = ⌊(n−1)/3⌋); a BFT network would halt, which this trial would not measure", n, worst, tolerated(n))
			} else if total >= n {
				bad(rng, "Impossible fault", "at %d validators the faults take %d distinct validators; node 0 must stay up for the load to watch", n, total)
			}
		}
		for _, p := range sc.Partition {
			at, ld := leftover(p.Remain)
			d = append(d, ld...)
			p.at, p.duration = times(at, "partition", p.At, p.Duration, true)
			if p.Groups == "" {
				p.Groups = "half"
			}
			for _, n := range s.Validators {
				if _, err := p.groups(n); err != nil {
					bad(at, "Invalid partition", "at %d validators: %v", n, err)
				}
			}
		}
		if l := sc.Link; l != nil {
			at, ld := leftover(l.Remain)
			d = append(d, ld...)
			dur := func(name, v string) time.Duration {
				if v == "" {
					return 0
				}
				x, err := time.ParseDuration(v)
				if err != nil || x < 0 || x > MaxLinkDelay {
					bad(at, "Invalid link "+name, "link %s = %q: want a Go duration from 0 to %s", name, v, MaxLinkDelay)
				}
				return x
			}
			l.delay, l.jitter = dur("delay", l.Delay), dur("jitter", l.Jitter)
			if l.jitter > l.delay {
				bad(at, "Invalid link jitter", "jitter %s exceeds the delay %s", l.jitter, l.delay)
			}
			if l.Loss < 0 || l.Loss > MaxLoss {
				bad(at, "Invalid link loss", "loss = %g: want a fraction from 0 to %g", l.Loss, MaxLoss)
			}
			if l.delay == 0 && l.Loss == 0 {
				bad(at, "Empty link", "a link block sets delay or loss")
			}
		}
	}
	return d
}

// groups resolves a partition at n validators.
func (p *PartitionFault) groups(n int) ([][]int, error) {
	if p.Groups == "half" {
		if n < 2 {
			return nil, fmt.Errorf("one validator cannot be partitioned")
		}
		return testnet.DefaultGroups(n), nil
	}
	return testnet.ParseGroups(p.Groups, n)
}

// scenario returns the named scenario, nil for NoFaults.
func (s *Spec) scenario(name string) *Scenario {
	for _, sc := range s.Scenarios {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}
