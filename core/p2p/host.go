package p2p

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// Host is a node's libp2p host with gossip, direct messages and block sync.
// It is safe for concurrent use.
type Host struct {
	cfg  Config
	log  hclog.Logger
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	h    host.Host
	ps   *pubsub.PubSub
	kad  *dht.IpfsDHT
	self peer.ID

	protoDirect, protoSync, protoStatus protocol.ID

	joinMu      sync.Mutex // serialises pubsub topic joins
	penMu       sync.Mutex // guards penalties; taken inside pubsub's event loop
	mu          sync.Mutex
	topics      map[string]*topicState    // joined topics
	handles     map[string]*pubsub.Topic  // pubsub handles, joined or publish-only
	blocked     map[peer.ID]bool          // SetBlocked
	bans        map[peer.ID]time.Time     // temporary bans, until
	scores      map[peer.ID]float64       // last gossipsub scores
	rtts        map[peer.ID]time.Duration // last measured round trips (pingLoop)
	statuses    map[peer.ID]Status        // last known status
	penalties   map[peer.ID]*penalty      // Report penalties
	handshaking map[peer.ID]bool          // handshake in flight
	reported    map[string]time.Time      // peer+reason -> last throttle report
	bootWake    chan struct{}             // pinged on disconnects and heals

	src     atomic.Pointer[sourceBox]
	limits  *limiter
	traffic *traffic
	closed  atomic.Bool
}

type sourceBox struct{ src BlockSource }

// PeerIDFromKey returns the libp2p peer id string of an ed25519 public key.
func PeerIDFromKey(pub ed25519.PublicKey) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: ed25519 public key of %d bytes", ErrConfig, len(pub))
	}
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrConfig, err)
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return id.String(), nil
}

// New starts a host: it listens, joins gossipsub, serves status, sync and
// direct protocols, dials the bootstrap peers and, with DHT, starts discovery.
// ctx is checked before starting; the host lives until Close.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("p2p: new host: %w", err)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	priv, err := crypto.UnmarshalEd25519PrivateKey(c.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", ErrConfig, err)
	}
	boot, err := parseBootstrap(c.Bootstrap)
	if err != nil {
		return nil, err
	}
	listen := make([]ma.Multiaddr, 0, len(c.Listen))
	for _, s := range c.Listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: listen address %q: %v", ErrConfig, s, err)
		}
		listen = append(listen, a)
	}
	announce := make([]ma.Multiaddr, 0, len(c.Announce))
	for _, s := range c.Announce {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: announce address %q: %v", ErrConfig, s, err)
		}
		announce = append(announce, a)
	}

	hctx, stop := context.WithCancel(context.Background())
	prefix := "/trellis/" + c.ChainID
	h := &Host{
		cfg: c, log: c.Logger.Named("p2p"), ctx: hctx, stop: stop,
		protoDirect: protocol.ID(prefix + "/direct/1"),
		protoSync:   protocol.ID(prefix + "/sync/1"),
		protoStatus: protocol.ID(prefix + "/status/1"),
		topics:      map[string]*topicState{},
		handles:     map[string]*pubsub.Topic{},
		blocked:     map[peer.ID]bool{},
		bans:        map[peer.ID]time.Time{},
		scores:      map[peer.ID]float64{},
		rtts:        map[peer.ID]time.Duration{},
		statuses:    map[peer.ID]Status{},
		penalties:   map[peer.ID]*penalty{},
		handshaking: map[peer.ID]bool{},
		reported:    map[string]time.Time{},
		bootWake:    make(chan struct{}, 1),
		limits:      newLimiter(),
	}
	h.traffic = newTraffic(c.Metrics)

	rm, err := newResourceManager(c.MaxStreams, c.MaxMemoryMB, c.MaxPeers)
	if err != nil {
		stop()
		return nil, err
	}
	low := c.MaxPeers * 3 / 4
	if low < 1 {
		low = 1
	}
	cm, err := connmgr.NewConnManager(low, c.MaxPeers, connmgr.WithGracePeriod(30*time.Second))
	if err != nil {
		stop()
		return nil, fmt.Errorf("%w: connection manager: %v", ErrConfig, err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(priv),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater((*gater)(h)),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("trellis/" + c.ChainID),
	}
	if len(announce) > 0 {
		// Peers learn only these (identify, DHT), so they dial nothing
		// else.
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return announce }))
	}
	if len(listen) > 0 {
		opts = append(opts, libp2p.ListenAddrs(listen...))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	lh, err := libp2p.New(opts...)
	if err != nil {
		stop()
		_ = rm.Close()
		return nil, fmt.Errorf("p2p: start libp2p host: %w", err)
	}
	h.h, h.self = lh, lh.ID()
	fail := func(err error) (*Host, error) {
		_ = h.Close()
		return nil, err
	}

	h.ps, err = h.newPubSub(hctx)
	if err != nil {
		return fail(fmt.Errorf("p2p: start gossipsub: %w", err))
	}
	lh.SetStreamHandler(h.protoStatus, h.handleStatus)
	lh.SetStreamHandler(h.protoSync, h.handleSync)
	lh.SetStreamHandler(h.protoDirect, h.handleDirect)
	lh.Network().Notify(&network.NotifyBundle{
		ConnectedF:    h.onConnected,
		DisconnectedF: h.onDisconnected,
	})
	for _, pi := range boot {
		if pi.ID == h.self {
			continue
		}
		cm.Protect(pi.ID, "bootstrap")
		lh.Peerstore().AddAddrs(pi.ID, pi.Addrs, time.Hour*24*365)
	}
	if c.DHT {
		if err := h.startDHT(hctx, boot); err != nil {
			return fail(err)
		}
	}
	h.wg.Add(4)
	go h.pingLoop()
	go h.bootstrapLoop(boot)
	go h.statusLoop()
	go h.housekeeping()
	h.log.Info("p2p host started", "id", h.self.String(), "addrs", h.Addrs())
	return h, nil
}

