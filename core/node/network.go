package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/blocksync"
	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/p2p"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/tx"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// deliverTimeout bounds handing a peer's message on a plugin topic to the
// bus, so a plugin that stops reading cannot stall gossip.
const deliverTimeout = 5 * time.Second

// network joins the node to its peers: it carries plugin topics
// (hostsvc.Transport), and runs the mempool's gossip reactor and block sync.
type network struct {
	n *Node
	h *p2p.Host

	mu      sync.Mutex
	joined  map[string]bool
	blocked []string

	txs *mempool.Reactor
}

// startNetwork starts libp2p when the config enables it and the node has a
// ledger (peers are told the genesis).
func (n *Node) startNetwork(ctx context.Context) error {
	cfg := n.cfg
	if !cfg.Network.Enabled || n.chain == nil {
		return nil
	}
	key, err := signer.LoadNodeKey(filepath.Join(cfg.Node.KeyDir, signer.NodeKeyFile))
	if err != nil {
		return n.keyDiag(fmt.Errorf("the network identity is the node key: %w", err))
	}
	head, final := n.chain.Head()
	n.log.Debug("starting network", "head", head.Header.Height, "final", final.Header.Height)
	h, err := p2p.New(ctx, p2p.Config{
		ChainID: cfg.Node.ChainID, Genesis: n.chain.Genesis(), Key: key,
		Listen: cfg.Network.Listen, Bootstrap: cfg.Network.Bootstrap, Announce: cfg.Network.Announce, MaxPeers: cfg.Network.MaxPeers, DHT: cfg.Network.DHT,
		MaxStreams: cfg.Network.MaxStreams, MaxMemoryMB: cfg.Network.MaxMemoryMB, QueueSize: cfg.Network.QueueSize,
		Logger: n.log.Named("p2p"), Metrics: n.reg,
	})
	if err != nil {
		subject := cfg.Network.DeclRange
		if r, ok := cfg.Range("network.listen"); ok {
			subject = r
		}
		return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot start the network",
			Detail: err.Error(), Subject: subject.Ptr()}}}
	}
	txTopic := hostsvc.Topic(cfg.Node.ChainID, "host", "txs")
	nw := &network{n: n, h: h, joined: map[string]bool{},
		txs: mempool.NewReactor(n.pool, mempool.HeadState{DB: n.chain.State()}, h, txTopic, n.reg, n.log)}
	h.ServeSync(blocksync.Source{Chain: n.chain})
	if err := h.Join(txTopic, nw.txs.Validate, func(p2p.Message) {}); err != nil {
		_ = h.Close()
		return fmt.Errorf("joining the transaction topic: %w", err)
	}
	n.net = nw
	n.svc.Transport = nw
	ctx, cancel := context.WithCancel(context.Background())
	n.netStop = cancel
	n.netDone.Add(2)
	syncer := blocksync.New(n.chain, h, blocksync.PluginVerifier{Chain: n.chain,
		Plugin: func() *plugin.Supervisor { return n.Plugin(config.KindConsensus) }}, n.log)
	go func() { defer n.netDone.Done(); nw.txs.Run(ctx) }()
	go func() { defer n.netDone.Done(); syncer.Run(ctx) }()
	n.log.Info("network up", "peer_id", h.ID(), "addrs", h.Addrs())
	return nil
}

func (n *Node) stopNetwork() {
	if n.netStop != nil {
		n.netStop()
		n.netDone.Wait()
	}
	if n.net != nil {
		if err := n.net.h.Close(); err != nil {
			n.log.Warn("closing the network", "error", err)
		}
	}
}

func (n *Node) keyDiag(err error) error {
	subject := n.cfg.Node.DeclRange
	if r, ok := n.cfg.Range("node.key_dir"); ok {
		subject = r
	}
	return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot load the node key",
		Detail: err.Error(), Subject: subject.Ptr()}}}
}

// Join implements hostsvc.Transport: peers' messages on a plugin topic go to
// the bus, where the plugin's subscriptions read them. The host cannot judge
// a plugin's messages; the plugin reports bad ones.
func (nw *network) Join(topic string) error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.joined[topic] {
		return nil
	}
	validate := func(_ context.Context, _ string, data []byte) p2p.Verdict {
		if len(data) > hostsvc.MaxGossipBytes {
			return p2p.Reject
		}
		return p2p.Accept
	}
	deliver := func(m p2p.Message) {
		ctx, cancel := context.WithTimeout(context.Background(), deliverTimeout)
		defer cancel()
		if err := nw.n.bus.Publish(ctx, hostsvc.Message{Topic: m.Topic, Data: m.Data, From: m.From, ID: m.ID, Received: m.Received}); err != nil &&
			!errors.Is(err, hostsvc.ErrBusClosed) {
			nw.n.log.Warn("plugin did not take a network message", "topic", m.Topic, "from", m.From, "error", err)
		}
	}
	if err := nw.h.Join(topic, validate, deliver); err != nil {
		return err
	}
	nw.joined[topic] = true
	return nil
}

func (nw *network) Publish(ctx context.Context, topic string, data []byte) error {
	return nw.h.Publish(ctx, topic, data)
}

func (nw *network) Send(ctx context.Context, peer, topic string, data []byte) error {
	return nw.h.Send(ctx, peer, topic, data)
}

func (nw *network) Report(peer, reason string) { nw.h.Report(peer, reason) }

func (nw *network) Peers() []*hostv1.Peer {
	ps := nw.h.Peers()
	out := make([]*hostv1.Peer, 0, len(ps))
	for _, p := range ps {
		out = append(out, &hostv1.Peer{Id: p.ID, Addrs: p.Addrs, Score: p.Score})
	}
	return out
}

// broadcastTx gossips a transaction this node admitted from a user or
// created itself; it does nothing on a node without a network.
func (n *Node) broadcastTx(t *tx.Tx) {
	if n.net != nil {
		n.net.txs.Broadcast(t)
	}
}

// netBackend is the user API of a node with a network (rpc.NetBackend).
type netBackend struct{ backend }

func (b netBackend) NodeInfo() rpc.NodeInfo {
	nw := b.n.net
	nw.mu.Lock()
	blocked := append([]string{}, nw.blocked...)
	nw.mu.Unlock()
	return rpc.NodeInfo{PeerID: nw.h.ID(), ListenAddrs: nw.h.Addrs(), BlockedPeers: blocked}
}

func (b netBackend) Peers() []rpc.PeerInfo {
	ps := b.n.net.h.Peers()
	out := make([]rpc.PeerInfo, 0, len(ps))
	for _, p := range ps {
		pi := rpc.PeerInfo{PeerID: p.ID, Score: p.Score, LatencyMs: float64(p.Latency.Microseconds()) / 1000}
		if len(p.Addrs) > 0 {
			pi.Addr = p.Addrs[0]
		}
		out = append(out, pi)
	}
	return out
}

func (b netBackend) SetBlockedPeers(ids []string) error {
	for _, id := range ids {
		if _, err := peer.Decode(id); err != nil {
			return fmt.Errorf("%w: %q: %v", rpc.ErrBadPeerID, id, err)
		}
	}
	nw := b.n.net
	nw.mu.Lock()
	nw.blocked = append([]string{}, ids...)
	nw.mu.Unlock()
	nw.h.SetBlocked(ids)
	b.n.log.Info("blocked peers set", "count", len(ids))
	return nil
}
