package p2p

import (
	"sort"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/trellis-chain/trellis/core/metrics"
)

// TopicTraffic counts one topic's traffic since the host started.
//
// SentMsgs counts messages this node originated (each Publish once, each Send
// once). SentBytes counts bytes put on the wire: every per-peer copy of a
// gossip message (its protobuf size, payload plus signature, key and
// headers, whether originated or forwarded) and every direct frame.
// RecvMsgs counts messages from others accepted and delivered (each once).
// RecvBytes counts bytes received on the wire, duplicates included.
// WireSentMsgs and WireRecvMsgs count the per-peer copies behind the bytes.
type TopicTraffic struct {
	SentMsgs, SentBytes, RecvMsgs, RecvBytes uint64
	WireSentMsgs, WireRecvMsgs               uint64
}

// Metric names (labels: topic).
const (
	MetricSentMessages = "trellis_p2p_sent_messages_total"
	MetricSentBytes    = "trellis_p2p_sent_bytes_total"
	MetricRecvMessages = "trellis_p2p_received_messages_total"
	MetricRecvBytes    = "trellis_p2p_received_bytes_total"
	MetricPeers        = "trellis_p2p_peers"
	MetricDropped      = "trellis_p2p_dropped_total" // labels: reason
)

// traffic counts per topic and implements pubsub.RawTracer to see the real
// per-peer sends. Only known topics (joined or published to) are counted, so
// a peer cannot grow the map with made-up topic names.
type traffic struct {
	reg     *metrics.Registry
	mu      sync.Mutex
	topics  map[string]*TopicTraffic
	flushed map[string]TopicTraffic
	mesh    map[string]map[peer.ID]bool // gossipsub mesh peers per topic
	// drops counts gossip lost or refused inside gossipsub, by reason: a
	// full per-peer queue, a throttled peer, a full validation queue.
	drops, droppedFlushed map[string]uint64
}

func newTraffic(reg *metrics.Registry) *traffic {
	return &traffic{reg: reg, topics: map[string]*TopicTraffic{}, flushed: map[string]TopicTraffic{},
		mesh: map[string]map[peer.ID]bool{}, drops: map[string]uint64{}, droppedFlushed: map[string]uint64{}}
}

func (t *traffic) dropped(reason string) {
	t.mu.Lock()
	t.drops[reason]++
	t.mu.Unlock()
}

func (t *traffic) known(topic string) {
	t.mu.Lock()
	if t.topics[topic] == nil {
		t.topics[topic] = &TopicTraffic{}
	}
	t.mu.Unlock()
}

func (t *traffic) add(topic string, f func(*TopicTraffic)) {
	t.mu.Lock()
	if c := t.topics[topic]; c != nil {
		f(c)
	}
	t.mu.Unlock()
}

func (t *traffic) published(topic string) { t.add(topic, func(c *TopicTraffic) { c.SentMsgs++ }) }
func (t *traffic) delivered(topic string) { t.add(topic, func(c *TopicTraffic) { c.RecvMsgs++ }) }

func (t *traffic) directSent(topic string, n int) {
	t.add(topic, func(c *TopicTraffic) { c.SentMsgs++; c.WireSentMsgs++; c.SentBytes += uint64(n) })
}

func (t *traffic) directRecv(topic string, n int, accepted bool) {
	t.add(topic, func(c *TopicTraffic) {
		c.WireRecvMsgs++
		c.RecvBytes += uint64(n)
		if accepted {
			c.RecvMsgs++
		}
	})
}

func (t *traffic) snapshot() map[string]TopicTraffic {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]TopicTraffic, len(t.topics))
	for k, v := range t.topics {
		out[k] = *v
	}
	return out
}

