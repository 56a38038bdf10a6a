package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Network limits.
const (
	MaxTopicLen         = 128
	MaxGossipBytes      = 1 << 20
	MaxSubscriptions    = 64
	networkCapabilities = "host.network.pubsub"
)

var topicRE = regexp.MustCompile(`^[a-zA-Z0-9._/-]+$`)

// Transport carries plugin topics between nodes (core/p2p). Messages from
// peers, and the node's own published ones, arrive on the Bus under the
// full topic name.
type Transport interface {
	// Join starts feeding a topic's messages into the bus; it is idempotent.
	Join(topic string) error
	Publish(ctx context.Context, topic string, data []byte) error
	// Send delivers data to one peer's subscribers of topic.
	Send(ctx context.Context, peer, topic string, data []byte) error
	// Report lowers a peer's score for an invalid message.
	Report(peer, reason string)
	Peers() []*hostv1.Peer
}

// Network serves publish/subscribe, direct messages and peer reports,
// scoping a plugin's topics by chain id and plugin so plugins cannot read or
// forge each other's messages. Without a Transport the node is alone and
// messages stay on its bus.
type Network struct {
	hostv1.UnimplementedNetworkServer
	bus    *Bus
	tr     Transport
	prefix string
	subs   atomic.Int32
}

// MaxReasonLen bounds a report's reason.
const MaxReasonLen = 256

// NewNetwork serves bus, and tr when not nil, for one plugin.
func NewNetwork(bus *Bus, tr Transport, chainID, plugin string) *Network {
	return &Network{bus: bus, tr: tr, prefix: Topic(chainID, plugin, "")}
}

// Topic is the full network name of a plugin's topic.
func Topic(chainID, plugin, topic string) string {
	return "/trellis/" + chainID + "/" + plugin + "/" + topic
}

func (n *Network) topic(t string) (string, error) {
	if t == "" || len(t) > MaxTopicLen || !topicRE.MatchString(t) {
		return "", fmt.Errorf("%w: topic %q (want 1..%d of [a-zA-Z0-9._/-])", errInvalid, t, MaxTopicLen)
	}
	return n.prefix + t, nil
}

func (n *Network) Publish(ctx context.Context, req *hostv1.PublishRequest) (*hostv1.PublishResponse, error) {
	t, err := n.topic(req.GetTopic())
	if err != nil {
		return nil, toStatus(err)
	}
	if len(req.GetData()) > MaxGossipBytes {
		return nil, toStatus(fmt.Errorf("%w: %d bytes, limit %d", errTooLarge, len(req.GetData()), MaxGossipBytes))
	}
	if n.tr != nil {
		err = n.tr.Publish(ctx, t, req.GetData())
	} else {
		err = n.bus.Publish(ctx, Message{Topic: t, Data: req.GetData()})
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.PublishResponse{}, nil
}

func (n *Network) Send(ctx context.Context, req *hostv1.SendRequest) (*hostv1.SendResponse, error) {
	t, err := n.topic(req.GetTopic())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := checkPeer(req.GetPeer()); err != nil {
		return nil, toStatus(err)
	}
	if len(req.GetData()) > MaxGossipBytes {
		return nil, toStatus(fmt.Errorf("%w: %d bytes, limit %d", errTooLarge, len(req.GetData()), MaxGossipBytes))
	}
	if n.tr == nil {
		return nil, toStatus(fmt.Errorf("%w: peer %s", ErrNoPeers, req.GetPeer()))
	}
	if err := n.tr.Send(ctx, req.GetPeer(), t, req.GetData()); err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.SendResponse{}, nil
}

func (n *Network) Report(_ context.Context, req *hostv1.ReportRequest) (*hostv1.ReportResponse, error) {
	if err := checkPeer(req.GetPeer()); err != nil {
		return nil, toStatus(err)
	}
	if len(req.GetReason()) > MaxReasonLen {
		return nil, toStatus(fmt.Errorf("%w: reason of %d bytes, limit %d", errTooLarge, len(req.GetReason()), MaxReasonLen))
	}
	if n.tr != nil {
		n.tr.Report(req.GetPeer(), req.GetReason())
	}
	return &hostv1.ReportResponse{}, nil
}

func (n *Network) Peers(context.Context, *hostv1.PeersRequest) (*hostv1.PeersResponse, error) {
	if n.tr == nil {
		return &hostv1.PeersResponse{}, nil
	}
	return &hostv1.PeersResponse{Peers: n.tr.Peers()}, nil
}

// ErrNoPeers is returned for a direct message on a node without a network.
var ErrNoPeers = errors.New("node has no network")

func checkPeer(p string) error {
	if p == "" || len(p) > 128 {
		return fmt.Errorf("%w: peer id of %d bytes", errInvalid, len(p))
	}
	return nil
}

func (n *Network) Subscribe(req *hostv1.SubscribeRequest, stream hostv1.Network_SubscribeServer) error {
	t, err := n.topic(req.GetTopic())
	if err != nil {
		return toStatus(err)
	}
	if n.subs.Add(1) > MaxSubscriptions {
		n.subs.Add(-1)
		return toStatus(fmt.Errorf("%w: more than %d subscriptions", errTooLarge, MaxSubscriptions))
	}
	defer n.subs.Add(-1)
	sub, err := n.bus.Subscribe(t)
	if err != nil {
		return toStatus(err)
	}
	defer sub.Cancel()
	if n.tr != nil {
		if err := n.tr.Join(t); err != nil {
			return toStatus(err)
		}
	}
	// The header tells the plugin the subscription is live, so it can
	// publish or report readiness without losing the first messages.
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Done():
			return toStatus(ErrBusClosed)
		case m := <-sub.C:
			if err := stream.Send(&hostv1.NetworkMessage{Topic: req.GetTopic(), Data: m.Data, From: m.From, Id: m.ID,
				ReceivedUnixNano: m.Received.UnixNano()}); err != nil {
				return err
			}
		}
	}
}

// PublishLocal publishes as the host into a plugin's topic (tests and the
// node's own producers use it).
func (n *Network) PublishLocal(ctx context.Context, topic string, data []byte) error {
	t, err := n.topic(topic)
	if err != nil {
		return err
	}
	return n.bus.Publish(ctx, Message{Topic: t, Data: data})
}
