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
	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/p2p"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Sync and gossip tuning.
const (
	syncInterval   = 500 * time.Millisecond
	syncWindow     = 1024 // heights fetched per Download call
	txBatchMax     = 256  // transactions per gossip message
	txBatchDelay   = 10 * time.Millisecond
	gapRetry       = 250 * time.Millisecond // retry of parked transactions (gaps.go)
	deliverTimeout = 5 * time.Second
)

// errSync is wrapped by every rejection of a block received by sync. It
// wraps p2p.ErrBadBlock, so Download reports and drops the peer that sent
// the block and fetches it again from another.
var errSync = fmt.Errorf("sync: %w", p2p.ErrBadBlock)

// errSyncLocal is wrapped by sync failures that are this node's, not the
// peer's: no consensus plugin, a storage error.
var errSyncLocal = errors.New("sync")

// network joins the node to its peers: it carries plugin topics
// (hostsvc.Transport), gossips transactions and syncs final blocks.
type network struct {
	n *Node
	h *p2p.Host

	mu      sync.Mutex
	joined  map[string]bool
	blocked []string

	txTopic string
	txq     chan *tx.Tx
	kick    chan struct{}
	gaps    *gapBuffer
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
		Listen: cfg.Network.Listen, Bootstrap: cfg.Network.Bootstrap, MaxPeers: cfg.Network.MaxPeers, DHT: cfg.Network.DHT,
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
	nw := &network{n: n, h: h, joined: map[string]bool{}, txTopic: hostsvc.Topic(cfg.Node.ChainID, "host", "txs"),
		txq: make(chan *tx.Tx, 4*txBatchMax), kick: make(chan struct{}, 1), gaps: newGapBuffer(headState{n.chain.State()})}
	h.ServeSync(blockSource{n})
	if err := h.Join(nw.txTopic, nw.validateTxs, func(p2p.Message) {}); err != nil {
		_ = h.Close()
		return fmt.Errorf("joining the transaction topic: %w", err)
	}
	n.net = nw
	n.svc.Transport = nw
	ctx, cancel := context.WithCancel(context.Background())
	n.netStop = cancel
	n.netDone.Add(2)
	go func() { defer n.netDone.Done(); nw.gossipTxs(ctx) }()
	go func() { defer n.netDone.Done(); nw.syncLoop(ctx) }()
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
		n.net.broadcast(t)
	}
}

// broadcast queues a transaction the node accepted from a user for gossip.
// Transactions from peers are not re-broadcast: gossipsub forwards them.
func (nw *network) broadcast(t *tx.Tx) {
	select {
	case nw.txq <- t:
	default:
		_ = nw.n.reg.Record("trellis_tx_gossip_dropped_total", metrics.Counter, 1, nil, "Transactions not gossiped because the gossip queue was full; peers see them in a block.")
		nw.n.log.Debug("transaction gossip queue full; peers will get it in a block", "tx", t.Hash())
	}
}

// gossipTxs publishes queued transactions in batches, so a burst costs a
// few messages rather than one per transaction.
func (nw *network) gossipTxs(ctx context.Context) {
	var batch []*tx.Tx
	size := 3 // encoded batch size so far
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// Parked transactions may also be unblocked by a block or a user's
	// transaction; retry them all now and then.
	retry := time.NewTicker(gapRetry)
	defer retry.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := nw.h.Publish(ctx, nw.txTopic, encodeTxBatch(batch)); err != nil && ctx.Err() == nil {
			nw.n.log.Warn("gossiping transactions", "count", len(batch), "error", err)
		}
		batch, size = batch[:0], 3
	}
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-nw.txq:
			n := 4 + t.Size()
			if size+n > txBatchMaxBytes {
				timer.Stop()
				flush() // a proof transaction would overflow the message
			}
			if len(batch) == 0 {
				timer.Reset(txBatchDelay)
			}
			batch, size = append(batch, t), size+n
			if len(batch) >= txBatchMax {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		case now := <-retry.C:
			nw.unparked(nw.gaps.retryAll(nw.n.pool, now))
		}
	}
}

// validateTxs admits a peer's transaction batch into the mempool. A batch
// that does not decode, or holds a transaction no honest node would relay
// (bad signature, other chain), is rejected and lowers the peer's score;
// state-dependent refusals (known, nonce, funds) are not the peer's fault.
func (nw *network) validateTxs(_ context.Context, from string, data []byte) p2p.Verdict {
	if from == "" {
		return p2p.Accept // our own batch, already in our pool
	}
	txs, err := decodeTxBatch(data)
	if err != nil {
		nw.n.log.Debug("bad transaction batch", "peer", from, "error", err)
		return p2p.Reject
	}
	errs, added, parked, unparked := nw.gaps.admit(nw.n.pool, txs, time.Now())
	nw.unparked(unparked)
	for i, err := range errs {
		if isStatelessTxError(err) {
			nw.n.log.Debug("invalid transaction from peer", "peer", from, "tx", txs[i].Hash(), "error", err)
			return p2p.Reject
		}
	}
	if parked > 0 {
		_ = nw.n.reg.Record("trellis_tx_gossip_parked_total", metrics.Counter, float64(parked), nil,
			"Gossiped transactions that arrived before an earlier nonce of their sender and were held for a retry.")
	}
	if added+parked == 0 {
		return p2p.Ignore
	}
	return p2p.Accept
}

func (nw *network) unparked(n int) {
	if n > 0 {
		_ = nw.n.reg.Record("trellis_tx_gossip_unparked_total", metrics.Counter, float64(n), nil,
			"Held gossiped transactions admitted once their sender's earlier nonces arrived.")
	}
}

