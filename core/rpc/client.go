package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Client errors.
var (
	// ErrNotIncluded: the transaction is known but has no receipt yet.
	ErrNotIncluded = errors.New("transaction not in a block yet")
	// ErrClosed: the client or its WebSocket connection is closed.
	ErrClosed = errors.New("rpc client closed")
)

// Client limits.
const (
	// MaxResponseBytes bounds one response the client reads (a block with
	// every transaction in full is the largest).
	MaxResponseBytes = 256 << 20
	// SubscriptionBuffer is how many notifications a subscription holds for
	// a slow reader before it drops and counts them in Missed.
	SubscriptionBuffer = 128
	dialTimeout        = 10 * time.Second
)

// Client talks to a node's JSON-RPC API over HTTP(S) or WebSocket. It is
// safe for concurrent use. An HTTP client opens a WebSocket connection to
// the same host's /ws path the first time it subscribes.
type Client struct {
	httpURL string // "" for a ws:// client
	wsURL   string
	hc      *http.Client
	nextID  atomic.Uint64

	mu         sync.Mutex
	ws         *wsConn
	closed     bool
	adminToken string
}

// SetAdminToken makes the client present the node's admin token
// (Options.AdminToken) on HTTP calls and on the WebSocket connection an
// http:// client opens later, so admin_* methods are served. Set it before
// the first call.
func (c *Client) SetAdminToken(token string) {
	c.mu.Lock()
	c.adminToken = token
	c.mu.Unlock()
}

func (c *Client) authHeader() http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.adminToken == "" {
		return nil
	}
	return http.Header{"Authorization": []string{"Bearer " + c.adminToken}}
}

// Dial returns a client for an http://, https://, ws:// or wss:// URL. A
// WebSocket URL is connected at once (within 10 s); an HTTP one is not.
// A URL without a scheme ("127.0.0.1:8545") is taken as http://.
func Dial(rawURL string) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	return DialContext(ctx, rawURL)
}

// DialContext is Dial with a context for the WebSocket handshake.
func DialContext(ctx context.Context, rawURL string) (*Client, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL // "127.0.0.1:8545" is what people type
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rpc: node URL %q: %w (want http://host:port)", rawURL, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("rpc: node URL %q has no host (want http://host:port)", rawURL)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // keep connections of concurrent callers alive
	c := &Client{hc: &http.Client{Transport: tr}}
	switch u.Scheme {
	case "http", "https":
		c.httpURL = u.String()
		w := *u
		w.Scheme = "ws" + strings.TrimPrefix(u.Scheme, "http")
		w.Path = strings.TrimSuffix(w.Path, "/") + "/ws"
		c.wsURL = w.String()
		return c, nil
	case "ws", "wss":
		c.wsURL = u.String()
		ws, err := dialWS(ctx, c.wsURL, nil)
		if err != nil {
			return nil, err
		}
		c.ws = ws
		return c, nil
	}
	return nil, fmt.Errorf("rpc: dial %q: scheme %q, want http, https, ws or wss", rawURL, u.Scheme)
}

// Close closes the WebSocket connection, if any, ending every subscription.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.ws != nil {
		c.ws.close(ErrClosed)
	}
	return nil
}

func (c *Client) wsConn(ctx context.Context) (*wsConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.ws != nil {
		select {
		case <-c.ws.done:
			if c.httpURL == "" {
				return nil, c.ws.err
			}
			c.ws = nil // an HTTP client reconnects its subscription socket
		default:
			return c.ws, nil
		}
	}
	var header http.Header // c.mu is held: read the token directly
	if c.adminToken != "" {
		header = http.Header{"Authorization": []string{"Bearer " + c.adminToken}}
	}
	ws, err := dialWS(ctx, c.wsURL, header)
	if err != nil {
		return nil, err
	}
	c.ws = ws
	return ws, nil
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type response struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	// notifications
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// Call invokes method with params and decodes its result into result (a
// pointer, or nil to discard). A server error is returned as *Error.
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	req := request{JSONRPC: "2.0", ID: c.nextID.Add(1), Method: method, Params: params}
	var resp *response
	var err error
	if c.httpURL != "" && !wsOnly(method) {
		resp, err = c.callHTTP(ctx, &req)
	} else {
		var ws *wsConn
		if ws, err = c.wsConn(ctx); err == nil {
			resp, err = ws.call(ctx, &req, nil)
		}
	}
	if err != nil {
		return err
	}
	return decodeResult(method, resp, result)
}