func parseBootstrap(list []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	idx := map[peer.ID]int{}
	for _, s := range list {
		pi, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap address %q: %v", ErrConfig, s, err)
		}
		if i, ok := idx[pi.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, pi.Addrs...)
			continue
		}
		idx[pi.ID] = len(out)
		out = append(out, *pi)
	}
	return out, nil
}

// newResourceManager builds fixed limits: the library's default per-scope
// shape, scaled to the configured memory (not the machine's), with the
// system and transient scopes overridden by the configured stream budget.
func newResourceManager(maxStreams, maxMemoryMB, maxPeers int) (network.ResourceManager, error) {
	mem := int64(maxMemoryMB) << 20
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(mem, 4096)
	conns := 4*maxPeers + 64
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Streams: rcmgr.LimitVal(maxStreams), StreamsInbound: rcmgr.LimitVal(maxStreams / 2),
			StreamsOutbound: rcmgr.LimitVal(maxStreams), Conns: rcmgr.LimitVal(conns),
			ConnsInbound: rcmgr.LimitVal(conns), ConnsOutbound: rcmgr.LimitVal(conns),
			FD: rcmgr.LimitVal(conns), Memory: rcmgr.LimitVal64(mem),
		},
		Transient: rcmgr.ResourceLimits{
			Streams: rcmgr.LimitVal(maxStreams / 4), StreamsInbound: rcmgr.LimitVal(maxStreams / 8),
			StreamsOutbound: rcmgr.LimitVal(maxStreams / 4), Conns: rcmgr.LimitVal(conns / 2),
			ConnsInbound: rcmgr.LimitVal(conns / 2), ConnsOutbound: rcmgr.LimitVal(conns / 2),
			FD: rcmgr.LimitVal(conns / 2), Memory: rcmgr.LimitVal64(mem / 4),
		},
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(base)))
	if err != nil {
		return nil, fmt.Errorf("%w: resource manager: %v", ErrConfig, err)
	}
	return rm, nil
}

// ID returns the host's peer id.
func (h *Host) ID() string { return h.self.String() }

// Addrs returns the listen multiaddrs, each ending in /p2p/<id>.
func (h *Host) Addrs() []string {
	var out []string
	for _, a := range h.h.Addrs() {
		out = append(out, a.String()+"/p2p/"+h.self.String())
	}
	sort.Strings(out)
	return out
}

