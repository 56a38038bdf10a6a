package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/trellis-chain/trellis/protocol/tx"
)

var knownCodes = map[int]bool{
	CodeParseError: true, CodeInvalidRequest: true, CodeMethodNotFound: true, CodeInvalidParams: true,
	CodeInternal: true, CodeTxRejected: true, CodeNotFound: true, CodeLimitExceeded: true,
}

// checkResponse verifies one JSON-RPC response object.
func checkResponse(t *testing.T, raw json.RawMessage) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("response is not an object: %s", raw)
	}
	if string(m["jsonrpc"]) != `"2.0"` {
		t.Fatalf("jsonrpc %s", m["jsonrpc"])
	}
	if _, ok := m["id"]; !ok {
		t.Fatalf("response without id: %s", raw)
	}
	res, hasRes := m["result"]
	e, hasErr := m["error"]
	if hasRes == hasErr || len(m) != 3 {
		t.Fatalf("want exactly one of result and error: %s", raw)
	}
	if hasRes && !json.Valid(res) {
		t.Fatalf("result is not JSON: %s", raw)
	}
	if hasErr {
		var we struct {
			Code    *int    `json:"code"`
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(e, &we); err != nil || we.Code == nil || we.Message == nil || !knownCodes[*we.Code] {
			t.Fatalf("bad error object: %s", e)
		}
	}
}

// FuzzHandleRequest posts arbitrary bytes to the handler: it never panics
// and always answers with a valid JSON-RPC response, a batch of them, or
// nothing (204) when every call was a notification.
func FuzzHandleRequest(f *testing.F) {
	bf := &batchFake{fakeBackend: newFakeBackend()} // batches take the SubmitTxs path
	fb := bf.fakeBackend
	srv := NewServer(bf, Options{MaxBodyBytes: 64 << 10, MaxBatch: 8})
	good := signedTx(testChain, 1, tx.Transfer{To: testAddr(2), Amount: 5})
	for _, s := range []string{
		req("trellis_chainId"),
		req("trellis_sendRawTransaction", hexOf(good.Encode())),
		req("trellis_sendRawTransaction", "0x01"),
		req("trellis_getTransaction", fb.included[0].Hash().String()),
		req("trellis_getReceipt", fb.included[1].Hash().String()),
		req("trellis_getAccount", fb.rich.String()),
		req("trellis_getBalance", fb.rich.String()),
		req("trellis_getBlockByNumber", 1, true),
		req("trellis_getBlockByNumber", "finalized"),
		req("trellis_getBlockByHash", fb.blocks[2].Hash.String(), false),
		req("trellis_head"),
		req("trellis_getFinality", 0),
		req("trellis_feeQuote", 3),
		req("trellis_subscribe", "newHeads"),
		`[` + req("trellis_chainId") + `,{"jsonrpc":"2.0","method":"trellis_head"},7]`,
		`[` + req("trellis_sendRawTransaction", hexOf(good.Encode())) + `,` + req("trellis_sendRawTransaction", "0x01") + `]`,
		`{"jsonrpc":"2.0","method":"trellis_chainId"}`,
		`{"jsonrpc":"2.0","id":null,"method":"trellis_chainId","params":null}`,
		`{"jsonrpc":"2.0","id":1e400,"method":"trellis_getBlockByNumber","params":[1e400]}`,
		`[]`, `[[]]`, `{}`, `null`, `"x"`, ``, `{"jsonrpc":"2.0","id":1,"method":"trellis_chainId"`,
		"\xff\xfe", `{"jsonrpc":"2.0","id":1,"method":"trellis_getAccount","params":{"a":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		srv.ServeHTTP(w, r)
		out := w.Body.Bytes()
		if w.Code == http.StatusNoContent {
			if len(out) != 0 {
				t.Fatalf("204 with a body: %q", out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("response is not JSON: %q", out)
		}
		if bytes.HasPrefix(out, []byte("[")) {
			var batch []json.RawMessage
			if err := json.Unmarshal(out, &batch); err != nil || len(batch) == 0 {
				t.Fatalf("bad batch response: %s", out)
			}
			for _, x := range batch {
				checkResponse(t, x)
			}
			return
		}
		checkResponse(t, out)
	})
}

// FuzzParams feeds one arbitrary JSON value to every parameter decoder:
// each returns a value or a *ParamError, never a panic.
func FuzzParams(f *testing.F) {
	for _, s := range []string{
		`1`, `-1`, `1.5`, `1e400`, `18446744073709551615`, `18446744073709551616`, `"head"`, `"finalized"`,
		`"0x` + string(bytes.Repeat([]byte("ab"), 32)) + `"`, `"0x12"`, `"0x"`, `"zz"`, `true`, `null`, `{}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // the server rejects invalid JSON before params are decoded
		}
		p := params{raw}
		check := func(err error) {
			var pe *ParamError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("%s: error %v is not a *ParamError", raw, err)
			}
			if err != nil && toError(err).Code != CodeInvalidParams {
				t.Fatalf("%s: maps to %d", raw, toError(err).Code)
			}
		}
		_, err := p.address(0)
		check(err)
		_, err = p.txHash(0)
		check(err)
		_, err = p.blockHash(0)
		check(err)
		_, err = p.hexBytes(0, "raw")
		check(err)
		_, err = p.optBool(0, "fullTxs")
		check(err)
		ref, err := p.blockNumber(0)
		check(err)
		if err == nil && (ref.Height == nil) == (ref.Tag == "") {
			t.Fatalf("%s: block number %+v sets not exactly one of height and tag", raw, ref)
		}
		_, err = p.blockRef(0)
		check(err)
		n, err := p.withinBlocks(0)
		check(err)
		if err == nil && (n < 1 || n > MaxWithinBlocks) {
			t.Fatalf("%s: withinBlocks %d", raw, n)
		}
	})
}

// FuzzClientDecode feeds arbitrary server responses to the client's
// decoding and conversions: errors, never panics.
func FuzzClientDecode(f *testing.F) {
	fb := newFakeBackend()
	for _, v := range []any{
		NewBlock(fb.blocks[1], true), newTransactionResult(fb.txs[fb.included[1].Hash()]), NewAccount(fb.accounts[fb.rich]),
		&Error{Code: CodeTxRejected, Message: "x", Reason: ReasonNonceGap},
	} {
		b, _ := json.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte(`{"stateRoot":"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"}`))
	f.Add([]byte(`{"validator":{"blsPublicKey":"0x01"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		resp := &response{Result: b}
		var blk *Block
		if decodeResult("x", resp, &blk) == nil && blk != nil {
			_, _ = blk.Header()
			for _, x := range blk.Transactions {
				if x != nil {
					_, _ = x.Tx()
				}
			}
			for _, r := range blk.Receipts {
				if r != nil {
					_, _ = r.BlockReceipt()
				}
			}
		}
		var tr *Transaction
		if decodeResult("x", resp, &tr) == nil && tr != nil {
			_, _ = tr.Tx()
		}
		var a *Account
		if decodeResult("x", resp, &a) == nil && a != nil {
			_, _ = a.Account()
		}
		var e Error
		_ = json.Unmarshal(b, &e)
		var u TxStatusUpdate
		_ = json.Unmarshal(b, &u)
		var r response
		_ = json.Unmarshal(b, &r)
	})
}