// wsOnly reports methods that need a WebSocket; an HTTP client sends them
// on its subscription socket.
func wsOnly(method string) bool {
	return method == "trellis_subscribe" || method == "trellis_unsubscribe"
}

func decodeResult(method string, resp *response, result any) error {
	if resp.Error != nil {
		return resp.Error
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Result, result); err != nil {
		return fmt.Errorf("rpc: %s: decoding result: %w", method, err)
	}
	return nil
}

func (c *Client) callHTTP(ctx context.Context, req *request) (*response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("rpc: %s: encoding params: %w", req.Method, err)
	}
	b, status, err := c.post(ctx, req.Method, body)
	if err != nil {
		return nil, err
	}
	var resp response
	if err := json.Unmarshal(b, &resp); err != nil || (resp.Error == nil && resp.Result == nil) {
		return nil, fmt.Errorf("rpc: %s: HTTP %s: not a JSON-RPC response: %.200q", req.Method, status, b)
	}
	return &resp, nil
}

// ChainID returns the node's chain id.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	var s string
	err := c.Call(ctx, "trellis_chainId", &s)
	return s, err
}

// SendRawTransaction submits an encoded, signed transaction and returns its
// hash. A rejection is an *Error with Code CodeTxRejected and a Reason.
func (c *Client) SendRawTransaction(ctx context.Context, raw []byte) (tx.Hash, error) {
	var h tx.Hash
	err := c.Call(ctx, "trellis_sendRawTransaction", &h, Bytes(raw))
	return h, err
}

// SendTransaction submits a signed transaction.
func (c *Client) SendTransaction(ctx context.Context, t *tx.Tx) (tx.Hash, error) {
	return c.SendRawTransaction(ctx, t.Encode())
}

// Transaction returns a transaction and its status; errors.Is(err,
// ErrNotFound) if the node does not know it.
func (c *Client) Transaction(ctx context.Context, h tx.Hash) (*Transaction, error) {
	var t *Transaction
	if err := c.Call(ctx, "trellis_getTransaction", &t, h); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("rpc: transaction %s: %w", h, ErrNotFound)
	}
	return t, nil
}

// Receipt returns a transaction's receipt: ErrNotIncluded while it is known
// but not in a block, ErrNotFound if the node does not know it.
func (c *Client) Receipt(ctx context.Context, h tx.Hash) (*Receipt, error) {
	var r *Receipt
	if err := c.Call(ctx, "trellis_getReceipt", &r, h); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("rpc: receipt of %s: %w", h, ErrNotIncluded)
	}
	return r, nil
}

// Account returns an account at the head (Exists false if it has none).
func (c *Client) Account(ctx context.Context, addr account.Address) (*Account, error) {
	var a *Account
	if err := c.Call(ctx, "trellis_getAccount", &a, addr); err != nil {
		return nil, err
	}
	if a == nil {
		return nil, fmt.Errorf("rpc: account %s: null result", addr)
	}
	return a, nil
}

// Balance returns an account's spendable balance at the head.
func (c *Client) Balance(ctx context.Context, addr account.Address) (uint64, error) {
	var s uint64String
	err := c.Call(ctx, "trellis_getBalance", &s, addr)
	return uint64(s), err
}

// BlockByNumber returns the canonical block at height; full adds the
// transactions and receipts.
func (c *Client) BlockByNumber(ctx context.Context, height uint64, full bool) (*Block, error) {
	return c.block(ctx, "trellis_getBlockByNumber", height, full)
}

// BlockByTag returns the head (TagHead) or the last final block (TagFinalized).
func (c *Client) BlockByTag(ctx context.Context, tag string, full bool) (*Block, error) {
	return c.block(ctx, "trellis_getBlockByNumber", tag, full)
}

// BlockByHash returns a block of the block tree by hash.
func (c *Client) BlockByHash(ctx context.Context, h block.Hash, full bool) (*Block, error) {
	return c.block(ctx, "trellis_getBlockByHash", h, full)
}

