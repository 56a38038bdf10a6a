package rpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// netFake adds a peer-to-peer network to fakeBackend.
type netFake struct {
	*fakeBackend
	mu      sync.Mutex
	blocked []string
	setErr  error
}

func (n *netFake) NodeInfo() NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return NodeInfo{PeerID: "12D3KooWSelf", ListenAddrs: []string{"/ip4/127.0.0.1/tcp/26700"}, BlockedPeers: append([]string(nil), n.blocked...)}
}

func (n *netFake) Peers() []PeerInfo {
	return []PeerInfo{{PeerID: "12D3KooWPeer", Addr: "/ip4/127.0.0.1/tcp/26701", Direction: "outbound", Score: 1.5, LatencyMs: 0.25}}
}

func (n *netFake) SetBlockedPeers(ids []string) error {
	for _, id := range ids {
		if !strings.HasPrefix(id, "12D3KooW") {
			return fmt.Errorf("peer %q: %w", id, ErrBadPeerID)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.setErr != nil {
		return n.setErr
	}
	n.blocked = ids
	return nil
}

// ConsensusStatus makes the fake a node with a longest-chain plugin.
func (n *netFake) ConsensusStatus(context.Context) (*ConsensusStatus, error) {
	return &ConsensusStatus{Plugin: "consensus.lc", Height: 2, FinalHeight: 1, ProvenHeight: 1, Step: "slot", Validator: true,
		Details: map[string]string{"k": "30", "kdeep_height": "1", "reorgs": "3", "max_reorg_depth": "2"}}, nil
}

func withNet(nf *netFake) func(*Server) { return func(s *Server) { s.b = nf } }

func TestNodeInfoAndAdmin(t *testing.T) {
	ctx := context.Background()
	nf := &netFake{fakeBackend: newFakeBackend()}
	admin := dial(t, startServer(t, nf.fakeBackend, Options{Admin: true}, withNet(nf)).httpURL())

	info, err := admin.NodeInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := &NodeInfoResult{ChainID: testChain, NodeInfo: NodeInfo{PeerID: "12D3KooWSelf", ListenAddrs: []string{"/ip4/127.0.0.1/tcp/26700"}, BlockedPeers: []string{}},
		Peers: nf.Peers(), HeadHeight: 2, FinalHeight: 1}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("node info %+v, want %+v", info, want)
	}

	if err := admin.SetBlockedPeers(ctx, []string{"12D3KooWa", "12D3KooWb", "12D3KooWa"}); err != nil {
		t.Fatal(err)
	}
	if info, err = admin.NodeInfo(ctx); err != nil || !reflect.DeepEqual(info.BlockedPeers, []string{"12D3KooWa", "12D3KooWb"}) {
		t.Fatalf("blocked after set: %v (%v)", info.BlockedPeers, err)
	}
	if err := admin.SetBlockedPeers(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if info, err = admin.NodeInfo(ctx); err != nil || len(info.BlockedPeers) != 0 {
		t.Fatalf("blocked after heal: %v (%v)", info.BlockedPeers, err)
	}

	tests := []struct {
		name   string
		params []any
		code   int
		msg    string
	}{
		{"not a peer id", []any{[]string{"nope"}}, CodeInvalidParams, "not a peer id"},
		{"empty id", []any{[]string{""}}, CodeInvalidParams, "1 to 128 characters"},
		{"not an array", []any{"12D3KooWa"}, CodeInvalidParams, "want an array of strings"},
		{"missing", nil, CodeInvalidParams, "want 1 param"},
		{"too many", []any{make([]string, MaxBlockedPeers+1)}, CodeInvalidParams, "exceed the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := admin.Call(ctx, "admin_setBlockedPeers", nil, tt.params...)
			var re *Error
			if !errors.As(err, &re) || re.Code != tt.code || !strings.Contains(re.Message, tt.msg) {
				t.Fatalf("error %v, want code %d containing %q", err, tt.code, tt.msg)
			}
		})
	}
	nf.setErr = errors.New("host closed")
	var re *Error
	if err := admin.SetBlockedPeers(ctx, []string{"12D3KooWa"}); !errors.As(err, &re) || re.Code != CodeInternal {
		t.Fatalf("backend failure: %v, want an internal error", err)
	}
}

func TestNetMethodsUnavailable(t *testing.T) {
	ctx := context.Background()
	nf := &netFake{fakeBackend: newFakeBackend()}
	tests := []struct {
		name   string
		c      *Client
		method string
		params []any
		msg    string
	}{
		{"admin off", dial(t, startServer(t, nf.fakeBackend, Options{}, withNet(nf)).httpURL()),
			"admin_setBlockedPeers", []any{[]string{}}, "rpc { admin = true }"},
		{"no network: node info", dial(t, startServer(t, newFakeBackend(), Options{Admin: true}).httpURL()),
			"trellis_nodeInfo", nil, "no peer-to-peer network"},
		{"no network: admin", dial(t, startServer(t, newFakeBackend(), Options{Admin: true}).httpURL()),
			"admin_setBlockedPeers", []any{[]string{}}, "no peer-to-peer network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Call(ctx, tt.method, nil, tt.params...)
			var re *Error
			if !errors.As(err, &re) || re.Code != CodeMethodNotFound || !strings.Contains(re.Message, tt.msg) {
				t.Fatalf("error %v, want method not found containing %q", err, tt.msg)
			}
		})
	}
}

