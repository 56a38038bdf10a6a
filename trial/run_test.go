package trial

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingBinaryRefusedFirst: a trial whose plugin is not built is
// refused before any cell starts, naming the file.
func TestMissingBinaryRefusedFirst(t *testing.T) {
	s, diags := Parse([]byte(good), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	_, err = Run(context.Background(), s, Options{Out: out, Binary: self, PluginDir: dir}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "trellis-fee-eip1559")) || !strings.Contains(err.Error(), "nothing was started") {
		t.Fatalf("err %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(out, "cells")); len(ents) != 0 {
		t.Fatalf("cells started: %v", ents)
	}
}
