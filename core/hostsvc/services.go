package hostsvc

import (
	"time"

	"google.golang.org/grpc"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Services holds what the host services of every plugin share.
type Services struct {
	DB      *store.DB
	Metrics *metrics.Registry
	Bus     *Bus
	ChainID string
	// ClockSkew shifts the Clock served to plugins (fault injection:
	// the robustness suite's clock-skew fault); 0 in normal operation.
	ClockSkew time.Duration
	// Chain is the ledger; nil on a node without a genesis, which then
	// neither serves nor advertises host.chain.
	Chain *chain.Chain
	// Transport carries plugin topics to peers; nil on a node without a
	// network.
	Transport Transport
	// Signer holds the node's keys; nil on a node without them, which
	// then neither serves nor advertises host.signer.
	Signer *signer.Signer
	// Evidence submits double-sign evidence for slashing; nil (or no
	// Chain) leaves Chain.ReportEvidence Unimplemented and
	// host.chain.evidence unadvertised.
	Evidence EvidenceFunc
	// Pool is the mempool Chain.Events reports the size of; nil (or no
	// Chain) leaves host.chain.mempool unadvertised.
	Pool Pool
}

// Capabilities are the host capabilities advertised in NodeInfo.
func (s *Services) Capabilities() []string {
	caps := []string{sdk.CapHostStore, sdk.CapHostClock, sdk.CapHostMetrics, networkCapabilities}
	if s.Chain != nil {
		caps = append(caps, sdk.CapHostChain)
	}
	if s.Transport != nil {
		caps = append(caps, sdk.CapHostNetwork)
	}
	if s.Signer != nil {
		caps = append(caps, sdk.CapHostSigner, sdk.CapHostSignerBlock)
	}
	if s.Chain != nil && s.Evidence != nil {
		caps = append(caps, sdk.CapHostChainEvidence)
	}
	if s.Chain != nil && s.Pool != nil {
		caps = append(caps, sdk.CapHostChainMempool)
	}
	return caps
}

// NamespaceName is the Store namespace of plugin kind.name.
func NamespaceName(kind, name string) string { return kind + "." + name }

// Register registers every host service for one plugin on srv.
func (s *Services) Register(srv *grpc.Server, ns *store.Namespace, kind, name string) *Network {
	id := kind + "." + name
	hostv1.RegisterStoreServer(srv, NewStore(ns))
	hostv1.RegisterClockServer(srv, NewSkewedClock(s.ClockSkew))
	hostv1.RegisterMetricsServer(srv, NewMetrics(s.Metrics, id))
	nw := NewNetwork(s.Bus, s.Transport, s.ChainID, id)
	hostv1.RegisterNetworkServer(srv, nw)
	if s.Chain != nil {
		hostv1.RegisterChainServer(srv, NewChain(s.Chain).WithEvidence(s.Evidence).WithPool(s.Pool))
	}
	if s.Signer != nil {
		hostv1.RegisterSignerServer(srv, NewSigner(s.Signer, s.ChainID))
	}
	return nw
}