func (c *Client) block(ctx context.Context, method string, ref any, full bool) (*Block, error) {
	var b *Block
	if err := c.Call(ctx, method, &b, ref, full); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("rpc: block %v: %w", ref, ErrNotFound)
	}
	return b, nil
}

// Head returns the canonical head (without transactions).
func (c *Client) Head(ctx context.Context) (*Block, error) {
	var b *Block
	if err := c.Call(ctx, "trellis_head", &b); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("rpc: head: %w", ErrNotFound)
	}
	return b, nil
}

// Finality returns how settled the block with hash h is.
func (c *Client) Finality(ctx context.Context, h block.Hash) (*BlockFinality, error) {
	return c.finality(ctx, h)
}

// FinalityAt returns how settled the canonical block at height is.
func (c *Client) FinalityAt(ctx context.Context, height uint64) (*BlockFinality, error) {
	return c.finality(ctx, height)
}

func (c *Client) finality(ctx context.Context, ref any) (*BlockFinality, error) {
	var f *BlockFinality
	if err := c.Call(ctx, "trellis_getFinality", &f, ref); err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("rpc: finality of %v: %w", ref, ErrNotFound)
	}
	return f, nil
}

// FeeQuote suggests fees per gas for inclusion within withinBlocks blocks;
// 0 lets the node choose (1, the next block).
func (c *Client) FeeQuote(ctx context.Context, withinBlocks uint32) (*FeeQuote, error) {
	var q *FeeQuote
	var err error
	if withinBlocks == 0 {
		err = c.Call(ctx, "trellis_feeQuote", &q)
	} else {
		err = c.Call(ctx, "trellis_feeQuote", &q, withinBlocks)
	}
	if err != nil {
		return nil, err
	}
	if q == nil {
		return nil, errors.New("rpc: fee quote: null result")
	}
	return q, nil
}

// uint64String decodes a decimal string.
type uint64String uint64

func (u *uint64String) UnmarshalJSON(b []byte) error {
	var v struct {
		V uint64 `json:"v,string"`
	}
	if err := json.Unmarshal([]byte(`{"v":`+string(b)+`}`), &v); err != nil {
		return fmt.Errorf("want a decimal string: %w", err)
	}
	*u = uint64String(v.V)
	return nil
}

// Subscription delivers notifications on C until its context ends,
// Unsubscribe is called or the connection is lost; C is closed then, and Err
// says why. A reader that falls SubscriptionBuffer notifications behind
// loses the newest ones; Missed counts them, plus those the server dropped.
type Subscription[T any] struct {
	ID string
	C  <-chan T

	c      chan T
	ws     *wsConn
	missed atomic.Uint64
	mu     sync.Mutex // orders deliver against end, so C is never sent on once closed
	done   chan struct{}
	err    error
}

// Missed returns how many notifications were lost so far.
func (s *Subscription[T]) Missed() uint64 { return s.missed.Load() }

// Err returns why the subscription ended: nil after Unsubscribe or the end
// of its context, the connection's error otherwise. It is nil while C is open.
func (s *Subscription[T]) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Unsubscribe ends the subscription and tells the server.
func (s *Subscription[T]) Unsubscribe(ctx context.Context) error {
	s.ws.dropSub(s.ID)
	s.end(nil)
	var ok bool
	resp, err := s.ws.call(ctx, &request{JSONRPC: "2.0", ID: s.ws.nextID.Add(1), Method: "trellis_unsubscribe", Params: []any{s.ID}}, nil)
	if err != nil {
		return err
	}
	return decodeResult("trellis_unsubscribe", resp, &ok)
}

func (s *Subscription[T]) deliver(raw json.RawMessage, missed uint64) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		s.missed.Add(1 + missed)
		return
	}
	s.missed.Add(missed)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	select {
	case s.c <- v:
	default:
		s.missed.Add(1)
	}
}

func (s *Subscription[T]) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	s.err = err
	close(s.done)
	close(s.c)
}

// sink is what the read loop needs of a Subscription of any type.
type sink interface {
	deliver(raw json.RawMessage, missed uint64)
	end(err error)
}

// SubscribeNewHeads delivers each new canonical head (without transactions).
func (c *Client) SubscribeNewHeads(ctx context.Context) (*Subscription[*Block], error) {
	return subscribe[*Block](ctx, c, "newHeads")
}

