package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Stream deadlines.
const (
	streamTimeout   = 10 * time.Second // read a request, or write a direct frame
	responseTimeout = 30 * time.Second // write or read a sync response
)

// Send delivers data straight to one peer on /trellis/<chain>/direct/1. The
// receiver runs the topic's validator and deliver (Direct=true); a topic it
// has not joined drops the message. Send returns once the frame is written;
// it does not wait for the receiver to process it. Sending to our own id
// delivers locally (From == "").
func (h *Host) Send(ctx context.Context, peerID, topic string, data []byte) error {
	if h.closed.Load() {
		return ErrClosed
	}
	p, err := decodePeer(peerID)
	if err != nil {
		return err
	}
	b, err := encodeFrame(frame{Topic: topic, Data: data})
	if err != nil {
		return err
	}
	if p == h.self {
		h.traffic.directSent(topic, 0)
		h.receiveDirect("", frame{Topic: topic, Data: data}, 0)
		return nil
	}
	s, err := h.h.NewStream(ctx, p, h.protoDirect)
	if err != nil {
		return fmt.Errorf("p2p: send to %s: open stream: %w", p, err)
	}
	deadline := time.Now().Add(streamTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.SetWriteDeadline(deadline)
	if _, err := s.Write(b); err != nil {
		_ = s.Reset()
		return fmt.Errorf("p2p: send to %s on %q: %w", p, topic, err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("p2p: send to %s on %q: close: %w", p, topic, err)
	}
	h.traffic.directSent(topic, len(b))
	return nil
}

// readLimited reads a whole stream of at most max bytes.
func readLimited(s io.Reader, max int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(s, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return b, nil
}

func (h *Host) handleDirect(s network.Stream) {
	p := s.Conn().RemotePeer()
	lim := h.limits.get(p)
	if !lim.directMsgs.Allow() {
		_ = s.Reset()
		h.reportThrottled(p, "direct message rate")
		return
	}
	_ = s.SetReadDeadline(time.Now().Add(streamTimeout))
	b, err := readLimited(s, maxFrameBytes)
	if err != nil {
		_ = s.Reset()
		if errors.Is(err, ErrTooLarge) {
			h.reportThrottled(p, "direct frame too large")
		}
		return
	}
	_ = s.Close()
	if !lim.directBytes.AllowN(time.Now(), len(b)) {
		h.reportThrottled(p, "direct byte rate")
		return
	}
	f, err := decodeFrame(b)
	if err != nil {
		h.reportThrottled(p, "malformed direct frame")
		return
	}
	h.receiveDirect(p.String(), f, len(b))
}

// receiveDirect validates a direct message and queues it for delivery.
func (h *Host) receiveDirect(from string, f frame, wire int) {
	h.mu.Lock()
	ts := h.topics[f.Topic]
	h.mu.Unlock()
	if ts == nil {
		return // unknown topic: dropped
	}
	v := Accept
	if ts.validate != nil {
		v = ts.validate(ts.ctx, from, f.Data)
	}
	if from != "" {
		h.traffic.directRecv(f.Topic, wire, v == Accept)
	}
	switch v {
	case Accept:
	case Ignore:
		return
	default:
		if p, err := peer.Decode(from); err == nil {
			h.reportThrottled(p, "invalid direct message on "+f.Topic)
		}
		return
	}
	m := Message{Topic: f.Topic, Data: f.Data, From: from, ID: directID(f.Topic, f.Data), Received: time.Now(), Direct: true}
	select {
	case ts.in <- m:
	default:
		h.log.Debug("direct message dropped: delivery queue full", "topic", f.Topic, "from", from)
	}
}