// flush records the counters' growth since the last flush and the peer gauge.
func (t *traffic) flush(peers int) {
	if t.reg == nil {
		return
	}
	now := t.snapshot()
	t.mu.Lock()
	defer t.mu.Unlock()
	for topic, c := range now {
		prev := t.flushed[topic]
		l := map[string]string{"topic": topic}
		rec := func(name string, cur, old uint64, help string) {
			if cur > old {
				_ = t.reg.Record(name, metrics.Counter, float64(cur-old), l, help)
			}
		}
		rec(MetricSentMessages, c.SentMsgs, prev.SentMsgs, "Messages originated by this node, per topic.")
		rec(MetricSentBytes, c.SentBytes, prev.SentBytes, "Bytes sent on the wire per topic, every per-peer copy.")
		rec(MetricRecvMessages, c.RecvMsgs, prev.RecvMsgs, "Messages from peers accepted and delivered, per topic.")
		rec(MetricRecvBytes, c.RecvBytes, prev.RecvBytes, "Bytes received on the wire per topic, duplicates included.")
		t.flushed[topic] = c
	}
	for reason, n := range t.drops {
		if old := t.droppedFlushed[reason]; n > old {
			_ = t.reg.Record(MetricDropped, metrics.Counter, float64(n-old), map[string]string{"reason": reason},
				"Gossip lost or refused inside gossipsub: full peer queues, throttled peers, validation queue overflow, rejected messages.")
			t.droppedFlushed[reason] = n
		}
	}
	if peers >= 0 {
		_ = t.reg.Record(MetricPeers, metrics.Gauge, float64(peers), nil, "Connected peers.")
	}
}

// Traffic returns per-topic counters (see TopicTraffic).
func (h *Host) Traffic() map[string]TopicTraffic { return h.traffic.snapshot() }

// RawTracer: SendRPC and RecvRPC count traffic, the drop hooks count drops;
// the rest are no-ops.
var _ pubsub.RawTracer = (*traffic)(nil)

func (t *traffic) SendRPC(rpc *pubsub.RPC, _ peer.ID) {
	if len(rpc.Publish) == 0 {
		return
	}
	t.mu.Lock()
	for _, m := range rpc.Publish {
		if c := t.topics[m.GetTopic()]; c != nil {
			c.WireSentMsgs++
			c.SentBytes += uint64(m.Size())
		}
	}
	t.mu.Unlock()
}

func (t *traffic) RecvRPC(rpc *pubsub.RPC) {
	if len(rpc.Publish) == 0 {
		return
	}
	t.mu.Lock()
	for _, m := range rpc.Publish {
		if c := t.topics[m.GetTopic()]; c != nil {
			c.WireRecvMsgs++
			c.RecvBytes += uint64(m.Size())
		}
	}
	t.mu.Unlock()
}

func (t *traffic) AddPeer(peer.ID, protocol.ID)     {}
func (t *traffic) Join(string)                      {}
func (t *traffic) ValidateMessage(*pubsub.Message)  {}
func (t *traffic) DeliverMessage(*pubsub.Message)   {}
func (t *traffic) DuplicateMessage(*pubsub.Message) {}

// RejectMessage counts refusals by gossipsub's reason ("validation
// throttled", "validation queue full", "validation failed", ...).
func (t *traffic) RejectMessage(_ *pubsub.Message, reason string) {
	t.dropped("rejected: " + reason)
}
func (t *traffic) ThrottlePeer(peer.ID)                 { t.dropped("peer throttled") }
func (t *traffic) DropRPC(*pubsub.RPC, peer.ID)         { t.dropped("peer queue full") }
func (t *traffic) UndeliverableMessage(*pubsub.Message) { t.dropped("subscriber queue full") }

func (t *traffic) Graft(p peer.ID, topic string) {
	t.mu.Lock()
	if t.topics[topic] != nil {
		if t.mesh[topic] == nil {
			t.mesh[topic] = map[peer.ID]bool{}
		}
		t.mesh[topic][p] = true
	}
	t.mu.Unlock()
}

func (t *traffic) Prune(p peer.ID, topic string) {
	t.mu.Lock()
	delete(t.mesh[topic], p)
	t.mu.Unlock()
}

func (t *traffic) RemovePeer(p peer.ID) {
	t.mu.Lock()
	for _, m := range t.mesh {
		delete(m, p)
	}
	t.mu.Unlock()
}

func (t *traffic) Leave(topic string) {
	t.mu.Lock()
	delete(t.mesh, topic)
	t.mu.Unlock()
}

func (t *traffic) meshPeers(topic string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.mesh[topic]))
	for p := range t.mesh[topic] {
		out = append(out, p.String())
	}
	sort.Strings(out)
	return out
}
