package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

type wireResp struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *Error          `json:"error"`
}

func decodeResp(t *testing.T, b []byte) wireResp {
	t.Helper()
	var r wireResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	if r.JSONRPC != "2.0" {
		t.Errorf("response without jsonrpc 2.0: %s", b)
	}
	return r
}

func hexOf(b []byte) string { return Bytes(b).String() }

// TestErrorCodes posts requests that must fail and checks code, reason and
// that the message names the problem.
func TestErrorCodes(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{})
	good := signedTx(testChain, 1, tx.Transfer{To: testAddr(2), Amount: 5})
	otherChain := signedTx("other-chain", 1, tx.Transfer{To: testAddr(2), Amount: 5})
	badSig := signedTx(testChain, 1, tx.Transfer{To: testAddr(2), Amount: 5}).Encode()
	badSig = append([]byte(nil), badSig...)
	badSig[len(badSig)-1] ^= 1
	badVersion := append([]byte(nil), good.Encode()...)
	badVersion[0] = 9
	zero := signedTx(testChain, 1, tx.Transfer{To: testAddr(2), Amount: 0})
	lowGas := &tx.Tx{ChainID: testChain, GasLimit: 1, MaxFeePerGas: 1, Body: tx.Transfer{To: testAddr(2), Amount: 1}}
	lowGas.Sign(testKey(1))
	cases := []struct {
		name, body string
		code       int
		reason     string
		msg        string
	}{
		{"empty body", ``, CodeParseError, "", "empty"},
		{"truncated JSON", `{"jsonrpc":"2.0","id":1,`, CodeParseError, "", "not valid JSON"},
		{"trailing garbage", `{"jsonrpc":"2.0","id":1,"method":"trellis_chainId"} x`, CodeParseError, "", "JSON"},
		{"not an object", `42`, CodeInvalidRequest, "", "object"},
		{"no version", `{"id":1,"method":"trellis_chainId"}`, CodeInvalidRequest, "", `"2.0"`},
		{"wrong version", `{"jsonrpc":"1.0","id":1,"method":"trellis_chainId"}`, CodeInvalidRequest, "", `"2.0"`},
		{"method not a string", `{"jsonrpc":"2.0","id":1,"method":7}`, CodeInvalidRequest, "", "method"},
		{"object id", `{"jsonrpc":"2.0","id":{},"method":"trellis_chainId"}`, CodeInvalidRequest, "", "id"},
		{"unknown method", req("eth_blockNumber"), CodeMethodNotFound, "", "eth_blockNumber"},
		{"subscribe over HTTP", req("trellis_subscribe", "newHeads"), CodeMethodNotFound, "", "WebSocket"},
		{"params by name", `{"jsonrpc":"2.0","id":1,"method":"trellis_getAccount","params":{"address":"0x00"}}`, CodeInvalidParams, "", "array"},
		{"extra param", req("trellis_chainId", 1), CodeInvalidParams, "", "want no params, got 1"},
		{"missing param", req("trellis_getAccount"), CodeInvalidParams, "", "[address]"},
		{"short address", req("trellis_getAccount", "0x12"), CodeInvalidParams, "", "param 0 (address)"},
		{"address number", req("trellis_getAccount", 5), CodeInvalidParams, "", "want a string, got a number"},
		{"address not in field", req("trellis_getBalance", "0x"+strings.Repeat("ff", 32)), CodeInvalidParams, "", "modulus"},
		{"bad tx hash", req("trellis_getTransaction", "0xzz"), CodeInvalidParams, "", "param 0 (transaction hash)"},
		{"bad hex raw", req("trellis_sendRawTransaction", "0xabc"), CodeInvalidParams, "", "odd length"},
		{"negative height", req("trellis_getBlockByNumber", -1), CodeInvalidParams, "", "param 0 (block number)"},
		{"fractional height", req("trellis_getBlockByNumber", 1.5), CodeInvalidParams, "", "not an integer"},
		{"unknown tag", req("trellis_getBlockByNumber", "latest"), CodeInvalidParams, "", `"latest"`},
		{"fullTxs not bool", req("trellis_getBlockByNumber", 1, `"yes"`), CodeInvalidParams, "", "param 1 (fullTxs)"},
		{"bad block hash", req("trellis_getBlockByHash", "0x01"), CodeInvalidParams, "", "param 0 (block hash)"},
		{"bad finality ref", req("trellis_getFinality", "nope"), CodeInvalidParams, "", "param 0 (block)"},
		{"withinBlocks 0", req("trellis_feeQuote", 0), CodeInvalidParams, "", "1..1024"},
		{"withinBlocks huge", req("trellis_feeQuote", 5000), CodeInvalidParams, "", "1..1024"},
		{"malformed tx", req("trellis_sendRawTransaction", "0x0102"), CodeTxRejected, ReasonMalformed, "malformed"},
		{"too large tx", req("trellis_sendRawTransaction", hexOf(make([]byte, tx.MaxSize+1))), CodeTxRejected, ReasonTooLarge, "too large"},
		{"tx version", req("trellis_sendRawTransaction", hexOf(badVersion)), CodeTxRejected, ReasonUnsupportedVersion, "version 9"},
		{"wrong chain", req("trellis_sendRawTransaction", hexOf(otherChain.Encode())), CodeTxRejected, ReasonWrongChainID, "other-chain"},
		{"bad signature", req("trellis_sendRawTransaction", hexOf(badSig)), CodeTxRejected, ReasonBadSignature, "signature"},
		{"zero amount", req("trellis_sendRawTransaction", hexOf(zero.Encode())), CodeTxRejected, ReasonBadAmount, "of 0"},
		{"low gas", req("trellis_sendRawTransaction", hexOf(lowGas.Encode())), CodeTxRejected, ReasonBadGas, "gas limit"},
		{"unknown tx", req("trellis_getTransaction", tx.Hash{7}.String()), CodeNotFound, "", "not found"},
		{"unknown block", req("trellis_getBlockByNumber", 1000), CodeNotFound, "", "height 1000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := post(t, ts.httpURL(), c.body)
			if status != http.StatusOK {
				t.Errorf("HTTP status %d", status)
			}
			r := decodeResp(t, body)
			if r.Error == nil {
				t.Fatalf("no error: %s", body)
			}
			if r.Error.Code != c.code || r.Error.Reason != c.reason || !strings.Contains(r.Error.Message, c.msg) {
				t.Errorf("got %d %q %q, want %d %q and a message with %q", r.Error.Code, r.Error.Reason, r.Error.Message, c.code, c.reason, c.msg)
			}
			if r.Result != nil {
				t.Errorf("both result and error: %s", body)
			}
			// The id is echoed whenever it could be read.
			wantID := "null"
			if c.code != CodeParseError && strings.Contains(c.body, `"id":1`) {
				wantID = "1"
			}
			if string(r.ID) != wantID {
				t.Errorf("id %s, want %s", r.ID, wantID)
			}
		})
	}
}

