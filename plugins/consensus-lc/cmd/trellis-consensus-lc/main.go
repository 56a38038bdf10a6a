// Command trellis-consensus-lc is the longest-chain consensus plugin
// (package lc).
package main

import (
	lc "github.com/trellis-chain/trellis/plugins/consensus-lc"
	"github.com/trellis-chain/trellis/sdk"
)

func main() {
	sdk.Serve(lc.New(sdk.Logger()))
}
