package trial

import (
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/trellis-chain/trellis/testnet"
)

// Spec is a trial: a matrix of cells, each a testnet of real processes
// under the same load.
type Spec struct {
	Name       string   `hcl:"name,label"`
	Consensus  []string `hcl:"consensus"`
	Validators []int    `hcl:"validators"`
	// Prover names the prover plugin every validator runs; "" for none.
	Prover string `hcl:"prover,optional"`
	// Repeat runs every cell this many times (default 1).
	Repeat int   `hcl:"repeat,optional"`
	Load   *Load `hcl:"load,block"`
	// Scenarios are the fault settings every (consensus, validators) pair
	// runs under; none means one scenario without faults.
	Scenarios []*Scenario `hcl:"scenario,block"`

	maxValidators int
}

// Load is the load every cell runs.
type Load struct {
	Rate     float64 `hcl:"rate"`
	Duration string  `hcl:"duration"`
	Drain    string  `hcl:"drain,optional"`
	// ProvenWait follows final transfers until proven (with a prover).
	ProvenWait string `hcl:"proven_wait,optional"`

	duration, drain, provenWait time.Duration
}

// Scenario is a set of faults applied during the load (times count from
// its start) and the shape of every link.
type Scenario struct {
	Name      string            `hcl:"name,label"`
	Crash     []*NodeFault      `hcl:"crash,block"`
	Pause     []*NodeFault      `hcl:"pause,block"`
	Partition []*PartitionFault `hcl:"partition,block"`
	Link      *Link             `hcl:"link,block"`
	Remain    hcl.Body          `hcl:",remain"`
}

// NodeFault crashes (SIGKILL) or pauses (SIGSTOP) some validators.
type NodeFault struct {
	// Nodes is how many: a count, or "f", the most a third of the
	// (equal) stake allows, ⌊(n−1)/3⌋.
	Nodes string `hcl:"nodes"`
	At    string `hcl:"at,optional"`
	// Duration ends the fault (restart, SIGCONT); a crash without one
	// stays down to the cell's end.
	Duration string   `hcl:"duration,optional"`
	Remain   hcl.Body `hcl:",remain"`

	at, duration time.Duration
}

// PartitionFault splits the network.
type PartitionFault struct {
	// Groups is "half" (⌈n/2⌉ and the rest) or node indexes as
	// "0,1/2,3".
	Groups   string   `hcl:"groups,optional"`
	At       string   `hcl:"at,optional"`
	Duration string   `hcl:"duration"`
	Remain   hcl.Body `hcl:",remain"`

	at, duration time.Duration
}

// Link shapes every link between two nodes: added one-way delay, jitter
// and datagram loss (docs/trials.md says how).
type Link struct {
	Delay  string   `hcl:"delay,optional"`
	Jitter string   `hcl:"jitter,optional"`
	Loss   float64  `hcl:"loss,optional"`
	Remain hcl.Body `hcl:",remain"`

	delay, jitter time.Duration
}

// NoFaults names the scenario of a spec that has none.
const NoFaults = "none"

type file struct {
	Trials []*Spec `hcl:"trial,block"`
}

// Limits of a spec.
const (
	MaxValidators = 64
	// MaxSimValidators is the limit for the simulator (ParseSim).
	MaxSimValidators = 2000
	MaxRepeat        = 20
	MaxCells         = 200
)

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Parse reads a spec file holding exactly one trial block. Every error
// names the file and line.
func Parse(src []byte, filename string) (*Spec, hcl.Diagnostics) {
	return parse(src, filename, MaxValidators)
}

// ParseSim reads a spec for the simulator: validator counts up to
// MaxSimValidators; SimCells says what else it refuses.
func ParseSim(src []byte, filename string) (*Spec, hcl.Diagnostics) {
	return parse(src, filename, MaxSimValidators)
}

func parse(src []byte, filename string, maxValidators int) (*Spec, hcl.Diagnostics) {
	f, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	var fl file
	if diags := gohcl.DecodeBody(f.Body, nil, &fl); diags.HasErrors() {
		return nil, diags
	}
	if len(fl.Trials) != 1 {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "One trial per file",
			Detail: fmt.Sprintf("%s holds %d trial blocks; write one", filename, len(fl.Trials)), Subject: f.Body.MissingItemRange().Ptr()}}
	}
	s := fl.Trials[0]
	s.maxValidators = maxValidators
	content, _ := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "trial", LabelNames: []string{"name"}}}})
	rng := content.Blocks[0].DefRange
	return s, s.check(rng)
}