// TestRejectionReasons drives every entry of the error table through the
// client: a backend error wrapping the sentinel reaches the caller as an
// *Error with the table's code and reason and the backend's explanation.
func TestRejectionReasons(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{})
	c := dial(t, ts.httpURL())
	raw := signedTx(testChain, 1, tx.Transfer{To: testAddr(2), Amount: 5}).Encode()
	seen := map[string]bool{}
	for _, m := range errorTable {
		f.mu.Lock()
		f.submitErr = fmt.Errorf("%w: sender 0xabc: detail 42", m.err)
		f.mu.Unlock()
		_, err := c.SendRawTransaction(context.Background(), raw)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%v: got %v, want *Error", m.err, err)
		}
		if e.Code != m.code || e.Reason != m.reason || !strings.Contains(e.Message, "detail 42") || !strings.Contains(e.Message, m.err.Error()) {
			t.Errorf("%v: got %+v, want code %d reason %q", m.err, e, m.code, m.reason)
		}
		if m.reason != "" && seen[m.reason] {
			t.Errorf("reason %q used twice", m.reason)
		}
		seen[m.reason] = true
	}
	// A full pool that also refuses a low tip says what the sender can fix.
	f.mu.Lock()
	f.submitErr = fmt.Errorf("%w and %w: tip 1 below 5", errorTable[len(errorTable)-3].err, errorTable[len(errorTable)-1].err)
	f.mu.Unlock()
	if _, err := c.SendRawTransaction(context.Background(), raw); !strings.Contains(err.Error(), "("+ReasonUnderpriced+")") {
		t.Errorf("full and underpriced: %v, want reason %s", err, ReasonUnderpriced)
	}
}

// TestInternalErrors: a backend failure is -32603 with its text; a panic is
// -32603 with nothing of the panic, and the server keeps serving.
func TestInternalErrors(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{})
	f.failWith = errors.New("disk on fire")
	_, body := post(t, ts.httpURL(), req("trellis_getAccount", f.rich.String()))
	if r := decodeResp(t, body); r.Error == nil || r.Error.Code != CodeInternal || !strings.Contains(r.Error.Message, "disk on fire") {
		t.Errorf("backend error: %s", body)
	}
	f.failWith = nil
	f.panicMsg = "secret panic text"
	for _, m := range []string{
		req("trellis_getAccount", f.rich.String()),
		req("trellis_getTransaction", tx.Hash{}.String()),
		req("trellis_head"),
	} {
		_, body := post(t, ts.httpURL(), m)
		r := decodeResp(t, body)
		if r.Error == nil || r.Error.Code != CodeInternal || r.Error.Message != "internal error" {
			t.Errorf("panic: %s", body)
		}
		if strings.Contains(string(body), "secret") || strings.Contains(string(body), "goroutine") {
			t.Errorf("panic leaked: %s", body)
		}
	}
	f.panicMsg = ""
	_, body = post(t, ts.httpURL(), req("trellis_chainId"))
	if r := decodeResp(t, body); r.Error != nil || string(r.Result) != `"`+testChain+`"` {
		t.Errorf("after panics: %s", body)
	}
}

