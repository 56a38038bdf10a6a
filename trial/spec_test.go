package trial

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const good = `
trial "headline" {
  consensus  = ["bft", "lc"]
  validators = [4, 16]
  repeat     = 2
  load {
    rate     = 200
    duration = "30s"
  }
}
`

const faults = `
trial "faults" {
  consensus  = ["bft", "lc"]
  validators = [4, 7]
  load {
    rate     = 100
    duration = "30s"
  }
  scenario "f-crashed" {
    crash {
      nodes = "f"
    }
  }
  scenario "restart" {
    crash {
      nodes    = 1
      at       = "5s"
      duration = "10s"
    }
    pause {
      nodes    = 1
      at       = "20s"
      duration = "5s"
    }
  }
  scenario "split" {
    partition {
      at       = "5s"
      duration = "10s"
    }
  }
  scenario "wan" {
    link {
      delay  = "100ms"
      jitter = "10ms"
      loss   = 0.01
    }
  }
}
`

// TestScenarios: scenarios multiply the matrix, and each resolves per
// validator count, never taking down node 0.
func TestScenarios(t *testing.T) {
	s, diags := Parse([]byte(faults), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cells := s.Cells()
	if len(cells) != 16 || cells[0].Name() != "bft-4-f-crashed-r1" || cells[15].Name() != "lc-7-wan-r1" {
		t.Fatalf("%d cells, first %s, last %s", len(cells), cells[0].Name(), cells[15].Name())
	}
	acts, down := s.scenario("f-crashed").plan(7)
	if len(acts) != 1 || !acts[0].stayDown || len(down) != 2 || down[0] != 6 || down[1] != 5 {
		t.Fatalf("f-crashed at 7: %+v, down %v", acts, down)
	}
	acts, down = s.scenario("restart").plan(4)
	if len(acts) != 2 || acts[0].kind != "crash" || acts[0].stayDown || acts[0].dur != 10*time.Second ||
		acts[1].kind != "pause" || acts[1].nodes[0] != 2 || len(down) != 2 {
		t.Fatalf("restart at 4: %+v, down %v", acts, down)
	}
	acts, down = s.scenario("split").plan(4)
	if len(acts) != 1 || len(acts[0].groups) != 2 || acts[0].groups[0][0] != 0 || len(down) != 0 {
		t.Fatalf("split at 4: %+v", acts)
	}
	if l := s.scenario("wan").Link; l.delay != 100*time.Millisecond || l.jitter != 10*time.Millisecond || l.Loss != 0.01 {
		t.Fatalf("wan link %+v", l)
	}
}

func TestParseAndCells(t *testing.T) {
	s, diags := Parse([]byte(good), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cells := s.Cells()
	if len(cells) != 8 || cells[0] != (Cell{"bft", 4, NoFaults, 1}) || cells[1] != (Cell{"lc", 4, NoFaults, 1}) || cells[7] != (Cell{"lc", 16, NoFaults, 2}) {
		t.Fatalf("cells %v: want bft and lc alternating per count and run", cells)
	}
	if s.Load.drain.Seconds() != 60 || cells[3].Name() != "lc-16-r1" {
		t.Fatalf("drain %s, name %s", s.Load.drain, cells[3].Name())
	}
}

// TestParseRejects: every bad spec is refused before anything starts,
// naming the file and line.
func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown key", `repeat     = 2`, `repeats = 2`, "Unsupported argument"},
		{"unknown consensus", `"lc"]`, `"pow"]`, "Unknown consensus"},
		{"too many validators", `[4, 16]`, `[4, 65]`, "Validator count out of range"},
		{"bad duration", `"30s"`, `"soon"`, "Invalid duration"},
		{"no rate", `rate     = 200`, `rate     = 0`, "Invalid rate"},
		{"proofs without prover", `duration = "30s"`, `duration = "30s"
    proven_wait = "60s"`, "Proofs without a prover"},
		{"two trials", `"30s"
  }
}
`, `"30s"
  }
}
trial "b" {
  consensus = ["bft"]
  validators = [1]
  load {
    rate = 1
    duration = "1s"
  }
}
`, "One trial per file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(good, tc.from, tc.to, 1)
			if src == good {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, diags := Parse([]byte(src), "spec.hcl")
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) || !strings.Contains(diags.Error(), "spec.hcl:") {
				t.Fatalf("diagnostics %v, want %q with the file and line", diags, tc.want)
			}
		})
	}
}

