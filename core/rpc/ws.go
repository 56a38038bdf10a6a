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
	subs   map[string]context.CancelFunc
	nextID uint64
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.opts.OriginPatterns})
	if err != nil {
		s.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "error", err)
		return // Accept wrote the HTTP error
	}
	conn.SetReadLimit(s.opts.MaxBodyBytes)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	ws := &wsSession{s: s, conn: conn, ctx: ctx, cancel: cancel, out: make(chan []byte, s.queue), subs: map[string]context.CancelFunc{}}
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
	ws.nextID++
	id := "0x" + strconv.FormatUint(ws.nextID, 16)
	ctx, cancel := context.WithCancel(ws.ctx)
	ws.subs[id] = cancel
	ws.mu.Unlock()
	events, err := s.b.Subscribe(ctx)
	if err != nil {
		ws.dropSub(id)
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	ready := make(chan struct{})
	c.after = append(c.after, func() { close(ready) })
	go ws.forward(ctx, id, kind, h, events, ready)
	return id, nil
}

func wsUnsubscribe(_ context.Context, _ *Server, p params, c *call) (any, error) {
	id, err := p.string(0, "subscription id")
	if err != nil {
		return nil, err
	}
	return c.ws.dropSub(id), nil
}

func (ws *wsSession) dropSub(id string) bool {
	ws.mu.Lock()
	cancel, ok := ws.subs[id]
	delete(ws.subs, id)
	ws.mu.Unlock()
	if ok {
		cancel()
	}
	return ok
}

// forward turns backend events into notifications until ctx ends.
func (ws *wsSession) forward(ctx context.Context, id, kind string, h tx.Hash, events <-chan Event, ready <-chan struct{}) {
	defer ws.dropSub(id)
	select {
	case <-ready:
	case <-ctx.Done():
		return
	}
	var missed uint64
	send := func(result any) {
		b, err := json.Marshal(wsNotification{JSONRPC: "2.0", Method: "trellis_subscription",
			Params: notifyParams{Subscription: id, Result: result, Missed: missed}})
		if err != nil {
			ws.s.log.Error("notification not encodable", "subscription", id, "error", err)
			missed++
			return
		}
		select {
		case ws.out <- b:
			missed = 0
		default:
			missed++
		}
	}
	if kind == SubTxStatus {
		// The transaction may have moved before the subscription existed:
		// send where it stands now.
		qctx, cancel := context.WithTimeout(ctx, ws.s.opts.CallTimeout)
		r, err := ws.s.b.Tx(qctx, h)
		cancel()
		if err == nil && r != nil {
			send(newTxStatusUpdate(&TxEvent{Hash: h, Status: r.Status, Height: r.Height, BlockHash: r.BlockHash}))
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() == nil {
					ws.s.log.Warn("backend ended an event stream; subscription closed", "subscription", id)
				}
				return
			}
			missed += ev.Missed
			switch {
			case kind == SubNewHeads && ev.Kind == EventNewHead && ev.Block != nil && ev.Block.Block != nil:
				send(NewBlock(ev.Block, false))
			case kind == SubFinalizedHeads && ev.Kind == EventFinalized && ev.Block != nil && ev.Block.Block != nil:
				send(NewBlock(ev.Block, false))
			case kind == SubTxStatus && ev.Kind == EventTxStatus && ev.Tx != nil && ev.Tx.Hash == h:
				send(newTxStatusUpdate(ev.Tx))
			}
		}
	}
}