// isStatelessTxError reports whether a mempool refusal is the sender's
// fault rather than a matter of this node's state.
func isStatelessTxError(err error) bool {
	for _, e := range []error{tx.ErrTooLarge, tx.ErrMalformed, tx.ErrVersion, tx.ErrType, tx.ErrSignature, tx.ErrChainID,
		tx.ErrGas, tx.ErrFee, tx.ErrAmount, tx.ErrOverflow} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// syncLoop fetches final blocks peers have and this node lacks.
func (nw *network) syncLoop(ctx context.Context) {
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-nw.kick:
		}
		if err := nw.syncOnce(ctx); err != nil && ctx.Err() == nil {
			nw.n.log.Warn("sync", "error", err)
		}
	}
}

func (nw *network) syncOnce(ctx context.Context) error {
	_, final := nw.n.chain.Head()
	ours := final.Header.Height
	var best uint64
	var peers []string
	for _, p := range nw.h.Peers() {
		if p.Status != nil && p.Status.Final > ours {
			peers = append(peers, p.ID)
			best = max(best, p.Status.Final)
		}
	}
	if len(peers) == 0 {
		return nil
	}
	to := min(best, ours+syncWindow)
	t0 := time.Now()
	nw.n.log.Info("syncing final blocks", "from", ours+1, "to", to, "best_peer_final", best, "peers", len(peers))
	progress := func(done, total uint64) {
		nw.n.log.Info("sync progress", "blocks", fmt.Sprintf("%d/%d", done, total))
	}
	if err := nw.h.Download(ctx, ours+1, to, peers, nw.applySynced, progress); err != nil {
		return err
	}
	nw.n.log.Info("synced", "to", to, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// applySynced checks a final block from a peer — its certificate with the
// consensus plugin, its execution with the chain — then commits it and
// marks it canonical and final.
func (nw *network) applySynced(height uint64, sb p2p.SyncedBlock) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := nw.n.chain
	blk, err := block.Decode(sb.Encoded)
	if err != nil {
		return fmt.Errorf("%w: block %d: %w", errSync, height, err)
	}
	if blk.Header.Height != height {
		return fmt.Errorf("%w: asked for height %d, got %d", errSync, height, blk.Header.Height)
	}
	h := blk.Hash()
	if _, final := c.Head(); final.Header.Height >= height {
		if ch, err := c.CanonicalHash(height); err == nil && ch == h {
			return nil // decided here meanwhile
		}
		return fmt.Errorf("%w: block %s at final height %d conflicts with ours", errSync, h, height)
	}
	if err := nw.verifyFinal(ctx, blk, sb); err != nil {
		return err
	}
	if _, err := c.Commit(ctx, sb.Encoded); err != nil {
		if errors.Is(err, chain.ErrInvalidBlock) {
			return fmt.Errorf("%w: block %d: %w", errSync, height, err)
		}
		return fmt.Errorf("%w: committing block %d: %w", errSyncLocal, height, err)
	}
	if _, err := c.SetHead(ctx, h); err != nil {
		return fmt.Errorf("%w: block %d: %w", errSyncLocal, height, err)
	}
	return c.Finalize(ctx, h, sb.Certificate)
}

// verifyFinal asks the consensus plugin whether the block's certificate
// makes it final under the validator set of its parent.
func (nw *network) verifyFinal(ctx context.Context, blk *block.Block, sb p2p.SyncedBlock) error {
	s := nw.n.Plugin(config.KindConsensus)
	if s == nil {
		return fmt.Errorf("%w: no consensus plugin to verify block %d", errSyncLocal, blk.Header.Height)
	}
	p, err := s.Process(ctx)
	if err != nil {
		return fmt.Errorf("%w: consensus plugin: %w", errSyncLocal, err)
	}
	cc, ok := p.Kind.(consensusv1.ConsensusClient)
	if !ok {
		return fmt.Errorf("%w: plugin %s is not a consensus plugin", errSyncLocal, s.Status().Plugin)
	}
	set, err := hostsvc.ValidatorSetProto(nw.n.chain, blk.Header.Height-1)
	if err != nil {
		return fmt.Errorf("%w: validator set for block %d: %w", errSyncLocal, blk.Header.Height, err)
	}
	bp := hostsvc.BlockProto(blk, true)
	bp.Certificate = sb.Certificate
	r, err := cc.VerifyBlock(ctx, &consensusv1.VerifyBlockRequest{Block: bp, Validators: set})
	if err != nil {
		return fmt.Errorf("%w: consensus plugin verifying block %d: %w", errSyncLocal, blk.Header.Height, err)
	}
	if !r.GetValid() || !r.GetFinal() {
		return fmt.Errorf("%w: block %d %s not proven final: %s", errSync, blk.Header.Height, blk.Hash(), r.GetReason())
	}
	return nil
}

// blockSource serves this node's final blocks to peers.
type blockSource struct{ n *Node }

func (s blockSource) Status() p2p.Status {
	c := s.n.chain
	head, final := c.Head()
	return p2p.Status{ChainID: c.ChainID(), Genesis: c.Genesis(), Height: head.Header.Height, Final: final.Header.Height, Head: head.Hash()}
}

func (s blockSource) Blocks(from uint64, max int) ([]p2p.SyncedBlock, error) {
	c := s.n.chain
	_, final := c.Head()
	var out []p2p.SyncedBlock
	for h := from; h <= final.Header.Height && len(out) < max; h++ {
		b, err := c.BlockByHeight(h)
		if err != nil {
			return out, err
		}
		cert, err := c.Certificate(b.Hash())
		if err != nil {
			return out, err
		}
		out = append(out, p2p.SyncedBlock{Encoded: b.Encode(), Certificate: cert})
	}
	return out, nil
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
		pi := rpc.PeerInfo{PeerID: p.ID, Score: p.Score}
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
