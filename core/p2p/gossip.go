package p2p

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Verdict is a validator's decision on a message.
type Verdict int

// Verdicts. Reject lowers the sender's gossipsub score (invalid-message
// penalty); Ignore drops the message without penalty.
const (
	Accept Verdict = iota
	Ignore
	Reject
)

// Validator decides on an incoming message. from is the author's peer id
// (the signer for gossip, the sender for direct messages), "" for our own.
type Validator func(ctx context.Context, from string, data []byte) Verdict

// Message is a message delivered to a topic's subscriber.
type Message struct {
	Topic    string
	Data     []byte
	From     string // author peer id; "" for our own messages
	ID       []byte // gossipsub message id; sha256(topic, data) for direct messages
	Received time.Time
	Direct   bool // sent with Send rather than gossiped
}

type topicState struct {
	name     string
	sub      *pubsub.Subscription
	validate Validator
	deliver  func(Message)
	in       chan Message
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
}

func (ts *topicState) shutdown() {
	ts.once.Do(func() {
		ts.cancel()
		ts.sub.Cancel()
	})
	ts.wg.Wait()
}

// handle returns the pubsub topic handle, joining it once. It never holds
// h.mu while calling into pubsub: pubsub's event loop calls appScore.
func (h *Host) handle(topic string) (*pubsub.Topic, error) {
	h.mu.Lock()
	t := h.handles[topic]
	h.mu.Unlock()
	if t != nil {
		return t, nil
	}
	if len(topic) == 0 || len(topic) > MaxTopicLen {
		return nil, fmt.Errorf("%w: topic length %d not in 1..%d", ErrConfig, len(topic), MaxTopicLen)
	}
	h.joinMu.Lock()
	defer h.joinMu.Unlock()
	h.mu.Lock()
	t = h.handles[topic]
	h.mu.Unlock()
	if t != nil {
		return t, nil
	}
	t, err := h.ps.Join(topic)
	if err != nil {
		return nil, fmt.Errorf("p2p: join topic %q: %w", topic, err)
	}
	if err := t.SetScoreParams(topicScoreParams()); err != nil {
		return nil, fmt.Errorf("p2p: topic %q score params: %w", topic, err)
	}
	h.traffic.known(topic)
	h.mu.Lock()
	h.handles[topic] = t
	h.mu.Unlock()
	return t, nil
}

// Join subscribes to a gossip topic (the full name; the caller scopes it).
// validate (nil accepts everything) runs on every incoming message, gossip
// and direct, before deliver; deliver gets every accepted message of the
// topic, including our own published ones (From == "") and direct messages.
// deliver is called from one goroutine per topic, in order, and must not
// block for long: up to QueueSize messages wait, then direct messages are
// dropped and gossipsub drops the oldest.
func (h *Host) Join(topic string, validate Validator, deliver func(Message)) error {
	if h.closed.Load() {
		return ErrClosed
	}
	if deliver == nil {
		return fmt.Errorf("%w: join %q: nil deliver", ErrConfig, topic)
	}
	h.mu.Lock()
	_, joined := h.topics[topic]
	h.mu.Unlock()
	if joined {
		return fmt.Errorf("%w: %q", ErrJoined, topic)
	}
	t, err := h.handle(topic)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(h.ctx)
	ts := &topicState{name: topic, validate: validate, deliver: deliver,
		in: make(chan Message, h.cfg.QueueSize), ctx: ctx, cancel: cancel}
	if err := h.ps.RegisterTopicValidator(topic, h.gossipValidator(ts), pubsub.WithValidatorTimeout(10*time.Second)); err != nil {
		cancel()
		return fmt.Errorf("p2p: topic %q validator: %w", topic, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(h.cfg.QueueSize))
	if err != nil {
		cancel()
		_ = h.ps.UnregisterTopicValidator(topic)
		return fmt.Errorf("p2p: subscribe %q: %w", topic, err)
	}
	ts.sub = sub
	h.mu.Lock()
	if _, dup := h.topics[topic]; dup {
		h.mu.Unlock()
		cancel()
		sub.Cancel()
		return fmt.Errorf("%w: %q", ErrJoined, topic)
	}
	h.topics[topic] = ts
	h.mu.Unlock()
	ts.wg.Add(2)
	go h.pump(ts)
	go func() {
		defer ts.wg.Done()
		for {
			select {
			case <-ts.ctx.Done():
				return
			case m := <-ts.in:
				ts.deliver(m)
			}
		}
	}()
	return nil
}

func (h *Host) author(m *pubsub.Message) string {
	from := m.GetFrom()
	if from == h.self {
		return ""
	}
	return from.String()
}

func (h *Host) gossipValidator(ts *topicState) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	return func(ctx context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if len(m.Data) > MaxMessageSize {
			return pubsub.ValidationReject
		}
		if ts.validate == nil {
			return pubsub.ValidationAccept
		}
		switch ts.validate(ctx, h.author(m), m.Data) {
		case Accept:
			return pubsub.ValidationAccept
		case Ignore:
			return pubsub.ValidationIgnore
		default:
			return pubsub.ValidationReject
		}
	}
}

