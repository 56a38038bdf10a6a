// Command trellis-prover-cpu is the CPU prover plugin (package provercpu):
// it proves batch/v1 block statements with protocol/stark on all cores.
package main

import (
	provercpu "github.com/trellis-chain/trellis/plugins/prover-cpu"
	"github.com/trellis-chain/trellis/sdk"
)

func main() {
	log := sdk.Logger()
	sdk.Serve(provercpu.New(log), sdk.WithLogger(log))
}
