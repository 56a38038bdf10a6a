package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// recv waits for one value; the long bound only stops a broken test from
// hanging, it is not a performance threshold.
func recv[T any](t *testing.T, s *Subscription[T]) T {
	t.Helper()
	select {
	case v, ok := <-s.C:
		if !ok {
			t.Fatalf("subscription %s closed: %v", s.ID, s.Err())
		}
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no notification on %s", s.ID)
	}
	var zero T
	return zero
}

func TestSubscriptions(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{})
	ctx := context.Background()
	// Subscriptions from an HTTP client open their own WebSocket.
	for _, url := range []string{ts.wsURL(), ts.httpURL()} {
		t.Run(url[:2], func(t *testing.T) {
			// The previous transport's connection was closed as its subtest
			// ended; its backend streams end asynchronously. Count from a
			// quiet backend.
			for deadline := time.Now().Add(10 * time.Second); liveSubs(f) > 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d backend subscriptions of a closed connection still live", liveSubs(f))
				}
			}
			c := dial(t, url)
			heads, err := c.SubscribeNewHeads(ctx)
			if err != nil {
				t.Fatal(err)
			}
			final, err := c.SubscribeFinalized(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pending := f.pending.Hash()
			txs, err := c.SubscribeTxStatus(ctx, pending)
			if err != nil {
				t.Fatal(err)
			}
			if heads.ID == final.ID || final.ID == txs.ID {
				t.Errorf("subscription ids not distinct: %s %s %s", heads.ID, final.ID, txs.ID)
			}
			// The transaction's current status comes first.
			if u := recv(t, txs); u.Hash != pending || u.Status != TxPending || u.BlockHash != nil || u.BlockHeight != nil {
				t.Errorf("current status: %+v", u)
			}

			f.publish(Event{Kind: EventTxStatus, Tx: &TxEvent{Hash: tx.Hash{9}, Status: TxDropped}}) // another tx: filtered
			f.publish(Event{Kind: EventNewHead, Block: f.blocks[2]})
			f.publish(Event{Kind: EventFinalized, Block: f.blocks[1]})
			bh := f.blocks[2].Hash
			f.publish(Event{Kind: EventTxStatus, Tx: &TxEvent{Hash: pending, Status: TxIncluded, Height: 2, BlockHash: &bh}})
			f.publish(Event{Kind: EventNewHead, Block: f.blocks[1], Missed: 3, Reverted: []block.Hash{bh}}) // a reorg; the backend dropped 3 for us

			if b := recv(t, heads); !reflect.DeepEqual(b, NewBlock(f.blocks[2], false)) {
				t.Errorf("newHeads: %+v", b)
			}
			if b := recv(t, final); !reflect.DeepEqual(b, NewBlock(f.blocks[1], false)) {
				t.Errorf("finalizedHeads: %+v", b)
			}
			if u := recv(t, txs); u.Status != TxIncluded || *u.BlockHash != bh || *u.BlockHeight != 2 {
				t.Errorf("txStatus: %+v", u)
			}
			if b := recv(t, heads); b.Height != 1 || heads.Missed() != 3 || len(b.Reverted) != 1 || b.Reverted[0] != bh {
				t.Errorf("a reorg after a backend drop: height %d, missed %d, reverted %v", b.Height, heads.Missed(), b.Reverted)
			}
			// The drop is reported to every subscription, with its next
			// notification.
			f.publish(Event{Kind: EventFinalized, Block: f.blocks[2]})
			if b := recv(t, final); b.Height != 2 || final.Missed() != 3 {
				t.Errorf("finalized after a backend drop: height %d, missed %d", b.Height, final.Missed())
			}

			// The connection's three subscriptions share one backend
			// stream, so a connection costs one backend subscription
			// however many it holds.
			if live := liveSubs(f); live != 1 {
				t.Errorf("%d live backend streams for one connection's 3 subscriptions, want 1", live)
			}
			// Unsubscribing closes C; the last one ends the backend stream
			// before the call returns.
			if err := heads.Unsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := <-heads.C; ok || heads.Err() != nil {
				t.Errorf("after Unsubscribe: open or err %v", heads.Err())
			}
			var ok bool
			if err := c.Call(ctx, "trellis_unsubscribe", &ok, heads.ID); err != nil || ok {
				t.Errorf("second unsubscribe: %v %v, want false", ok, err)
			}
			if err := final.Unsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
			if live := liveSubs(f); live != 1 {
				t.Errorf("%d live backend streams with one subscription left, want 1", live)
			}
			if err := txs.Unsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
			if live := liveSubs(f); live != 0 {
				t.Errorf("%d live backend streams after the last unsubscribe, want 0", live)
			}
		})
	}
}

