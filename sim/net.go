package sim

import (
	"context"
	"crypto/sha256"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Link is the modelled network between any two nodes: one-way delay with
// uniform jitter, the fraction of packets lost, and each node's uplink
// bandwidth, which serialises what it sends. Nodes talk over a reliable
// transport (QUIC), so a lost packet is not a lost message: it is resent
// after the loss is detected, which the model counts as two round trips
// more for the message (a message of k packets is hit with probability
// 1−(1−loss)^k, and again for the resend).
type Link struct {
	Delay, Jitter time.Duration
	Loss          float64
	// UplinkBps is a node's upload rate in bytes per second; 0: unlimited.
	UplinkBps float64
}

// DefaultLink is a LAN-like network of 1 Gbit/s uplinks and 0.5 ms delay.
var DefaultLink = Link{Delay: 500 * time.Microsecond, UplinkBps: 125e6}

// netClient is one node's network service. Gossip is modelled as one hop
// to every other node (a full mesh): the bytes a node sends for one
// publish are n−1 copies, where gossipsub sends about D (its mesh degree)
// and relays others'. docs/trials.md says what that changes.
type netClient struct {
	hostv1.NetworkClient
	n *node
}

func (c *netClient) Publish(_ context.Context, r *hostv1.PublishRequest, _ ...grpc.CallOption) (*hostv1.PublishResponse, error) {
	s := c.n.s
	m := s.message(c.n, r.GetTopic(), r.GetData())
	c.n.published++
	for _, to := range s.nodes {
		if to != c.n {
			s.send(c.n, to, m)
		}
	}
	return &hostv1.PublishResponse{}, nil
}

func (c *netClient) Send(_ context.Context, r *hostv1.SendRequest, _ ...grpc.CallOption) (*hostv1.SendResponse, error) {
	s := c.n.s
	to, ok := s.byPeer[r.GetPeer()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no peer %q", r.GetPeer())
	}
	c.n.published++
	s.send(c.n, to, s.message(c.n, r.GetTopic(), r.GetData()))
	return &hostv1.SendResponse{}, nil
}

func (c *netClient) Report(context.Context, *hostv1.ReportRequest, ...grpc.CallOption) (*hostv1.ReportResponse, error) {
	c.n.s.stats.reports++
	return &hostv1.ReportResponse{}, nil
}

// packetBytes is a QUIC packet's payload, about.
const packetBytes = 1200

// message is what every receiver of one publish gets (engines only read
// it).
func (s *Sim) message(from *node, topic string, data []byte) *hostv1.NetworkMessage {
	id := sha256.Sum256(data)
	return &hostv1.NetworkMessage{Topic: topic, Data: data, From: from.peer, Id: id[:]}
}

// send models one message from a to b: a's uplink serialises it and the
// link delays it (a lost packet, more).
func (s *Sim) send(a, b *node, msg *hostv1.NetworkMessage) {
	w := s.w
	if s.apart(a.i, b.i, w.Now()) {
		s.stats.cut++
		return
	}
	size := len(msg.Data)
	a.sentMsgs++
	a.sentBytes += uint64(size)
	start := max(w.Now(), a.uplinkFree)
	if s.link.UplinkBps > 0 {
		a.uplinkFree = start + time.Duration(float64(size)/s.link.UplinkBps*float64(time.Second))
	} else {
		a.uplinkFree = start
	}
	d := s.link.Delay
	if j := s.link.Jitter; j > 0 {
		d += time.Duration(w.rng.Int64N(int64(2*j)+1)) - j
	}
	if p := s.link.Loss; p > 0 {
		hit := 1 - math.Pow(1-p, float64(size/packetBytes+1))
		for w.rng.Float64() < hit {
			s.stats.lost++
			d += 4 * max(s.link.Delay, 250*time.Microsecond) // two round trips
		}
	}
	w.At(a.uplinkFree+d, func() {
		if !b.up {
			return
		}
		if s.apart(a.i, b.i, w.Now()) { // in flight when the partition began
			s.stats.cut++
			return
		}
		b.recvMsgs++
		b.recvBytes += uint64(size)
		w.Note('m', uint64(a.i), uint64(b.i), msg.Id[:8])
		b.run(s.cost.receive(msg.Topic, len(s.nodes)), func() { b.deliver(msg) })
	})
}
