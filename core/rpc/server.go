package rpc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trellis-chain/trellis/internal/defaults"
	"github.com/trellis-chain/trellis/protocol/tx"

	"github.com/hashicorp/go-hclog"
)

// Defaults for Options.
const (
	// DefaultMaxBodyBytes fits the largest transaction (a proof) in hex
	// inside a JSON-RPC request.
	DefaultMaxBodyBytes     = 2*tx.MaxEncodedSize + 64<<10
	DefaultMaxBatch         = 100
	DefaultMaxSubscriptions = 64
	DefaultMaxConnections   = 256
	DefaultCallTimeout      = 30 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	// WebSocketPath is where the server upgrades to WebSocket; every other
	// path under the handler takes JSON-RPC over HTTP POST.
	WebSocketPath = "/ws"
	// wsQueue is how many outgoing messages a WebSocket connection buffers.
	wsQueue = 256
)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	// MaxBodyBytes bounds an HTTP request body and a WebSocket message.
	MaxBodyBytes int64
	// MaxBatch bounds the calls in one batch.
	MaxBatch int
	// MaxSubscriptions bounds the subscriptions of one WebSocket connection.
	MaxSubscriptions int
	// MaxConnections bounds the open WebSocket connections; each holds
	// one backend event stream while it has subscriptions. More are
	// refused at the upgrade with HTTP 503.
	MaxConnections int
	// CallTimeout bounds one call's work in the backend.
	CallTimeout time.Duration
	// WriteTimeout bounds one WebSocket write; a client that reads nothing
	// for this long is disconnected.
	WriteTimeout time.Duration
	// OriginPatterns lists the browser origins (host patterns as in
	// path.Match) allowed to open a WebSocket besides the node's own host.
	OriginPatterns []string
	// Admin serves the admin_* methods (peer blocking, for testnets). Off,
	// they answer CodeMethodNotFound. Never enable it on a public address.
	Admin bool
	// AdminToken, when set, is what admin_* callers must present: HTTP
	// requests and WebSocket upgrades carry `Authorization: Bearer
	// <token>`. Without it any caller that reaches the listener may call
	// them.
	AdminToken string
	Logger     hclog.Logger
}

func (o Options) withDefaults() Options {
	defaults.Positive(&o.MaxBodyBytes, DefaultMaxBodyBytes)
	defaults.Positive(&o.MaxBatch, DefaultMaxBatch)
	defaults.Positive(&o.MaxSubscriptions, DefaultMaxSubscriptions)
	defaults.Positive(&o.MaxConnections, DefaultMaxConnections)
	defaults.Positive(&o.CallTimeout, DefaultCallTimeout)
	defaults.Positive(&o.WriteTimeout, DefaultWriteTimeout)
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}

// Server serves the API over HTTP and WebSocket; it is an http.Handler.
type Server struct {
	b     Backend
	opts  Options
	log   hclog.Logger
	queue int // outgoing messages a WebSocket connection buffers

	mu       sync.Mutex
	sessions map[*wsSession]struct{}
	closed   bool
}

// NewServer returns a server answering from b.
func NewServer(b Backend, opts Options) *Server {
	opts = opts.withDefaults()
	return &Server{b: b, opts: opts, log: opts.Logger, queue: wsQueue, sessions: map[*wsSession]struct{}{}}
}

// ServeHTTP answers JSON-RPC POSTs and upgrades WebSocketPath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.AdminToken != "" && bearerIs(r, s.opts.AdminToken) {
		r = r.WithContext(context.WithValue(r.Context(), adminKey{}, true))
	}
	if r.URL.Path == WebSocketPath || r.URL.Path == WebSocketPath+"/" {
		s.serveWS(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeHTTP(w, http.StatusMethodNotAllowed, errorResponse(nil, &Error{Code: CodeInvalidRequest,
			Message: fmt.Sprintf("HTTP %s: send JSON-RPC 2.0 with POST, or open a WebSocket at %s", r.Method, WebSocketPath)}))
		return
	}
	tooLarge := func() {
		writeHTTP(w, http.StatusRequestEntityTooLarge, errorResponse(nil, &Error{Code: CodeInvalidRequest,
			Message: fmt.Sprintf("request body exceeds the limit of %d bytes", s.opts.MaxBodyBytes)}))
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		w.Header().Set("Connection", "close")
		tooLarge()
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.CallTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			tooLarge()
			return
		}
		writeHTTP(w, http.StatusBadRequest, errorResponse(nil, &Error{Code: CodeParseError, Message: "reading request body: " + err.Error()}))
		return
	}
	out := s.handle(r.Context(), body, nil)
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeHTTP(w, http.StatusOK, out)
}

