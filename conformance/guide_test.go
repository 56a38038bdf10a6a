package conformance_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/trellis-chain/trellis/internal/testbin"
)

// TestGuideMatchesExample keeps the guide's listing and the tested example
// the same code.
func TestGuideMatchesExample(t *testing.T) {
	root := testbin.Root(t)
	src, err := os.ReadFile(filepath.Join(root, "conformance/testdata/flatfee/main.go"))
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs/plugin-authors.md"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- example: conformance/testdata/flatfee/main.go -->\n```go\n"
	_, rest, ok := bytes.Cut(guide, []byte(marker))
	if !ok {
		t.Fatalf("docs/plugin-authors.md lacks %q", marker)
	}
	listing, _, ok := bytes.Cut(rest, []byte("```\n"))
	if !ok || !bytes.Equal(listing, src) {
		t.Fatal("the listing in docs/plugin-authors.md differs from conformance/testdata/flatfee/main.go: copy the file into the guide")
	}
}
