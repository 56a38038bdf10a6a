package p2p

import (
	"context"
	"fmt"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
)

// startDHT runs a Kademlia DHT in server mode whose protocol ids are scoped to
// the chain (/trellis/<chain>/kad/1.0.0), so nodes of other chains never
// share a routing table, and advertises and looks up the rendezvous
// "trellis/<chain>".
func (h *Host) startDHT(ctx context.Context, boot []peer.AddrInfo) error {
	kad, err := dht.New(ctx, h.h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(protocol.ID("/trellis/"+h.cfg.ChainID)),
		dht.BootstrapPeers(boot...),
		dht.DisableValues(),
	)
	if err != nil {
		return fmt.Errorf("p2p: start dht: %w", err)
	}
	h.kad = kad
	if err := kad.Bootstrap(ctx); err != nil {
		return fmt.Errorf("p2p: bootstrap dht: %w", err)
	}
	h.wg.Add(1)
	go h.discoveryLoop(drouting.NewRoutingDiscovery(kad))
	return nil
}

// discoveryLoop advertises and looks up the rendezvous: every second while
// nothing works yet, backing off to every 30 s; re-advertising before the
// record's TTL runs out.
func (h *Host) discoveryLoop(disc *drouting.RoutingDiscovery) {
	defer h.wg.Done()
	ns := "trellis/" + h.cfg.ChainID
	var readvertise time.Time
	wait := time.Second
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(wait):
		}
		if time.Now().After(readvertise) {
			ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
			ttl, err := disc.Advertise(ctx, ns)
			cancel()
			if err != nil {
				h.log.Debug("dht advertise failed", "err", err)
			} else {
				readvertise = time.Now().Add(ttl * 7 / 8)
			}
		}
		found := h.findPeers(disc, ns)
		if found == 0 && !readvertise.IsZero() {
			if wait *= 2; wait > 30*time.Second {
				wait = 30 * time.Second
			}
		} else if found > 0 {
			wait = time.Second
		}
	}
}

// findPeers connects to up to MaxPeers rendezvous peers; it returns how many
// new peers it dialled.
func (h *Host) findPeers(disc *drouting.RoutingDiscovery, ns string) int {
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	ch, err := disc.FindPeers(ctx, ns, discovery.Limit(h.cfg.MaxPeers))
	if err != nil {
		h.log.Debug("dht find peers failed", "err", err)
		return 0
	}
	n := 0
	for pi := range ch {
		if pi.ID == h.self || len(pi.Addrs) == 0 || h.isBlocked(pi.ID) ||
			h.h.Network().Connectedness(pi.ID) == network.Connected ||
			len(h.h.Network().Peers()) >= h.cfg.MaxPeers {
			continue
		}
		n++
		h.goDial(pi)
	}
	return n
}
