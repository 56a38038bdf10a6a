package hostsvc

import (
	"context"
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

// Network serves publish/subscribe on the node's bus, scoping a plugin's
// topics by chain id and plugin so plugins cannot read or forge each other's
// messages. Send, Report and Peers need peers and arrive with core/p2p.
type Network struct {
	hostv1.UnimplementedNetworkServer
	bus    *Bus
	prefix string
	subs   atomic.Int32
}

// NewNetwork serves bus for one plugin.
func NewNetwork(bus *Bus, chainID, plugin string) *Network {
	return &Network{bus: bus, prefix: "/trellis/" + chainID + "/" + plugin + "/"}
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
	if err := n.bus.Publish(ctx, Message{Topic: t, Data: req.GetData()}); err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.PublishResponse{}, nil
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
