package importrules

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/trellis-chain/trellis"

// listModule runs `go list` over the whole module and returns its packages
// with module-relative paths.
func listModule(t *testing.T) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	rel := func(in []string) []string {
		var r []string
		for _, p := range in {
			if p == module || strings.HasPrefix(p, module+"/") {
				r = append(r, strings.TrimPrefix(strings.TrimPrefix(p, module), "/"))
			}
		}
		return r
	}
	var pkgs []Package
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		self := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		tests := slices.DeleteFunc(rel(append(p.TestImports, p.XTestImports...)), func(s string) bool { return s == self })
		pkgs = append(pkgs, Package{Path: self, Imports: rel(p.Imports), TestImports: tests})
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; the check would prove nothing", len(pkgs))
	}
	return pkgs
}

// TestTreeKeepsItsBoundaries is the build's guard: it fails on any import
// that crosses a boundary, naming the package, the import and the rule.
func TestTreeKeepsItsBoundaries(t *testing.T) {
	for _, v := range Check(listModule(t)) {
		t.Error(v)
	}
}

// TestPlantedViolations: each rule fires on an import planted against it,
// and the allowed imports beside them pass.
func TestPlantedViolations(t *testing.T) {
	pkgs := []Package{
		{Path: "plugins/consensus-lc", Imports: []string{"core/chain", "sdk", "protocol/vote", "plugins/consensus-lc/internal/x"},
			TestImports: []string{"core/plugin", "conformance", "internal/testbin"}},
		{Path: "plugins/prover-gpu/cmd/trellis-prover-gpu", Imports: []string{"plugins/prover-gpu", "plugins/prover-cpu"}},
		{Path: "sdk/prover", Imports: []string{"protocol/stark", "core/store"}},
		{Path: "protocol/batch", Imports: []string{"protocol/state", "internal/securefile", "sdk/proto/trellis/prover/v1"},
			TestImports: []string{"core/statedb"}},
		{Path: "core/node", Imports: []string{"core/chain", "plugins/consensus-solo"}},
		{Path: "core/exec", Imports: []string{"sdk/proto/trellis/fee/v1"}},
		{Path: "core/statedb", Imports: []string{"sdk/proto/trellis/fee/v1"}, TestImports: []string{"plugins/fee-eip1559", "cmd/trellis"}},
		{Path: "cmd/trellis", Imports: []string{"core/node", "plugins/fee-eip1559"}},
	}
	var got []string
	for _, v := range Check(pkgs) {
		got = append(got, v.Package+" -> "+v.Import)
	}
	want := []string{
		"plugins/consensus-lc -> core/chain",
		"plugins/consensus-lc -> core/plugin",
		"plugins/prover-gpu/cmd/trellis-prover-gpu -> plugins/prover-cpu",
		"sdk/prover -> core/store",
		"protocol/batch -> internal/securefile",
		"protocol/batch -> sdk/proto/trellis/prover/v1",
		"protocol/batch -> sdk/proto/trellis/prover/v1",
		"core/node -> plugins/consensus-solo",
		"core/exec -> sdk/proto/trellis/fee/v1",
		"core/statedb -> sdk/proto/trellis/fee/v1",
		"core/statedb -> cmd/trellis",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