// Close stops discovery, gossip and the host. It is idempotent.
func (h *Host) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return nil
	}
	h.stop()
	h.mu.Lock()
	topics := make([]*topicState, 0, len(h.topics))
	for _, ts := range h.topics {
		topics = append(topics, ts)
	}
	h.mu.Unlock()
	for _, ts := range topics {
		ts.shutdown()
	}
	var err error
	if h.kad != nil {
		if e := h.kad.Close(); e != nil {
			err = fmt.Errorf("p2p: close dht: %w", e)
		}
	}
	if h.h != nil {
		if e := h.h.Close(); e != nil && err == nil {
			err = fmt.Errorf("p2p: close host: %w", e)
		}
	}
	h.wg.Wait()
	h.traffic.flush(0)
	return err
}

func decodePeer(s string) (peer.ID, error) {
	id, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadPeer, s, err)
	}
	return id, nil
}

// --- connection gating, bans, partitions ---

type gater Host

func (g *gater) allowed(p peer.ID) bool { return !(*Host)(g).isBlocked(p) }

func (g *gater) InterceptPeerDial(p peer.ID) bool                 { return g.allowed(p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.allowed(p) }
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.allowed(p)
}
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

func (h *Host) isBlocked(p peer.ID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.blocked[p] {
		return true
	}
	if until, ok := h.bans[p]; ok {
		if time.Now().Before(until) {
			return true
		}
		delete(h.bans, p)
	}
	return false
}

// ban disconnects p and refuses it for BanDuration.
func (h *Host) ban(p peer.ID, reason string) {
	if p == h.self || h.closed.Load() {
		return
	}
	h.mu.Lock()
	_, already := h.bans[p]
	h.bans[p] = time.Now().Add(h.cfg.BanDuration)
	h.mu.Unlock()
	if !already {
		h.log.Warn("banning peer", "peer", p.String(), "reason", reason, "for", h.cfg.BanDuration)
	}
	_ = h.h.Network().ClosePeer(p)
}

// SetBlocked disconnects from these peers and refuses connections to and from
// them until the next call; SetBlocked(nil) heals, and unblocked peers that
// were known are dialled again.
func (h *Host) SetBlocked(peers []string) {
	next := map[peer.ID]bool{}
	for _, s := range peers {
		if id, err := peer.Decode(s); err == nil && id != h.self {
			next[id] = true
		}
	}
	h.mu.Lock()
	prev := h.blocked
	h.blocked = next
	h.mu.Unlock()
	for id := range next {
		_ = h.h.Network().ClosePeer(id)
	}
	var healed []peer.ID
	for id := range prev {
		if !next[id] {
			healed = append(healed, id)
		}
	}
	sw, _ := h.h.Network().(*swarm.Swarm)
	for _, id := range healed {
		// Dials refused while blocked left a swarm dial backoff that
		// would delay the reconnection for minutes.
		if sw != nil {
			sw.Backoff().Clear(id)
		}
		h.goDial(peer.AddrInfo{ID: id})
	}
	h.wakeBootstrap()
}

// goDial connects in the background (addresses from the peerstore if none).
func (h *Host) goDial(pi peer.AddrInfo) {
	if h.closed.Load() {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		defer cancel()
		if err := h.h.Connect(ctx, pi); err != nil {
			h.log.Debug("dial failed", "peer", pi.ID.String(), "err", err)
		}
	}()
}

func (h *Host) wakeBootstrap() {
	select {
	case h.bootWake <- struct{}{}:
	default:
	}
}

// bootstrapLoop keeps the bootstrap peers connected, with per-peer
// exponential backoff (1 s doubling to 30 s, with jitter).
func (h *Host) bootstrapLoop(boot []peer.AddrInfo) {
	defer h.wg.Done()
	type state struct {
		next    time.Time
		backoff time.Duration
	}
	st := make(map[peer.ID]*state, len(boot))
	for _, pi := range boot {
		st[pi.ID] = &state{backoff: time.Second}
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		for _, pi := range boot {
			s := st[pi.ID]
			if pi.ID == h.self || h.h.Network().Connectedness(pi.ID) == network.Connected {
				s.backoff = time.Second
				continue
			}
			if now.Before(s.next) || h.isBlocked(pi.ID) {
				continue
			}
			ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
			err := h.h.Connect(ctx, pi)
			cancel()
			if err == nil {
				s.backoff = time.Second
				continue
			}
			h.log.Debug("bootstrap dial failed", "peer", pi.ID.String(), "err", err, "retry", s.backoff)
			jitter := time.Duration(rand.Int64N(int64(s.backoff)/4 + 1))
			s.next = time.Now().Add(s.backoff + jitter)
			if s.backoff *= 2; s.backoff > 30*time.Second {
				s.backoff = 30 * time.Second
			}
		}
		select {
		case <-h.ctx.Done():
			return
		case <-tick.C:
		case <-h.bootWake:
		}
	}
}

