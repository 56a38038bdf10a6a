package provercpu

import (
	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/sdk/prover"
)

// Name is the plugin's name: plugin "prover" "cpu" {}.
const Name = "cpu"

// Version of the plugin.
const Version = "0.1.0"

// Backend is protocol/stark's pure-Go kernels under this plugin's name.
var Backend = prover.Backend{Name: Name, Version: Version, Kind: "cpu",
	New: func(workers int) (stark.Backend, error) { return stark.NewCPU(workers), nil }}

// New returns the unconfigured CPU prover logging to log (nil: no logs).
func New(log hclog.Logger) *prover.Plugin { return prover.New(log, Backend) }
