package bft

import (
	"testing"
	"time"

	"github.com/trellis-chain/trellis/conformance"
	"github.com/trellis-chain/trellis/internal/testbin"
)

// TestConformance runs the plugin kit against the real binary.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	conformance.Test(t, conformance.Options{Kind: "consensus", Path: testbin.Build(t, "plugins/consensus-bft/cmd/trellis-consensus-bft"), Timeout: time.Minute})
}