// pump moves gossip from the subscription to the delivery queue.
func (h *Host) pump(ts *topicState) {
	defer ts.wg.Done()
	for {
		m, err := ts.sub.Next(ts.ctx)
		if err != nil {
			return
		}
		from := h.author(m)
		if from != "" {
			h.traffic.delivered(ts.name)
		}
		msg := Message{Topic: ts.name, Data: m.Data, From: from, ID: []byte(m.ID), Received: time.Now()}
		select {
		case ts.in <- msg:
		case <-ts.ctx.Done():
			return
		}
	}
}

// Leave unsubscribes from a topic; deliver is not called after Leave returns.
func (h *Host) Leave(topic string) {
	h.mu.Lock()
	ts := h.topics[topic]
	delete(h.topics, topic)
	h.mu.Unlock()
	if ts == nil {
		return
	}
	ts.shutdown()
	_ = h.ps.UnregisterTopicValidator(topic)
}

// Publish gossips data on a topic. The topic need not be joined (then the
// message goes to the topic's fanout peers and is not delivered locally).
// The mesh forms on the heartbeat: right after the first Join a message may
// reach nobody; callers that care wait until MeshPeers is not empty.
func (h *Host) Publish(ctx context.Context, topic string, data []byte) error {
	if h.closed.Load() {
		return ErrClosed
	}
	if len(data) > MaxMessageSize {
		return fmt.Errorf("%w: publish %d bytes on %q, limit %d", ErrTooLarge, len(data), topic, MaxMessageSize)
	}
	t, err := h.handle(topic)
	if err != nil {
		return err
	}
	if err := t.Publish(ctx, data); err != nil {
		return fmt.Errorf("p2p: publish on %q: %w", topic, err)
	}
	h.traffic.published(topic)
	return nil
}

// MeshPeers lists the peers in our gossipsub mesh for a joined topic. The
// mesh forms on the heartbeat after Join; a message published before any
// peer is in the mesh may reach nobody, so callers that care (consensus at
// start, tests) wait until MeshPeers is not empty.
func (h *Host) MeshPeers(topic string) []string { return h.traffic.meshPeers(topic) }

// TopicPeers lists the peers known to be subscribed to a topic.
func (h *Host) TopicPeers(topic string) []string {
	h.mu.Lock()
	t := h.handles[topic]
	h.mu.Unlock()
	if t == nil {
		return nil
	}
	var out []string
	for _, p := range t.ListPeers() {
		out = append(out, p.String())
	}
	return out
}

func directID(topic string, data []byte) []byte {
	d := sha256.New()
	d.Write([]byte(topic))
	d.Write([]byte{0})
	d.Write(data)
	return d.Sum(nil)
}