// Load reads and parses a spec file.
func LoadFile(path string) (*Spec, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the trial spec", Detail: err.Error()}}
	}
	return Parse(src, path)
}

func (s *Spec) check(at hcl.Range) hcl.Diagnostics {
	var d hcl.Diagnostics
	bad := func(summary, format string, args ...any) {
		d = append(d, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: at.Ptr()})
	}
	if !nameRe.MatchString(s.Name) {
		bad("Invalid trial name", "%q: want 1 to 32 of a-z 0-9 _ -, starting with a letter or digit", s.Name)
	}
	if len(s.Consensus) == 0 {
		bad("No consensus", "consensus lists no plugin; name one or more of %q, %q", testnet.ConsensusBFT, testnet.ConsensusLC)
	}
	for _, c := range s.Consensus {
		if c != testnet.ConsensusBFT && c != testnet.ConsensusLC && c != testnet.ConsensusSolo {
			bad("Unknown consensus", "%q: want %q, %q or %q", c, testnet.ConsensusBFT, testnet.ConsensusLC, testnet.ConsensusSolo)
		}
	}
	if len(s.Validators) == 0 {
		bad("No validator count", "validators lists no count")
	}
	for _, n := range s.Validators {
		if n < 1 || n > s.maxValidators {
			bad("Validator count out of range", "%d: want 1 to %d (%d as processes on one machine, %d simulated)", n, s.maxValidators, MaxValidators, MaxSimValidators)
		}
	}
	if s.Repeat == 0 {
		s.Repeat = 1
	}
	if s.Repeat < 1 || s.Repeat > MaxRepeat {
		bad("Repeat out of range", "repeat = %d: want 1 to %d", s.Repeat, MaxRepeat)
	}
	if n := len(s.Consensus) * len(s.Validators) * max(1, len(s.Scenarios)) * s.Repeat; n > MaxCells {
		bad("Too many cells", "%d cells, at most %d", n, MaxCells)
	}
	if s.Prover != "" && s.Prover != "cpu" {
		bad("Unknown prover", "prover = %q: want \"cpu\" or none", s.Prover)
	}
	if s.Load == nil {
		bad("No load", "a trial needs a load block (rate, duration)")
		return d
	}
	l := s.Load
	dur := func(name, v, def string, min time.Duration) time.Duration {
		if v == "" {
			v = def
		}
		x, err := time.ParseDuration(v)
		if err != nil || x < min || x > time.Hour {
			bad("Invalid duration", "load.%s = %q: want a Go duration from %s to 1h", name, v, min)
		}
		return x
	}
	l.duration = dur("duration", l.Duration, "", time.Second)
	l.drain = dur("drain", l.Drain, "60s", 0)
	l.provenWait = dur("proven_wait", l.ProvenWait, "0s", 0)
	if l.Rate <= 0 || l.Rate > 100_000 {
		bad("Invalid rate", "load.rate = %g: want more than 0, at most 100000 transfers/s", l.Rate)
	}
	if l.provenWait > 0 && s.Prover == "" {
		bad("Proofs without a prover", "load.proven_wait needs prover = \"cpu\"")
	}
	return append(d, s.checkScenarios()...)
}

// Cell is one testnet of the matrix.
type Cell struct {
	Consensus  string `json:"consensus"`
	Validators int    `json:"validators"`
	Scenario   string `json:"scenario"`
	Run        int    `json:"run"`
}

// Name names the cell's directory and rows.
func (c Cell) Name() string {
	if c.Scenario == NoFaults {
		return fmt.Sprintf("%s-%d-r%d", c.Consensus, c.Validators, c.Run)
	}
	return fmt.Sprintf("%s-%d-%s-r%d", c.Consensus, c.Validators, c.Scenario, c.Run)
}

// Cells expands the matrix, consensus plugins alternating within each
// validator count, scenario and repetition, so that machine drift hits
// both alike.
func (s *Spec) Cells() []Cell {
	var out []Cell
	scs := []string{NoFaults}
	if len(s.Scenarios) > 0 {
		scs = scs[:0]
		for _, sc := range s.Scenarios {
			scs = append(scs, sc.Name)
		}
	}
	for r := 1; r <= s.Repeat; r++ {
		for _, n := range s.Validators {
			for _, sc := range scs {
				for _, c := range s.Consensus {
					out = append(out, Cell{Consensus: c, Validators: n, Scenario: sc, Run: r})
				}
			}
		}
	}
	return out
}