func TestBatch(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{MaxBatch: 5})
	body := `[
		{"jsonrpc":"2.0","id":"a","method":"trellis_chainId"},
		{"jsonrpc":"2.0","method":"trellis_chainId"},
		{"jsonrpc":"2.0","id":2,"method":"trellis_getBalance","params":["` + f.rich.String() + `"]},
		{"jsonrpc":"2.0","id":3,"method":"nope"},
		42
	]`
	status, out := post(t, ts.httpURL(), body)
	var rs []wireResp
	if err := json.Unmarshal(out, &rs); err != nil || status != http.StatusOK {
		t.Fatalf("batch: %d %s: %v", status, out, err)
	}
	if len(rs) != 4 {
		t.Fatalf("batch of 5 with one notification: %d responses: %s", len(rs), out)
	}
	if string(rs[0].ID) != `"a"` || string(rs[0].Result) != `"`+testChain+`"` {
		t.Errorf("batch[0] = %+v", rs[0])
	}
	if string(rs[1].ID) != `2` || string(rs[1].Result) != `"9223372036854775809"` {
		t.Errorf("batch[1] = %+v", rs[1])
	}
	if string(rs[2].ID) != `3` || rs[2].Error == nil || rs[2].Error.Code != CodeMethodNotFound {
		t.Errorf("batch[2] = %+v", rs[2])
	}
	if string(rs[3].ID) != `null` || rs[3].Error == nil || rs[3].Error.Code != CodeInvalidRequest {
		t.Errorf("batch[3] = %+v", rs[3])
	}

	// Only notifications: nothing to say, 204.
	status, out = post(t, ts.httpURL(), `[{"jsonrpc":"2.0","method":"trellis_chainId"},{"jsonrpc":"2.0","method":"nope"}]`)
	if status != http.StatusNoContent || len(out) != 0 {
		t.Errorf("notifications only: %d %q", status, out)
	}
	status, out = post(t, ts.httpURL(), `{"jsonrpc":"2.0","method":"trellis_chainId"}`)
	if status != http.StatusNoContent || len(out) != 0 {
		t.Errorf("single notification: %d %q", status, out)
	}
	for _, c := range []struct{ body, msg string }{
		{`[]`, "empty batch"},
		{`[1,2,3,4,5,6]`, "batch of 6 calls exceeds the limit of 5"},
	} {
		_, out = post(t, ts.httpURL(), c.body)
		if r := decodeResp(t, out); r.Error == nil || r.Error.Code != CodeInvalidRequest || !strings.Contains(r.Error.Message, c.msg) {
			t.Errorf("%s: %s", c.body, out)
		}
	}
}

// TestBodyLimit: a body over the limit gets 413 and a JSON-RPC error at
// once, whether or not it announced its length; one at the limit passes.
func TestBodyLimit(t *testing.T) {
	const limit = 4096
	ts := startServer(t, newFakeBackend(), Options{MaxBodyBytes: limit})
	call := req("trellis_chainId")
	atLimit := call + strings.Repeat(" ", limit-len(call))
	if status, out := post(t, ts.httpURL(), atLimit); status != http.StatusOK || decodeResp(t, out).Error != nil {
		t.Errorf("body at the limit: %d %s", status, out)
	}
	over := call + strings.Repeat(" ", limit+1-len(call))
	for _, chunked := range []bool{false, true} {
		var r io.Reader = strings.NewReader(over)
		if chunked {
			r = io.MultiReader(r) // hides the length: sent chunked
		}
		res, err := http.Post(ts.httpURL(), "application/json", r)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: status %d", chunked, res.StatusCode)
		}
		if e := decodeResp(t, out).Error; e == nil || e.Code != CodeInvalidRequest || !strings.Contains(e.Message, "exceeds the limit of 4096 bytes") {
			t.Errorf("chunked=%v: %s", chunked, out)
		}
	}
}

func TestHTTPMethodAndClientErrors(t *testing.T) {
	ts := startServer(t, newFakeBackend(), Options{})
	res, err := http.Get(ts.httpURL())
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || decodeResp(t, out).Error.Code != CodeInvalidRequest {
		t.Errorf("GET: %d %s", res.StatusCode, out)
	}
	if _, err := Dial("ftp://x"); err == nil {
		t.Error("Dial accepted ftp://")
	}
	// What people type: host:port without a scheme is http.
	if c, err := Dial(ts.addr); err != nil {
		t.Errorf("Dial(%q): %v", ts.addr, err)
	} else if _, err := c.ChainID(context.Background()); err != nil {
		t.Errorf("a URL without a scheme: %v", err)
	}
	if _, err := Dial("http://"); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Errorf("a URL without a host: %v", err)
	}
	c := dial(t, "http://"+ts.addr+"/nowhere-but-still-rpc")
	if _, err := c.ChainID(context.Background()); err != nil {
		t.Errorf("any path takes JSON-RPC: %v", err)
	}
	var e *Error
	if _, err := dial(t, ts.httpURL()).Account(context.Background(), account.Address{}); err != nil || errors.As(err, &e) {
		t.Errorf("zero address is a valid (empty) account: %v", err)
	}
}
