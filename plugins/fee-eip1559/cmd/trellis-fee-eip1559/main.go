// Command trellis-fee-eip1559 is the fee plugin: an EIP-1559 base fee with
// priority tips and a configurable split of every fee between burn,
// treasury, sequencer and prover (package fee holds the market itself).
package main

import (
	fee "github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/sdk"
)

func main() {
	sdk.Serve(fee.New())
}