// SubscribeFinalized delivers each block as it becomes final.
func (c *Client) SubscribeFinalized(ctx context.Context) (*Subscription[*Block], error) {
	return subscribe[*Block](ctx, c, "finalizedHeads")
}

// SubscribeTxStatus delivers a transaction's status changes; the first
// notification is its current status if the node knows it.
func (c *Client) SubscribeTxStatus(ctx context.Context, h tx.Hash) (*Subscription[*TxStatusUpdate], error) {
	return subscribe[*TxStatusUpdate](ctx, c, "txStatus", h)
}

func subscribe[T any](ctx context.Context, c *Client, params ...any) (*Subscription[T], error) {
	ws, err := c.wsConn(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan T, SubscriptionBuffer)
	s := &Subscription[T]{C: ch, c: ch, ws: ws, done: make(chan struct{})}
	req := &request{JSONRPC: "2.0", ID: ws.nextID.Add(1), Method: "trellis_subscribe", Params: params}
	resp, err := ws.call(ctx, req, s)
	if err != nil {
		return nil, err
	}
	if err := decodeResult("trellis_subscribe", resp, &s.ID); err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Unsubscribe(uctx)
			cancel()
		case <-s.done:
		}
	}()
	return s, nil
}

// wsConn is one WebSocket connection with its pending calls and
// subscriptions; a single goroutine reads it.
type wsConn struct {
	conn   *websocket.Conn
	nextID atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]pendingCall
	subs    map[string]sink
	done    chan struct{}
	err     error
}

type pendingCall struct {
	ch  chan *response
	sub sink // set for trellis_subscribe: registered by the read loop
}

func dialWS(ctx context.Context, u string, header http.Header) (*wsConn, error) {
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, fmt.Errorf("rpc: dial %s: %w", u, err)
	}
	conn.SetReadLimit(MaxResponseBytes)
	w := &wsConn{conn: conn, pending: map[uint64]pendingCall{}, subs: map[string]sink{}, done: make(chan struct{})}
	w.nextID.Store(1 << 32) // distinct from the Client's HTTP ids in logs
	go w.readLoop()
	return w, nil
}

func (w *wsConn) call(ctx context.Context, req *request, sub sink) (*response, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("rpc: %s: encoding params: %w", req.Method, err)
	}
	ch := make(chan *response, 1)
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return nil, w.err
	}
	w.pending[req.ID] = pendingCall{ch: ch, sub: sub}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.pending, req.ID)
		w.mu.Unlock()
	}()
	if err := w.conn.Write(ctx, websocket.MessageText, b); err != nil {
		w.close(fmt.Errorf("rpc: websocket write: %w", err))
		return nil, fmt.Errorf("rpc: %s: %w", req.Method, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("rpc: %s: %w", req.Method, ctx.Err())
	case <-w.done:
		return nil, fmt.Errorf("rpc: %s: %w", req.Method, w.err)
	}
}

type notification struct {
	Subscription string          `json:"subscription"`
	Result       json.RawMessage `json:"result"`
	Missed       uint64          `json:"missed"`
}

func (w *wsConn) readLoop() {
	for {
		_, b, err := w.conn.Read(context.Background())
		if err != nil {
			w.close(fmt.Errorf("rpc: websocket connection lost: %w", err))
			return
		}
		var r response
		if json.Unmarshal(b, &r) != nil {
			continue // not ours to answer; the server never sends batches to us
		}
		if r.Method == "trellis_subscription" {
			var n notification
			if json.Unmarshal(r.Params, &n) != nil {
				continue
			}
			w.mu.Lock()
			s := w.subs[n.Subscription]
			w.mu.Unlock()
			if s != nil {
				s.deliver(n.Result, n.Missed)
			}
			continue
		}
		var id uint64
		if json.Unmarshal(r.ID, &id) != nil {
			continue
		}
		w.mu.Lock()
		p, ok := w.pending[id]
		if ok && p.sub != nil && r.Error == nil {
			var sid string
			if json.Unmarshal(r.Result, &sid) == nil {
				w.subs[sid] = p.sub
			}
		}
		w.mu.Unlock()
		if ok {
			p.ch <- &r
		}
	}
}

func (w *wsConn) dropSub(id string) {
	w.mu.Lock()
	delete(w.subs, id)
	w.mu.Unlock()
}