func TestCallBatch(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, newFakeBackend(), Options{MaxBatch: 4})
	c := dial(t, ts.httpURL())
	good := signedTx(testChain, 1, ts.f.pending.Body)
	var id string
	var h1, h2 tx.Hash
	calls := []BatchCall{
		{Method: "trellis_chainId", Result: &id},
		{Method: "trellis_sendRawTransaction", Params: []any{Bytes(good.Encode())}, Result: &h1},
		{Method: "trellis_sendRawTransaction", Params: []any{Bytes{0x01}}, Result: &h2},
		{Method: "trellis_nope"},
	}
	if err := c.CallBatch(ctx, calls); err != nil {
		t.Fatal(err)
	}
	if calls[0].Err != nil || id != testChain {
		t.Errorf("chainId in batch: %q, %v", id, calls[0].Err)
	}
	if calls[1].Err != nil || h1 != good.Hash() {
		t.Errorf("send in batch: %s, %v; want %s", h1, calls[1].Err, good.Hash())
	}
	var re *Error
	if !errors.As(calls[2].Err, &re) || re.Code != CodeTxRejected || re.Reason != ReasonMalformed {
		t.Errorf("malformed tx in batch: %v", calls[2].Err)
	}
	if !errors.As(calls[3].Err, &re) || re.Code != CodeMethodNotFound {
		t.Errorf("unknown method in batch: %v", calls[3].Err)
	}

	// A batch over the server's limit is refused as a whole.
	big := make([]BatchCall, 5)
	for i := range big {
		big[i] = BatchCall{Method: "trellis_chainId"}
	}
	if err := c.CallBatch(ctx, big); !errors.As(err, &re) || re.Code != CodeInvalidRequest {
		t.Errorf("oversized batch: %v, want invalid request", err)
	}
	if err := c.CallBatch(ctx, []BatchCall{{Method: "trellis_subscribe"}}); err == nil {
		t.Error("a WebSocket-only method was batched")
	}
	if err := c.CallBatch(ctx, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// With an admin token, admin methods answer only callers that present it,
// over HTTP and over a WebSocket opened by an HTTP client; other methods
// need nothing.
func TestAdminToken(t *testing.T) {
	ctx := context.Background()
	nf := &netFake{fakeBackend: newFakeBackend()}
	ts := startServer(t, nf.fakeBackend, Options{Admin: true, AdminToken: "s3cret"}, withNet(nf))
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{{"no token", "", false}, {"wrong token", "s3cres", false}, {"the token", "s3cret", true}} {
		c := dial(t, ts.httpURL())
		c.SetAdminToken(tc.token)
		err := c.SetBlockedPeers(ctx, []string{"12D3KooWa"})
		var e *Error
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && (!errors.As(err, &e) || e.Code != CodeUnauthorized || !strings.Contains(e.Message, AdminTokenFile)):
			t.Errorf("%s: %v, want CodeUnauthorized naming %s", tc.name, err, AdminTokenFile)
		}
		if _, err := c.ChainID(ctx); err != nil {
			t.Errorf("%s: a public method: %v", tc.name, err)
		}
	}
	// The WebSocket an HTTP client opens carries the token too.
	c := dial(t, ts.httpURL())
	c.SetAdminToken("s3cret")
	sub, err := c.SubscribeNewHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe(ctx)
	ws := dial(t, ts.wsURL())
	if err := ws.Call(ctx, "admin_setBlockedPeers", nil, []string{}); !errors.As(err, new(*Error)) {
		t.Fatalf("admin over a WebSocket without the token: %v", err)
	}
}
