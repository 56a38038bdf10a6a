// Package testbin builds the repo's binaries for tests that need real
// plugin processes. Each binary is built once per test process, into a
// temporary directory, with the go tool the tests run under.
package testbin

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
	dir   string
)

// Build builds package pkg (a path relative to the module root, e.g.
// "plugins/fee-eip1559/cmd/trellis-fee-eip1559") and returns the binary's path,
// named after the last element of pkg unless name is given.
func Build(tb testing.TB, pkg string, name ...string) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "trellis-testbin-")
		if err != nil {
			tb.Fatal(err)
		}
		dir = d
	}
	n := filepath.Base(pkg)
	if len(name) > 0 {
		n = name[0]
	}
	out := filepath.Join(dir, n)
	cmd := exec.Command(goTool(), "build", "-o", out, "./"+strings.TrimPrefix(pkg, "./"))
	cmd.Dir = Root(tb)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// Root returns the module root.
func Root(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("testbin: no caller")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

func goTool() string {
	p := filepath.Join(build.Default.GOROOT, "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}