func TestSubscribeContextAndErrors(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{MaxSubscriptions: 2})
	c := dial(t, ts.wsURL())
	ctx, cancel := context.WithCancel(context.Background())
	s1, err := c.SubscribeNewHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscribeNewHeads(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = c.SubscribeFinalized(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeLimitExceeded || e.Reason != ReasonTooManySubscriptions {
		t.Errorf("third subscription: %v", err)
	}
	cancel()
	for range s1.C {
	}
	if s1.Err() != nil {
		t.Errorf("ended by its context: %v", s1.Err())
	}
	for _, bad := range []struct {
		params []any
		msg    string
	}{
		{[]any{"blocks"}, `param 0 (kind)`},
		{[]any{"txStatus"}, `param 1 (transaction hash): missing`},
		{[]any{"txStatus", "0x12"}, `param 1 (transaction hash)`},
		{[]any{"newHeads", "0x12"}, `param 1 (hash)`},
	} {
		var id string
		err := c.Call(context.Background(), "trellis_subscribe", &id, bad.params...)
		if !errors.As(err, &e) || e.Code != CodeInvalidParams || !strings.Contains(e.Message, bad.msg) {
			t.Errorf("subscribe %v: %v", bad.params, err)
		}
	}
}

// TestServerCloseEndsSubscriptions: a lost connection ends the client's
// subscriptions with an error.
func TestServerCloseEndsSubscriptions(t *testing.T) {
	ts := startServer(t, newFakeBackend(), Options{})
	c := dial(t, ts.wsURL())
	s, err := c.SubscribeNewHeads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.Close()
	for range s.C {
	}
	if s.Err() == nil {
		t.Error("subscription ended by a lost connection has no error")
	}
	if _, err := c.ChainID(context.Background()); err == nil {
		t.Error("call on a closed WebSocket succeeded")
	}
}

// TestSlowSubscriber: a client that stops reading loses notifications; it
// neither blocks the backend nor grows the server's memory. Once it reads again,
// the next notification says how many it missed, and delivered + missed
// accounts for every event.
func TestSlowSubscriber(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{WriteTimeout: time.Hour}, func(s *Server) { s.queue = 4 })
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, ts.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(64 << 20)
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"trellis_subscribe","params":["newHeads"]}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), `"result":"0x`) {
		t.Fatalf("subscribe: %s %v", b, err)
	}
	// Big notifications (~512 KiB) fill the socket buffers quickly; publish
	// returns once the server has taken each event, so none block it.
	big := *f.blocks[2]
	hdr := big.Block.Header
	hdr.ConsensusData = make([]byte, 256<<10)
	const n = 200
	for i := range uint64(n) {
		hdr.Height = i + 1
		b := &BlockResult{Block: &block.Block{Header: hdr}, Hash: block.Hash{byte(i)}, Finality: FinalityCanonical}
		f.publish(Event{Kind: EventNewHead, Block: b})
	}

	// Read again; publish markers until one arrives.
	type note struct {
		Params struct {
			Result struct {
				Height uint64 `json:"height"`
			} `json:"result"`
			Missed uint64 `json:"missed"`
		} `json:"params"`
	}
	got := make(chan note)
	go func() {
		defer close(got)
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var x note
			if json.Unmarshal(b, &x) == nil {
				got <- x
			}
		}
	}()
	var delivered, missed, last uint64
	marker := uint64(n)
	small := f.blocks[2]
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for last <= n {
		select {
		case x, ok := <-got:
			if !ok {
				t.Fatal("connection closed")
			}
			if x.Params.Result.Height <= last {
				t.Fatalf("height %d after %d: out of order", x.Params.Result.Height, last)
			}
			delivered++
			missed += x.Params.Missed
			last = x.Params.Result.Height
		case <-tick.C:
			marker++
			h := small.Block.Header
			h.Height = marker
			f.publish(Event{Kind: EventNewHead, Block: &BlockResult{Block: &block.Block{Header: h}, Hash: block.Hash{1}}})
		}
	}
	if missed == 0 {
		t.Errorf("no notification was reported missed after %d of ~512 KiB to a reader that did not read", n)
	}
	if delivered+missed != last {
		t.Errorf("delivered %d + missed %d != %d events up to the last delivered", delivered, missed, last)
	}
	// Other connections were served all along.
	if id, err := dial(t, ts.httpURL()).ChainID(ctx); err != nil || id != testChain {
		t.Errorf("another client during the slow one: %q %v", id, err)
	}
}