func (w *wsConn) close(err error) {
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return
	}
	w.err = err
	subs := w.subs
	w.subs = map[string]sink{}
	close(w.done)
	w.mu.Unlock()
	_ = w.conn.Close(websocket.StatusNormalClosure, "")
	for _, s := range subs {
		if errors.Is(err, ErrClosed) {
			s.end(nil)
		} else {
			s.end(err)
		}
	}
}

// BatchCall is one call of a batch. After CallBatch, Err holds what went
// wrong with this call (a server *Error, or a decoding error) and Result
// (a pointer, or nil to discard) its decoded result.
type BatchCall struct {
	Method string
	Params []any
	Result any
	Err    error
}

// CallBatch sends calls as one JSON-RPC batch over HTTP (at most the
// server's batch limit, DefaultMaxBatch unless the node changed it). The
// server runs them in order. The returned error is for the batch as a
// whole (transport, a refused batch); each call's own error is in its Err.
func (c *Client) CallBatch(ctx context.Context, calls []BatchCall) error {
	if len(calls) == 0 {
		return nil
	}
	if c.httpURL == "" {
		return errors.New("rpc: batches need an http:// or https:// client")
	}
	reqs := make([]request, len(calls))
	byID := make(map[uint64]int, len(calls))
	for i, bc := range calls {
		if wsOnly(bc.Method) {
			return fmt.Errorf("rpc: %s cannot be batched: it needs a WebSocket", bc.Method)
		}
		p := bc.Params
		if p == nil {
			p = []any{}
		}
		reqs[i] = request{JSONRPC: "2.0", ID: c.nextID.Add(1), Method: bc.Method, Params: p}
		byID[reqs[i].ID] = i
	}
	body, err := json.Marshal(reqs)
	if err != nil {
		return fmt.Errorf("rpc: batch: encoding params: %w", err)
	}
	b, status, err := c.post(ctx, "batch", body)
	if err != nil {
		return err
	}
	var resps []response
	if err := json.Unmarshal(b, &resps); err != nil {
		var one response // a batch refused as a whole answers one error object
		if json.Unmarshal(b, &one) == nil && one.Error != nil {
			return one.Error
		}
		return fmt.Errorf("rpc: batch: HTTP %s: not a JSON-RPC batch response: %.200q", status, b)
	}
	answered := make([]bool, len(calls))
	for k := range resps {
		var id uint64
		if json.Unmarshal(resps[k].ID, &id) != nil {
			continue
		}
		i, ok := byID[id]
		if !ok || answered[i] {
			continue
		}
		answered[i] = true
		calls[i].Err = decodeResult(calls[i].Method, &resps[k], calls[i].Result)
	}
	for i, ok := range answered {
		if !ok {
			calls[i].Err = fmt.Errorf("rpc: %s: no answer in the batch response", calls[i].Method)
		}
	}
	return nil
}

// post sends one JSON body and returns the response body and status.
func (c *Client) post(ctx context.Context, what string, body []byte) ([]byte, string, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.httpURL, bytes.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("rpc: %s: %w", what, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	for k, v := range c.authHeader() {
		hr.Header[k] = v
	}
	res, err := c.hc.Do(hr)
	if err != nil {
		return nil, "", fmt.Errorf("rpc: %s: %w", what, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("rpc: %s: reading response: %w", what, err)
	}
	if len(b) > MaxResponseBytes {
		return nil, "", fmt.Errorf("rpc: %s: response exceeds %d bytes", what, MaxResponseBytes)
	}
	return b, res.Status, nil
}

// NodeInfo returns the node's network view with its head and final
// heights. A node without a peer-to-peer network answers an *Error with
// CodeMethodNotFound.
func (c *Client) NodeInfo(ctx context.Context) (*NodeInfoResult, error) {
	var r *NodeInfoResult
	if err := c.Call(ctx, "trellis_nodeInfo", &r); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("rpc: node info: null result")
	}
	return r, nil
}

// SetBlockedPeers replaces the node's set of blocked peers (admin; an empty
// list unblocks everyone).
func (c *Client) SetBlockedPeers(ctx context.Context, ids []string) error {
	if ids == nil {
		ids = []string{}
	}
	return c.Call(ctx, "admin_setBlockedPeers", nil, ids)
}
