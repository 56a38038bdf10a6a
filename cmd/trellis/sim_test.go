package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimCommandIsDeterministic: `trellis sim` on a small spec writes its
// report, and twice with one seed gives the same trace; the simulator
// refuses what it does not model with a clear error.
func TestSimCommandIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "s.hcl")
	if err := os.WriteFile(spec, []byte(`
trial "s" {
  consensus  = ["bft", "lc"]
  validators = [4, 7]
  load {
    rate     = 50
    duration = "3s"
    drain    = "20s"
  }
  scenario "crash" {
    crash {
      nodes = "f"
    }
  }
  scenario "wan" {
    link {
      delay = "40ms"
      jitter = "5ms"
      loss  = 0.02
    }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	traces := func(out string) []string {
		var stdout, stderr bytes.Buffer
		if code := cmdSim([]string{"-spec", spec, "-out", out, "-seed", "3"}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
		}
		var res struct {
			Results []struct {
				Result struct {
					TraceHash string
					Final     uint64
				} `json:"result"`
			} `json:"results"`
		}
		raw, err := os.ReadFile(filepath.Join(out, "results.json"))
		if err != nil || json.Unmarshal(raw, &res) != nil || len(res.Results) != 8 {
			t.Fatalf("results.json: %v %s", err, raw)
		}
		var hs []string
		for _, r := range res.Results {
			if r.Result.Final == 0 || r.Result.TraceHash == "" {
				t.Fatalf("a cell finalized nothing: %s", raw)
			}
			hs = append(hs, r.Result.TraceHash)
		}
		md, _ := os.ReadFile(filepath.Join(out, "report.md"))
		if !strings.Contains(string(md), "modelled") || !strings.Contains(string(md), "| bft-7-wan-r1 |") {
			t.Fatalf("report.md:\n%s", md)
		}
		page, _ := os.ReadFile(filepath.Join(out, "report.html"))
		for _, id := range []string{"plot-finality", "plot-overhead", "plot-participation", "plot-throughput"} {
			if !strings.Contains(string(page), `<figure id="`+id+`"><svg`) {
				t.Fatalf("report.html lacks the %s plot", id)
			}
		}
		return hs
	}
	a, b := traces(filepath.Join(dir, "a")), traces(filepath.Join(dir, "b"))
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("traces differ:\n%v\n%v", a, b)
	}
	if err := os.WriteFile(spec, []byte(`
trial "s" {
  consensus  = ["solo"]
  validators = [4]
  load {
    rate     = 50
    duration = "3s"
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := cmdSim([]string{"-spec", spec, "-out", filepath.Join(dir, "c")}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), `not "solo"`) {
		t.Fatalf("lc: exit %d, %s", code, stderr.String())
	}
}

// TestSimCalibratesAgainstATrial: with -real, the report puts every cell
// that has a real twin beside it.
func TestSimCalibratesAgainstATrial(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "s.hcl")
	if err := os.WriteFile(spec, []byte(`
trial "s" {
  consensus  = ["bft"]
  validators = [4]
  load {
    rate     = 50
    duration = "2s"
  }
  scenario "crash" {
    crash {
      nodes = 1
    }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "results.json")
	if err := os.WriteFile(real, []byte(`{"trial":"s","results":[{"cell":{"consensus":"bft","validators":4,"scenario":"crash","run":1},
"report":{"accepted":10,"finalized":10,"latency":{"p50_ns":500000000},"nodes":[{"node":"node0","blocks":5,
"consensus_msgs_per_block":2.5,"consensus_bytes_per_block":1000,"consensus_recv_msgs_per_block":2.5,"consensus_recv_bytes_per_block":1000,"cpu_s_per_block":0.1}]}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if code := cmdSim([]string{"-spec", spec, "-out", out, "-real", real}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !strings.Contains(string(md), "## Calibration against real trials") || !strings.Contains(string(md), "| bft-4-crash-r1 | 2.50 / ") ||
		!strings.Contains(string(md), " | 2 / ") || !strings.Contains(string(md), "| 0.50 s / ") {
		t.Fatalf("report.md:\n%s", md)
	}
	page, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if !strings.Contains(string(page), "<h2>Calibration against real trials</h2>") || !strings.Contains(string(page), "<td>bft-4-crash-r1</td><td>2.50 / ") {
		t.Fatalf("report.html has no calibration table:\n%s", page)
	}
	if code := cmdSim([]string{"-spec", spec, "-out", out, "-real", filepath.Join(dir, "none.json")}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "none.json") {
		t.Fatalf("a missing -real file: exit %d, %s", code, stderr.String())
	}
}
