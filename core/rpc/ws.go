package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// Subscription kinds (the first parameter of trellis_subscribe).
const (
	SubNewHeads       = "newHeads"
	SubFinalizedHeads = "finalizedHeads"
	SubTxStatus       = "txStatus"
)

// wsSession is one WebSocket connection. One goroutine reads and answers
// calls in order; one writes everything queued on out. Subscriptions never
// block: when out is full they drop a notification and count it, and the
// next notification that fits carries the count as "missed".
type wsSession struct {
	s      *Server
	conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	out    chan []byte

	mu     sync.Mutex
	subs   map[string]*wsSub
	nextID uint64
	// stream is the connection's one backend event stream, shared by its
	// subscriptions: open while it has any, so a connection costs one
	// backend subscription however many it holds.
	streamStop context.CancelFunc
}

// wsSub is one subscription of a connection.
type wsSub struct {
	id     string
	kind   string
	hash   tx.Hash       // txStatus only
	ready  chan struct{} // closed once the subscribe answer is queued
	missed uint64        // notifications dropped since the last one sent
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	full := len(s.sessions) >= s.opts.MaxConnections
	s.mu.Unlock()
	if full {
		writeHTTP(w, http.StatusServiceUnavailable, errorResponse(nil, &Error{Code: CodeLimitExceeded, Reason: ReasonTooManyConnections,
			Message: fmt.Sprintf("the node serves at most %d WebSocket connections; try again later", s.opts.MaxConnections)}))
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.opts.OriginPatterns})
	if err != nil {
		s.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "error", err)
		return // Accept wrote the HTTP error
	}
	conn.SetReadLimit(s.opts.MaxBodyBytes)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	ws := &wsSession{s: s, conn: conn, ctx: ctx, cancel: cancel, out: make(chan []byte, s.queue), subs: map[string]*wsSub{}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.sessions[ws] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ws)
		s.mu.Unlock()
		ws.close()
	}()
	go ws.writeLoop()
	ws.readLoop()
}

func (ws *wsSession) readLoop() {
	for {
		typ, msg, err := ws.conn.Read(ws.ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != websocket.StatusNormalClosure && st != websocket.StatusGoingAway && ws.ctx.Err() == nil {
				ws.s.log.Debug("websocket read ended", "error", err)
			}
			return
		}
		var resp []byte
		c := &call{ws: ws}
		if typ != websocket.MessageText {
			resp = errorResponse(nil, &Error{Code: CodeParseError, Message: "binary message: send JSON-RPC as text"})
		} else {
			resp = ws.s.handle(ws.ctx, msg, c)
		}
		if resp != nil {
			select {
			case ws.out <- resp:
			case <-ws.ctx.Done():
				return
			}
		}
		for _, f := range c.after {
			f()
		}
	}
}

func (ws *wsSession) writeLoop() {
	defer ws.cancel()
	for {
		select {
		case <-ws.ctx.Done():
			return
		case msg := <-ws.out:
			ctx, cancel := context.WithTimeout(ws.ctx, ws.s.opts.WriteTimeout)
			err := ws.conn.Write(ctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				ws.s.log.Debug("websocket write failed; closing", "error", err)
				_ = ws.conn.Close(websocket.StatusPolicyViolation, "write failed or timed out")
				return
			}
		}
	}
}

// close ends the session and its subscriptions.
func (ws *wsSession) close() {
	ws.cancel()
	_ = ws.conn.Close(websocket.StatusGoingAway, "")
}

type wsNotification struct {
	JSONRPC string       `json:"jsonrpc"`
	Method  string       `json:"method"`
	Params  notifyParams `json:"params"`
}

type notifyParams struct {
	Subscription string `json:"subscription"`
	Result       any    `json:"result"`
	// Missed counts notifications of this subscription that were dropped
	// (slow reader) just before this one; omitted when 0.
	Missed uint64 `json:"missed,omitempty"`
}