func (h *Host) onConnected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	if h.closed.Load() {
		return
	}
	h.mu.Lock()
	if h.handshaking[p] {
		h.mu.Unlock()
		return
	}
	h.handshaking[p] = true
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.handshake(p)
		h.mu.Lock()
		delete(h.handshaking, p)
		h.mu.Unlock()
	}()
}

func (h *Host) onDisconnected(n network.Network, c network.Conn) {
	p := c.RemotePeer()
	if n.Connectedness(p) == network.Connected {
		return
	}
	h.mu.Lock()
	delete(h.statuses, p)
	delete(h.rtts, p)
	h.mu.Unlock()
	h.limits.forget(p)
	h.wakeBootstrap()
}

// housekeeping flushes metrics and forgets expired bans and penalties.
func (h *Host) housekeeping() {
	defer h.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.traffic.flush(len(h.h.Network().Peers()))
		now := time.Now()
		h.mu.Lock()
		for p, until := range h.bans {
			if now.After(until) {
				delete(h.bans, p)
			}
		}
		for k, at := range h.reported {
			if now.Sub(at) > time.Minute {
				delete(h.reported, k)
			}
		}
		h.mu.Unlock()
		h.penMu.Lock()
		for p, pen := range h.penalties {
			if pen.value(now) < 1 {
				delete(h.penalties, p)
			}
		}
		h.penMu.Unlock()
	}
}

// pingPeriod is how often the host measures each peer's round trip.
const pingPeriod = 5 * time.Second

// pingsPerRound are the pings of one measurement, on one stream: the
// first also opens the stream, so the least of them is the round trip.
const pingsPerRound = 3

// pingLoop measures every connected peer's round trip once per
// pingPeriod, the first time a second after start, for Peers.
func (h *Host) pingLoop() {
	defer h.wg.Done()
	wait := time.Second
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = pingPeriod
		for _, id := range h.h.Network().Peers() {
			ctx, cancel := context.WithTimeout(h.ctx, pingPeriod)
			ch := ping.Ping(ctx, h.h, id)
			var best time.Duration
		round:
			for range pingsPerRound {
				select {
				case r, ok := <-ch:
					if !ok || r.Error != nil {
						break round
					}
					if best == 0 || r.RTT < best {
						best = r.RTT
					}
				case <-ctx.Done():
					break round
				}
			}
			cancel()
			if best > 0 {
				h.mu.Lock()
				h.rtts[id] = best
				h.mu.Unlock()
			}
		}
	}
}

// PeerInfo describes a connected peer.
type PeerInfo struct {
	ID     string
	Addrs  []string
	Score  float64 // gossipsub score, refreshed every heartbeat
	Status *Status // last known status, nil before the first exchange
	// Latency is the least of the last round of libp2p pings (on one
	// stream, so not counting its opening), 0 before the first.
	Latency time.Duration
}

// Peers lists the connected peers, sorted by id.
func (h *Host) Peers() []PeerInfo {
	ids := h.h.Network().Peers()
	out := make([]PeerInfo, 0, len(ids))
	for _, id := range ids {
		pi := PeerInfo{ID: id.String()}
		for _, c := range h.h.Network().ConnsToPeer(id) {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr().String())
		}
		out = append(out, pi)
	}
	h.mu.Lock()
	for i, id := range ids {
		out[i].Score, out[i].Latency = h.scores[id], h.rtts[id]
		if st, ok := h.statuses[id]; ok {
			st := st
			out[i].Status = &st
		}
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