// TestClientSubscriptionBuffer: a Go caller that does not drain C loses the
// newest notifications, counted in Missed; the read loop never blocks.
func TestClientSubscriptionBuffer(t *testing.T) {
	ch := make(chan int, SubscriptionBuffer)
	s := &Subscription[int]{C: ch, c: ch, done: make(chan struct{})}
	for i := range SubscriptionBuffer + 10 {
		s.deliver(json.RawMessage(strings.Repeat("1", 1+i%3)), 0)
	}
	s.deliver(json.RawMessage(`"not an int"`), 2)
	if len(s.C) != SubscriptionBuffer || s.Missed() != 10+1+2 {
		t.Errorf("buffered %d, missed %d", len(s.C), s.Missed())
	}
	s.end(nil)
	s.end(errors.New("second end is ignored"))
	s.deliver(json.RawMessage(`1`), 0) // after end: dropped, no panic
	if s.Err() != nil {
		t.Errorf("Err = %v", s.Err())
	}
}

func TestWebSocketCallsAndLimits(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{MaxBodyBytes: 1024})
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, ts.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	exchange := func(msg string) string {
		t.Helper()
		if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := exchange(`[{"jsonrpc":"2.0","id":1,"method":"trellis_chainId"},{"jsonrpc":"2.0","id":2,"method":"trellis_feeQuote","params":[3]}]`); !strings.Contains(got, `"result":"trellis-test"`) || !strings.Contains(got, `"maxFeePerGas":"576460752303423491"`) {
		t.Errorf("batch over WebSocket: %s", got)
	}
	if got := exchange(`{"jsonrpc":"2.0","id":1`); !strings.Contains(got, `-32700`) {
		t.Errorf("parse error over WebSocket: %s", got)
	}
	// A message over the limit closes the connection with 1009.
	if err := conn.Write(ctx, websocket.MessageText, []byte(req("trellis_chainId")+strings.Repeat(" ", 2048))); err != nil {
		t.Fatal(err)
	}
	_, _, err = conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("oversized message: %v, want close 1009", err)
	}
}

// WebSocket connections beyond Options.MaxConnections are refused at the
// upgrade; a slot freed by a closed connection is taken again.
func TestConnectionLimit(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{MaxConnections: 2})
	ctx := context.Background()
	a, b := dial(t, ts.wsURL()), dial(t, ts.wsURL())
	for _, c := range []*Client{a, b} {
		if _, err := c.ChainID(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := DialContext(ctx, ts.wsURL()); err == nil {
		c.Close()
		t.Fatal("a third connection was accepted")
	} else if !strings.Contains(err.Error(), "503") {
		t.Fatalf("third connection: %v, want HTTP 503", err)
	}
	a.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := DialContext(ctx, ts.wsURL())
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection after one closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