// wsSubscribe opens a subscription: the backend's event stream, filtered for
// the kind asked. Forwarding starts only after the response with the id has
// been queued, so a client never sees a notification before its id.
func wsSubscribe(_ context.Context, s *Server, p params, c *call) (any, error) {
	ws := c.ws
	kind, err := p.string(0, "kind")
	if err != nil {
		return nil, err
	}
	var h tx.Hash
	switch kind {
	case SubNewHeads, SubFinalizedHeads:
		if len(p) > 1 {
			return nil, &ParamError{Index: 1, Name: "hash", Err: fmt.Errorf("%s takes no second param", kind)}
		}
	case SubTxStatus:
		if len(p) < 2 {
			return nil, &ParamError{Index: 1, Name: "transaction hash", Err: errors.New("missing: txStatus needs the transaction hash")}
		}
		if h, err = p[1:].txHash(0); err != nil {
			var pe *ParamError
			if errors.As(err, &pe) {
				pe.Index = 1
			}
			return nil, err
		}
	default:
		return nil, &ParamError{Index: 0, Name: "kind", Err: fmt.Errorf("want %q, %q or %q, got %q", SubNewHeads, SubFinalizedHeads, SubTxStatus, kind)}
	}
	ws.mu.Lock()
	if len(ws.subs) >= s.opts.MaxSubscriptions {
		ws.mu.Unlock()
		return nil, &Error{Code: CodeLimitExceeded, Reason: ReasonTooManySubscriptions,
			Message: fmt.Sprintf("this connection already has %d subscriptions, the limit", s.opts.MaxSubscriptions)}
	}
	if ws.streamStop == nil {
		ctx, stop := context.WithCancel(ws.ctx)
		events, err := s.b.Subscribe(ctx)
		if err != nil {
			stop()
			ws.mu.Unlock()
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		ws.streamStop = stop
		go ws.dispatch(ctx, events)
	}
	ws.nextID++
	sub := &wsSub{id: "0x" + strconv.FormatUint(ws.nextID, 16), kind: kind, hash: h, ready: make(chan struct{})}
	ws.subs[sub.id] = sub
	ws.mu.Unlock()
	c.after = append(c.after, func() {
		close(sub.ready)
		if kind == SubTxStatus {
			go ws.currentStatus(sub)
		}
	})
	return sub.id, nil
}

func wsUnsubscribe(_ context.Context, _ *Server, p params, c *call) (any, error) {
	id, err := p.string(0, "subscription id")
	if err != nil {
		return nil, err
	}
	return c.ws.dropSub(id), nil
}

// dropSub ends a subscription; the last one ends the connection's backend
// stream before it returns.
func (ws *wsSession) dropSub(id string) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if _, ok := ws.subs[id]; !ok {
		return false
	}
	delete(ws.subs, id)
	if len(ws.subs) == 0 && ws.streamStop != nil {
		ws.streamStop()
		ws.streamStop = nil
	}
	return true
}

// notify queues one notification of sub; a full queue drops it and counts
// it in the next. ws.mu is held.
func (ws *wsSession) notify(sub *wsSub, result any) {
	b, err := json.Marshal(wsNotification{JSONRPC: "2.0", Method: "trellis_subscription",
		Params: notifyParams{Subscription: sub.id, Result: result, Missed: sub.missed}})
	if err != nil {
		ws.s.log.Error("notification not encodable", "subscription", sub.id, "error", err)
		sub.missed++
		return
	}
	select {
	case ws.out <- b:
		sub.missed = 0
	default:
		sub.missed++
	}
}

// currentStatus sends a txStatus subscription where its transaction stands
// now: it may have moved before the subscription existed.
func (ws *wsSession) currentStatus(sub *wsSub) {
	qctx, cancel := context.WithTimeout(ws.ctx, ws.s.opts.CallTimeout)
	r, err := ws.s.b.Tx(qctx, sub.hash)
	cancel()
	if err != nil || r == nil {
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.subs[sub.id] == sub {
		ws.notify(sub, newTxStatusUpdate(&TxEvent{Hash: sub.hash, Status: r.Status, Height: r.Height, BlockHash: r.BlockHash}))
	}
}

// dispatch turns the connection's backend events into notifications of
// every subscription they match, until the stream ends.
func (ws *wsSession) dispatch(ctx context.Context, events <-chan Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() == nil {
					ws.s.log.Warn("backend ended an event stream; closing the connection's subscriptions")
					ws.mu.Lock()
					for id := range ws.subs {
						delete(ws.subs, id)
					}
					ws.streamStop = nil
					ws.mu.Unlock()
				}
				return
			}
			// The kind of subscription this event is for; its result is
			// built once, for the first subscription it matches.
			var kind string
			var result any
			switch {
			case ev.Kind == EventNewHead && ev.Block != nil && ev.Block.Block != nil:
				kind = SubNewHeads
			case ev.Kind == EventFinalized && ev.Block != nil && ev.Block.Block != nil:
				kind = SubFinalizedHeads
			case ev.Kind == EventTxStatus && ev.Tx != nil:
				kind = SubTxStatus
			}
			ws.mu.Lock()
			for _, sub := range ws.subs {
				select {
				case <-sub.ready:
				default:
					continue // its subscribe answer is not queued yet
				}
				sub.missed += ev.Missed
				if sub.kind != kind || (kind == SubTxStatus && ev.Tx.Hash != sub.hash) {
					continue
				}
				if result == nil {
					if kind == SubTxStatus {
						result = newTxStatusUpdate(ev.Tx)
					} else {
						b := NewBlock(ev.Block, false)
						if kind == SubNewHeads {
							b.Reverted = ev.Reverted
						}
						result = b
					}
				}
				ws.notify(sub, result)
			}
			ws.mu.Unlock()
		}
	}
}