// TestScenarioRejects: impossible faults are refused with the file and
// line.
func TestScenarioRejects(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"more than f", `nodes = "f"`, `nodes = 2`, "Impossible fault"},
		{"f at 1 validator", `[4, 7]`, `[1, 4]`, "Impossible fault"},
		{"unknown fault key", `nodes = "f"`, `nodes = "f"
      when = "now"`, "Unsupported argument"},
		{"unknown fault kind", `scenario "split" {`, `scenario "split" {
    flood {
    }`, "Unsupported block type"},
		{"pause without end", `duration = "5s"`, ``, "Fault without an end"},
		{"fault after the load", `at       = "20s"`, `at       = "28s"`, "Fault outside the load"},
		{"partition out of range", `at       = "5s"
      duration = "10s"
    }
  }
  scenario "split"`, `at       = "5s"
      duration = "10s"
    }
  }
  scenario "split"`, ""},
		{"partition index", `partition {`, `partition {
      groups = "0,1/2,5"`, "Invalid partition"},
		{"loss", `loss   = 0.01`, `loss   = 0.9`, "Invalid link loss"},
		{"jitter over delay", `jitter = "10ms"`, `jitter = "1s"`, "Invalid link jitter"},
		{"duplicate", `scenario "wan"`, `scenario "split"`, "Duplicate scenario"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				return
			}
			src := strings.Replace(faults, tc.from, tc.to, 1)
			if src == faults {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, diags := Parse([]byte(src), "spec.hcl")
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) || !strings.Contains(diags.Error(), "spec.hcl:") {
				t.Fatalf("diagnostics %v, want %q with the file and line", diags, tc.want)
			}
		})
	}
}

// TestExampleSpecsParse: every spec in examples/trials is valid as it is;
// those named sim-*.hcl for the simulator.
func TestExampleSpecsParse(t *testing.T) {
	files, err := filepath.Glob("../examples/trials/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example specs: %v", err)
	}
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), "sim-") {
			if _, diags := LoadFile(f); diags.HasErrors() {
				t.Errorf("%s: %v", f, diags)
			}
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, diags := ParseSim(src, f)
		if diags.HasErrors() {
			t.Errorf("%s: %v", f, diags)
			continue
		}
		if _, err := s.SimCells(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestSimCellsPauses: the simulator takes pause faults (validators from the
// highest index, with their times), BFT partitions and BFT crashes that
// end, and refuses those two in longest-chain cells.
func TestSimCellsPauses(t *testing.T) {
	src := `trial "p" {
  consensus  = ["bft"]
  validators = [4]
  load {
    rate     = 10
    duration = "10s"
  }
  scenario "pause-f" {
    pause {
      nodes    = "f"
      at       = "2s"
      duration = "3s"
    }
  }
}`
	s, diags := ParseSim([]byte(src), "p.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cells, err := s.SimCells()
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 1 || cells[0].Crashed != 0 || len(cells[0].Pauses) != 1 {
		t.Fatalf("cells %+v", cells)
	}
	if p := cells[0].Pauses[0]; len(p.Nodes) != 1 || p.Nodes[0] != 3 || p.At != 2*time.Second || p.Duration != 3*time.Second {
		t.Fatalf("pause %+v", p)
	}
	part := strings.Replace(src, `pause {
      nodes    = "f"
      at       = "2s"
      duration = "3s"
    }`, `partition {
      groups   = "0,1/2,3"
      at       = "2s"
      duration = "3s"
    }`, 1)
	ps, diags := ParseSim([]byte(part), "p.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pc, err := ps.SimCells()
	if err != nil || len(pc) != 1 || len(pc[0].Partitions) != 1 {
		t.Fatalf("partition: %+v, %v", pc, err)
	}
	if p := pc[0].Partitions[0]; len(p.Groups) != 2 || !slices.Equal(p.Groups[1], []int{2, 3}) || p.At != 2*time.Second || p.Duration != 3*time.Second {
		t.Fatalf("partition %+v", p)
	}
	crash := strings.Replace(src, `pause {`, `crash {`, 1)
	cs, diags := ParseSim([]byte(crash), "p.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cc, err := cs.SimCells()
	if err != nil || len(cc) != 1 || cc[0].Crashed != 0 || len(cc[0].Crashes) != 1 {
		t.Fatalf("crash and restart: %+v, %v", cc, err)
	}
	if c := cc[0].Crashes[0]; len(c.Nodes) != 1 || c.Nodes[0] != 3 || c.At != 2*time.Second || c.Duration != 3*time.Second {
		t.Fatalf("crash %+v", c)
	}
	lcCrash := strings.Replace(crash, `consensus  = ["bft"]`, `consensus  = ["lc"]`, 1)
	if ls, diags := ParseSim([]byte(lcCrash), "p.hcl"); diags.HasErrors() {
		t.Fatal(diags)
	} else if _, err := ls.SimCells(); err == nil || !strings.Contains(err.Error(), "crashes") {
		t.Fatalf("longest-chain crash and restart: %v", err)
	}
	lc := strings.Replace(part, `consensus  = ["bft"]`, `consensus  = ["bft", "lc"]`, 1)
	ls, diags := ParseSim([]byte(lc), "p.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, err := ls.SimCells(); err == nil || !strings.Contains(err.Error(), "partitions") {
		t.Fatalf("longest-chain partition: %v", err)
	}
}
