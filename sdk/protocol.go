package sdk

import (
	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the plugin protocol major version this SDK speaks. It is
// the v1 in the proto package names (trellis.plugin.v1).
const ProtocolVersion = 1

// Version is the SDK's own version, reported in Info.
const Version = "0.1.0"

// Handshake is fixed forever: it only tells a plugin binary it was started
// by a Trellis host, so a plugin run by hand prints a hint instead of
// waiting on stdin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "TRELLIS_PLUGIN_COOKIE",
	MagicCookieValue: "7c1e4f0a9d2b4e86b5a3c8f1e0d6a9b2",
}

// Plugin kinds.
const (
	KindConsensus = "consensus"
	KindProver    = "prover"
	KindDA        = "da"
	KindFee       = "fee"
)

// Kinds lists every plugin kind.
var Kinds = []string{KindConsensus, KindProver, KindDA, KindFee}

// ValidKind reports whether k is a plugin kind.
func ValidKind(k string) bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// commonName is the go-plugin name of the service every plugin serves.
const commonName = "plugin"

// MaxMessageBytes bounds every gRPC message either way. Prover witnesses and
// proofs are the largest messages.
const MaxMessageBytes = 64 << 20

// Host capabilities a host lists in NodeInfo.host_capabilities.
const (
	CapHostChain   = "host.chain"
	CapHostNetwork = "host.network"
	CapHostSigner  = "host.signer"
	CapHostStore   = "host.store"
	CapHostClock   = "host.clock"
	CapHostMetrics = "host.metrics"
	// CapHostSignerBlock adds SignConsensus STEP_BLOCK (longest-chain
	// block signatures, one per slot).
	CapHostSignerBlock = "host.signer.block"
	// CapHostChainEvidence adds Chain.ReportEvidence.
	CapHostChainEvidence = "host.chain.evidence"
	// CapHostChainMempool: Chain.Events sends mempool_size when the
	// stream starts and whenever the pool becomes empty or non-empty.
	CapHostChainMempool = "host.chain.mempool"
)
