package trial

import (
	"strings"
	"testing"
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

func TestParseAndCells(t *testing.T) {
	s, diags := Parse([]byte(good), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cells := s.Cells()
	if len(cells) != 8 || cells[0] != (Cell{"bft", 4, 1}) || cells[1] != (Cell{"lc", 4, 1}) || cells[7] != (Cell{"lc", 16, 2}) {
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
