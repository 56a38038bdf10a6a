// Package importrules holds the tree's import boundaries as data, and the
// check that a test runs over `go list` of the whole module: plugins, the
// SDK and the protocol layer never import a host-internal package, and the
// host never imports a plugin. docs/architecture.md explains each rule.
package importrules

import (
	"fmt"
	"slices"
	"strings"
)

// Package is what the check needs of one package: its path relative to
// the module (cmd/trellis, core/chain) and its imports, also relative,
// with imports from outside the module left out.
type Package struct {
	Path        string
	Imports     []string // what the package compiles into
	TestImports []string // what its tests add (_test.go, both packages)
}

// Violation is one import that breaks a rule.
type Violation struct {
	Package, Import, Rule string
	Test                  bool // the import comes from a test file
}

func (v Violation) String() string {
	where := ""
	if v.Test {
		where = " (in a test)"
	}
	return fmt.Sprintf("%s imports %s%s: %s", v.Package, v.Import, where, v.Rule)
}

// under reports whether p is root or a package below it.
func under(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

func anyUnder(p string, roots ...string) bool {
	return slices.ContainsFunc(roots, func(r string) bool { return under(p, r) })
}

// pluginRoot returns plugins/<name> for a package below it.
func pluginRoot(p string) string {
	parts := strings.SplitN(p, "/", 3)
	if len(parts) < 2 {
		return p
	}
	return parts[0] + "/" + parts[1]
}

// Test-only helpers every layer's tests may use.
var testHelpers = []string{"internal/testbin", "internal/testplugins"}

// Check returns every violation in pkgs, in their order. The rules:
//
//   - protocol/ imports only protocol/ (its tests may also use the host's
//     packages as fixtures, such as a real bbolt state);
//   - sdk/ imports only sdk/ and protocol/;
//   - a plugin imports only sdk/, protocol/ and its own folder; its tests
//     may add conformance/ and the test helpers, never the host;
//   - nothing but cmd/ (and the test-only plugin binaries of
//     internal/testplugins, which wrap a plugin to break it on purpose,
//     and sim/, which runs consensus plugins' own engines in one process)
//     imports a plugin or cmd/ (host tests may link a
//     plugin's package as a fixture, such as the fee market as a pricer;
//     the host binary never does);
//   - consensus-critical packages (core/exec, core/chain, core/statedb,
//     protocol/) never import generated protobuf code (sdk/proto/).
func Check(pkgs []Package) []Violation {
	var out []Violation
	add := func(p, imp, rule string, test bool) {
		out = append(out, Violation{Package: p, Import: imp, Rule: rule, Test: test})
	}
	for _, p := range pkgs {
		for _, test := range []bool{false, true} {
			imps := p.Imports
			if test {
				imps = p.TestImports
			}
			for _, imp := range imps {
				switch {
				case under(p.Path, "protocol") && !test && !under(imp, "protocol"):
					add(p.Path, imp, "the protocol layer imports only protocol/", test)
				case under(p.Path, "sdk") && !test && !anyUnder(imp, "sdk", "protocol"):
					add(p.Path, imp, "the SDK imports only sdk/ and protocol/", test)
				case under(p.Path, "sdk") && test && !anyUnder(imp, append([]string{"sdk", "protocol", "conformance"}, testHelpers...)...):
					add(p.Path, imp, "SDK tests import only sdk/, protocol/, conformance/ and the test helpers", test)
				case under(p.Path, "plugins") && !test && !anyUnder(imp, "sdk", "protocol", pluginRoot(p.Path)):
					add(p.Path, imp, "a plugin imports only sdk/, protocol/ and its own folder", test)
				case under(p.Path, "plugins") && test && !anyUnder(imp, append([]string{"sdk", "protocol", "conformance", pluginRoot(p.Path)}, testHelpers...)...):
					add(p.Path, imp, "plugin tests import only sdk/, protocol/, conformance/, their plugin and the test helpers", test)
				case !anyUnder(p.Path, "cmd", "plugins", "internal/testplugins", "sim") && (under(imp, "cmd") || !test && under(imp, "plugins")):
					add(p.Path, imp, "only cmd/ imports plugins or commands; the host loads plugins as processes", test)
				}
				if !test && anyUnder(p.Path, "core/exec", "core/chain", "core/statedb", "protocol") && under(imp, "sdk/proto") {
					add(p.Path, imp, "consensus-critical code takes its own types, not generated protobuf", test)
				}
			}
		}
	}
	return out
}
