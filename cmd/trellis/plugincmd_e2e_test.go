package main

import (
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/internal/testbin"
)

// TestE2EPluginSchema: `plugin schema` starts a real plugin binary and
// prints every setting its config block accepts, with type and default.
func TestE2EPluginSchema(t *testing.T) {
	b := buildBinaries(t)
	bft := testbin.Build(t, "plugins/consensus-bft/cmd/trellis-consensus-bft")
	out, errOut, code := trellisCLI(t, b.trellis, b.dir, "plugin", "schema", bft)
	if code != 0 {
		t.Fatalf("plugin schema: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`plugin "consensus" "bft"`, "timeout_propose ", `"1s"`, "timeout_vote_delta", "block_interval"} {
		if !strings.Contains(out, want) {
			t.Errorf("plugin schema output lacks %q:\n%s", want, out)
		}
	}
	if _, errOut, code := trellisCLI(t, b.trellis, b.dir, "plugin", "schema", b.trellis); code == 0 || !strings.Contains(errOut, "-kind and -name") {
		t.Errorf("a binary not named trellis-<kind>-<name>: exit %d, %s", code, errOut)
	}
}
