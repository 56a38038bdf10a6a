package importrules

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestArchitectureMapIsTrue keeps docs/architecture.md the map of the tree:
// every folder it names in backticks exists, and every package folder of
// the layers it describes is named there.
func TestArchitectureMapIsTrue(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	named := regexp.MustCompile("`((?:cmd|config|core|protocol|sdk|plugins|conformance|testnet|robustness|trial|sim|internal)(?:/[a-z0-9-]+)*)/?`")
	for _, m := range named.FindAllStringSubmatch(text, -1) {
		p := m[1]
		if strings.Contains(p, "<") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			planned := strings.Contains(text, "`"+p+"` |") || strings.Contains(text, "| `"+p+"`")
			if !planned || !isComing(text, p) {
				t.Errorf("docs/architecture.md names %s, which does not exist", p)
			}
		}
	}
	for _, top := range []string{"testnet", "robustness", "trial", "sim"} { // the harness layers
		if _, err := os.Stat(filepath.Join(root, top)); err == nil && !strings.Contains(text, "`"+top+"`") {
			t.Errorf("docs/architecture.md does not name %s", top)
		}
	}
	for _, layer := range []string{"core", "protocol", "plugins", "internal"} {
		ents, err := os.ReadDir(filepath.Join(root, layer))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() && !strings.Contains(text, layer+"/"+e.Name()) {
				t.Errorf("docs/architecture.md does not mention %s/%s", layer, e.Name())
			}
		}
	}
}

// isComing reports whether p appears in the table of kinds still to come.
func isComing(text, p string) bool {
	_, after, ok := strings.Cut(text, "## Where the coming kinds go")
	return ok && strings.Contains(after, "`"+p+"`")
}
