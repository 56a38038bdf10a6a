// Command trellis-consensus-bft is the Tendermint-style BFT consensus
// plugin (package bft).
package main

import (
	bft "github.com/trellis-chain/trellis/plugins/consensus-bft"
	"github.com/trellis-chain/trellis/sdk"
)

func main() {
	sdk.Serve(bft.New(sdk.Logger()))
}
