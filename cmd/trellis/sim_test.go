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