func writeHTTP(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// call is one request's context: the WebSocket session it came on (nil over
// HTTP) and work to run once its response is queued.
type call struct {
	ws    *wsSession
	after []func()
}

// handle answers one HTTP body or WebSocket message: a request or a batch.
// It returns nil when nothing is to be sent (only notifications).
func (s *Server) handle(ctx context.Context, body []byte, c *call) []byte {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return errorResponse(nil, &Error{Code: CodeParseError, Message: "empty request"})
	}
	if !json.Valid(body) {
		return errorResponse(nil, &Error{Code: CodeParseError, Message: "request is not valid JSON"})
	}
	if body[0] != '[' {
		return s.handleOne(ctx, body, c)
	}
	var batch []json.RawMessage
	if err := json.Unmarshal(body, &batch); err != nil {
		return errorResponse(nil, &Error{Code: CodeParseError, Message: "batch: " + err.Error()})
	}
	switch {
	case len(batch) == 0:
		return errorResponse(nil, &Error{Code: CodeInvalidRequest, Message: "empty batch"})
	case len(batch) > s.opts.MaxBatch:
		return errorResponse(nil, &Error{Code: CodeInvalidRequest,
			Message: fmt.Sprintf("batch of %d calls exceeds the limit of %d", len(batch), s.opts.MaxBatch)})
	}
	ctx = s.presubmit(ctx, batch)
	var out bytes.Buffer
	out.WriteByte('[')
	n := 0
	for _, raw := range batch {
		r := s.handleOne(ctx, raw, c)
		if r == nil {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		out.Write(r)
		n++
	}
	if n == 0 {
		return nil
	}
	out.WriteByte(']')
	return out.Bytes()
}

// handleOne answers one request object; nil for a notification.
func (s *Server) handleOne(ctx context.Context, raw json.RawMessage, c *call) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return errorResponse(nil, &Error{Code: CodeInvalidRequest, Message: "a request must be a JSON object"})
	}
	id, hasID := m["id"]
	if hasID && !validID(id) {
		return errorResponse(nil, &Error{Code: CodeInvalidRequest, Message: "id must be a string, a number or null"})
	}
	reply := func(result json.RawMessage, e *Error) []byte {
		if !hasID {
			return nil
		}
		if e != nil {
			return errorResponse(id, e)
		}
		return resultResponse(id, result)
	}
	var version string
	if v, ok := m["jsonrpc"]; !ok || json.Unmarshal(v, &version) != nil || version != "2.0" {
		return reply(nil, &Error{Code: CodeInvalidRequest, Message: `"jsonrpc" must be "2.0"`})
	}
	var name string
	if v, ok := m["method"]; !ok || json.Unmarshal(v, &name) != nil {
		return reply(nil, &Error{Code: CodeInvalidRequest, Message: `"method" must be a string`})
	}
	var p params
	if v, ok := m["params"]; ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		if err := json.Unmarshal(v, &p); err != nil {
			return reply(nil, &Error{Code: CodeInvalidParams, Message: "invalid params: params must be an array (by position)"})
		}
	}
	meth, ok := methods[name]
	if !ok {
		return reply(nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("method %q not found", name)})
	}
	if meth.admin && !s.opts.Admin {
		return reply(nil, &Error{Code: CodeMethodNotFound,
			Message: fmt.Sprintf("method %q is disabled: admin methods need rpc { admin = true } in the node's config", name)})
	}
	if meth.admin && s.opts.AdminToken != "" && ctx.Value(adminKey{}) == nil {
		return reply(nil, &Error{Code: CodeUnauthorized,
			Message: fmt.Sprintf("method %q needs the node's admin token: send the header Authorization: Bearer <token> (the node writes it to <data_dir>/%s)", name, AdminTokenFile)})
	}
	if meth.wsOnly && (c == nil || c.ws == nil) {
		return reply(nil, &Error{Code: CodeMethodNotFound,
			Message: fmt.Sprintf("method %q needs a WebSocket connection: connect to %s", name, WebSocketPath)})
	}
	result, err := s.invoke(ctx, name, meth, p, c)
	if err != nil {
		e := toError(err)
		if e.Code == CodeInternal {
			s.log.Warn("rpc call failed", "method", name, "error", err)
		}
		return reply(nil, e)
	}
	b, err := json.Marshal(result)
	if err != nil {
		s.log.Error("rpc result not encodable", "method", name, "error", err)
		return reply(nil, &Error{Code: CodeInternal, Message: "internal error: result not encodable"})
	}
	return reply(b, nil)
}

// invoke runs a method, turning a panic into an internal error.
func (s *Server) invoke(ctx context.Context, name string, m method, p params, c *call) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("rpc method panicked", "method", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			result, err = nil, &Error{Code: CodeInternal, Message: "internal error"}
		}
	}()
	if err := p.check(m.params, m.required); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	return m.fn(ctx, s, p, c)
}

func validID(id json.RawMessage) bool {
	id = bytes.TrimSpace(id)
	if len(id) == 0 {
		return false
	}
	switch id[0] {
	case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

type wireResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

var nullID = json.RawMessage("null")

func resultResponse(id, result json.RawMessage) []byte {
	b, _ := json.Marshal(wireResponse{JSONRPC: "2.0", ID: id, Result: result}) // cannot fail: both are valid JSON
	return b
}

func errorResponse(id json.RawMessage, e *Error) []byte {
	if id == nil {
		id = nullID
	}
	b, _ := json.Marshal(wireResponse{JSONRPC: "2.0", ID: id, Error: e}) // cannot fail
	return b
}

// Serve serves on ln until ctx ends, then shuts down: it closes every
// WebSocket connection and waits up to 5 s for HTTP calls in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("rpc: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	// The serve loop ends with http.ErrServerClosed after Shutdown; anything
	// else went wrong on the way down.
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("rpc: serving on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Start listens on listenAddr ("127.0.0.1:0" picks a free port) and serves
// in the background until ctx ends. It returns the bound address, and a
// channel that yields Serve's result once the server has stopped.
func (s *Server) Start(ctx context.Context, listenAddr string) (net.Addr, <-chan error, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("rpc: listen on %s: %w", listenAddr, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return ln.Addr(), done, nil
}

// Close ends every WebSocket session and refuses new ones; HTTP calls are
// still answered. Serve calls it when its context ends.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	sessions := s.sessions
	s.sessions = map[*wsSession]struct{}{}
	s.mu.Unlock()
	for ws := range sessions {
		ws.close()
	}
}

// AdminTokenFile is the file in the node's data directory that holds the
// admin token when rpc.admin is on.
const AdminTokenFile = "admin_token"

// adminKey marks a request context that presented the admin token.
type adminKey struct{}

// bearerIs reports whether r carries `Authorization: Bearer <token>`,
// compared in constant time.
func bearerIs(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
