// Command splitbrain is a test-only consensus plugin that breaks safety on
// purpose: it is the solo plugin, reporting itself as "solo", except that
// a follower ignores `follow` and produces and finalizes its own blocks.
// Built as trellis-consensus-solo into a test's plugin directory, it lets
// the trials test check that two final blocks at one height fail a trial
// loudly.
package main

import (
	"context"
	"encoding/json"

	"github.com/trellis-chain/trellis/plugins/consensus-solo"
	"github.com/trellis-chain/trellis/sdk"
)

// splitbrain is solo with follow forced off.
type splitbrain struct{ *solo.Plugin }

func (p splitbrain) Configure(ctx context.Context, req sdk.ConfigureRequest) error {
	var c map[string]any
	if err := json.Unmarshal(req.Config, &c); err == nil {
		c["follow"] = false
		if b, err := json.Marshal(c); err == nil {
			req.Config = b
		}
	}
	return p.Plugin.Configure(ctx, req)
}

func main() {
	sdk.Serve(splitbrain{solo.New(sdk.Logger())})
}
