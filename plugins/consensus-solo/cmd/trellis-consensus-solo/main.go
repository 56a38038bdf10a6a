// Command trellis-consensus-solo is the single-sequencer consensus plugin
// (package solo) for local development networks.
package main

import (
	"github.com/trellis-chain/trellis/plugins/consensus-solo"
	"github.com/trellis-chain/trellis/sdk"
)

func main() {
	sdk.Serve(solo.New(sdk.Logger()))
}
