package importrules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsensusPluginsUseTheirClock: no consensus plugin reads the wall
// clock or starts its own timers outside its tests.
func TestConsensusPluginsUseTheirClock(t *testing.T) {
	roots, err := filepath.Glob("../../plugins/consensus-*")
	if err != nil || len(roots) == 0 {
		t.Fatalf("no consensus plugins: %v", err)
	}
	var files []string
	for _, r := range roots {
		err := filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := CheckClock(f, src)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("%s: use the engine's sdk.Clock", b)
		}
	}
}

// TestCheckClockFindsCalls: the check sees calls under a renamed import
// and ignores durations and other packages.
func TestCheckClockFindsCalls(t *testing.T) {
	src := `package x
import t "time"
func f() { _ = t.Now(); <-t.After(t.Second); var d t.Duration; _ = d; g.Now() }`
	bad, err := CheckClock("x.go", []byte(src))
	if err != nil || len(bad) != 2 || !strings.Contains(bad[0], "x.go:3:") || !strings.Contains(bad[1], "time.After") {
		t.Fatalf("%v %v", bad, err)
	}
}
