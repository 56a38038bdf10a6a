package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// proofFake adds block witnesses and proofs to fakeBackend: block 1 has a
// witness and a proof, block 2 a witness only.
type proofFake struct {
	*fakeBackend
	mu       sync.Mutex
	pubs     map[uint64]batch.Public
	witness  map[uint64][]byte
	proofs   map[uint64]*ProofRecord
	failWith error
}

func testDigest(v uint64) hash.Digest {
	var e [2]koalabear.Element
	e[0].SetUint64(v)
	e[1].SetUint64(v * 7)
	return hash.Hash(e[:])
}

func testPublic(height uint64) batch.Public {
	return batch.Public{OldRoot: testDigest(10 * height), NewRoot: testDigest(10*height + 1), BatchHash: testDigest(10*height + 2), Updates: uint32(height + 2)}
}

func newProofFake() *proofFake {
	pf := &proofFake{fakeBackend: newFakeBackend(), pubs: map[uint64]batch.Public{}, witness: map[uint64][]byte{}, proofs: map[uint64]*ProofRecord{}}
	for h := uint64(1); h <= 2; h++ {
		pf.pubs[h] = testPublic(h)
		pf.witness[h] = bytes.Repeat([]byte{byte(h)}, 300+int(h))
	}
	txh := tx.Hash{0x77, 0x01}
	pf.proofs[1] = &ProofRecord{File: &batch.File{Public: pf.pubs[1], Proof: []byte("TSTK proof bytes \x00\xff")}, Prover: testAddr(8), TxHash: &txh}
	return pf
}

func (pf *proofFake) Witness(_ context.Context, height uint64) (batch.Public, []byte, error) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.failWith != nil {
		return batch.Public{}, nil, pf.failWith
	}
	w, ok := pf.witness[height]
	if !ok {
		return batch.Public{}, nil, ErrNotFound
	}
	return pf.pubs[height], w, nil
}

func (pf *proofFake) Proof(_ context.Context, height uint64) (*ProofRecord, error) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.failWith != nil {
		return nil, pf.failWith
	}
	r, ok := pf.proofs[height]
	if !ok {
		return nil, ErrNotFound
	}
	return r, nil
}

func withProofs(pf *proofFake) func(*Server) { return func(s *Server) { s.b = pf } }

func TestWitnessAndProof(t *testing.T) {
	ctx := context.Background()
	pf := newProofFake()
	c := dial(t, startServer(t, pf.fakeBackend, Options{}, withProofs(pf)).httpURL())

	for h := uint64(1); h <= 2; h++ {
		pub, w, err := c.Witness(ctx, h)
		if err != nil {
			t.Fatalf("witness %d: %v", h, err)
		}
		if pub != pf.pubs[h] || !bytes.Equal(w, pf.witness[h]) {
			t.Fatalf("witness %d: got %+v, %d bytes; want %+v, %d bytes", h, pub, len(w), pf.pubs[h], len(pf.witness[h]))
		}
	}
	rec, err := c.Proof(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec, pf.proofs[1]) {
		t.Fatalf("proof record %+v, want %+v", rec, pf.proofs[1])
	}

	// The JSON a reader sees: hex public inputs with the roots spelt out,
	// base64 witness and proof.
	var raw map[string]any
	if err := c.Call(ctx, "trellis_getProof", &raw, 1); err != nil {
		t.Fatal(err)
	}
	pub := pf.pubs[1]
	for k, want := range map[string]any{
		"height": 1.0, "public": Bytes(pub.Encode()).String(), "oldRoot": rootOf(pub.OldRoot).String(),
		"updates": float64(pub.Updates), "proof": "VFNUSyBwcm9vZiBieXRlcyAA/w==", "prover": testAddr(8).String(),
		"txHash": pf.proofs[1].TxHash.String(),
	} {
		if raw[k] != want {
			t.Errorf("trellis_getProof %s = %v, want %v", k, raw[k], want)
		}
	}

	// Block 2 has no proof yet; block 9 is unknown.
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"no proof yet", func() error { _, err := c.Proof(ctx, 2); return err }},
		{"unknown block proof", func() error { _, err := c.Proof(ctx, 9); return err }},
		{"unknown block witness", func() error { _, _, err := c.Witness(ctx, 9); return err }},
	} {
		err := tc.call()
		var re *Error
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &re) || re.Code != CodeNotFound || !strings.Contains(re.Message, "block") {
			t.Errorf("%s: %v, want not found naming the block", tc.name, err)
		}
	}

	pf.failWith = errors.New("witness store closed")
	var re *Error
	if _, _, err := c.Witness(ctx, 1); !errors.As(err, &re) || re.Code != CodeInternal || !strings.Contains(re.Message, "witness of block 1: witness store closed") {
		t.Errorf("backend failure: %v", err)
	}
}

func TestProofParams(t *testing.T) {
	ctx := context.Background()
	pf := newProofFake()
	c := dial(t, startServer(t, pf.fakeBackend, Options{}, withProofs(pf)).httpURL())
	tests := []struct {
		name   string
		params []any
		msg    string
	}{
		{"missing", nil, "want 1 param(s) [height]"},
		{"too many", []any{1, 2}, "want 1 param(s) [height]"},
		{"string", []any{"1"}, "want a block height (a JSON number), got a string"},
		{"tag", []any{"head"}, "got a string"},
		{"negative", []any{-1}, "not an integer"},
		{"fraction", []any{1.5}, "not an integer"},
		{"too big", []any{json.RawMessage("18446744073709551616")}, "not an integer"},
		{"genesis", []any{0}, "genesis state and has no proof"},
		{"object", []any{map[string]int{"height": 1}}, "got an object"},
		{"null", []any{nil}, "got null"},
	}
	for _, method := range []string{"trellis_getWitness", "trellis_getProof"} {
		for _, tt := range tests {
			t.Run(method+"/"+tt.name, func(t *testing.T) {
				err := c.Call(ctx, method, nil, tt.params...)
				var re *Error
				if !errors.As(err, &re) || re.Code != CodeInvalidParams || !strings.Contains(re.Message, tt.msg) {
					t.Fatalf("error %v, want invalid params containing %q", err, tt.msg)
				}
			})
		}
	}
}

func TestProofMethodsUnavailable(t *testing.T) {
	c := dial(t, startServer(t, newFakeBackend(), Options{}).httpURL())
	for _, method := range []string{"trellis_getWitness", "trellis_getProof"} {
		err := c.Call(context.Background(), method, nil, 1)
		var re *Error
		if !errors.As(err, &re) || re.Code != CodeMethodNotFound || !strings.Contains(re.Message, "keeps no block witnesses or proofs") {
			t.Errorf("%s: %v, want method not found saying why", method, err)
		}
	}
}

// TestProofSizeBounds: the server refuses to send, and the client to take,
// a witness or proof over the limits; the backend's empty answers are
// internal errors, not empty results.
func TestProofSizeBounds(t *testing.T) {
	ctx := context.Background()
	pf := newProofFake()
	c := dial(t, startServer(t, pf.fakeBackend, Options{}, withProofs(pf)).httpURL())
	pf.witness[1] = make([]byte, MaxWitnessBytes+1)
	pf.witness[2] = nil
	pf.proofs[1] = &ProofRecord{File: &batch.File{Public: pf.pubs[1], Proof: make([]byte, MaxProofBytes+1)}}
	pf.proofs[2] = &ProofRecord{}
	for _, tc := range []struct {
		name, msg string
		call      func() error
	}{
		{"big witness", "exceed the API's limit", func() error { _, _, err := c.Witness(ctx, 1); return err }},
		{"empty witness", "no result", func() error { _, _, err := c.Witness(ctx, 2); return err }},
		{"big proof", "exceed the API's limit", func() error { _, err := c.Proof(ctx, 1); return err }},
		{"empty proof", "no result", func() error { _, err := c.Proof(ctx, 2); return err }},
	} {
		var re *Error
		if err := tc.call(); !errors.As(err, &re) || re.Code != CodeInternal || !strings.Contains(re.Message, tc.msg) {
			t.Errorf("%s: %v, want an internal error containing %q", tc.name, err, tc.msg)
		}
	}
}

// TestClientChecksProofResults: the client refuses answers that do not
// hold together, whatever node sent them.
func TestClientChecksProofResults(t *testing.T) {
	pub := testPublic(1)
	good := func() *ProofResult {
		return &ProofResult{Height: 1, Public: pub.Encode(), OldRoot: rootOf(pub.OldRoot), NewRoot: rootOf(pub.NewRoot),
			BatchHash: rootOf(pub.BatchHash), Updates: pub.Updates, Proof: []byte{1}}
	}
	if _, err := good().check(1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		tweak func(*ProofResult)
		msg   string
	}{
		{"other height", func(r *ProofResult) { r.Height = 2 }, "asked for block 1, got the proof of block 2"},
		{"no proof", func(r *ProofResult) { r.Proof = nil }, "proof of 0 bytes"},
		{"short public", func(r *ProofResult) { r.Public = r.Public[:10] }, "public inputs"},
		{"roots disagree", func(r *ProofResult) { r.NewRoot[0] ^= 1 }, "disagree"},
		{"count disagrees", func(r *ProofResult) { r.Updates++ }, "disagree"},
	} {
		r := good()
		tc.tweak(r)
		if _, err := r.check(1); !errors.Is(err, ErrBadProofResult) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrBadProofResult containing %q", tc.name, err, tc.msg)
		}
	}
	if _, _, err := (*WitnessResult)(nil).check(1); !errors.Is(err, ErrBadProofResult) {
		t.Errorf("null witness result: %v", err)
	}
	w := &WitnessResult{Height: 1, Public: pub.Encode(), OldRoot: rootOf(pub.OldRoot), NewRoot: rootOf(pub.NewRoot),
		BatchHash: rootOf(pub.BatchHash), Updates: pub.Updates}
	if _, _, err := w.check(1); !errors.Is(err, ErrBadProofResult) || !strings.Contains(err.Error(), "witness of 0 bytes") {
		t.Errorf("empty witness: %v", err)
	}
}

// FuzzProofRequest posts an arbitrary parameter to both proof methods: the
// answer is always a valid JSON-RPC response, never a panic.
func FuzzProofRequest(f *testing.F) {
	pf := newProofFake()
	srv := NewServer(pf.fakeBackend, Options{})
	withProofs(pf)(srv)
	for _, s := range []string{`1`, `2`, `0`, `-1`, `1.5`, `1e400`, `18446744073709551615`, `"1"`, `null`, `{}`, `[1]`, `true`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, param []byte) {
		for _, m := range []string{"trellis_getWitness", "trellis_getProof"} {
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":[%s]}`, m, param)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
			out := w.Body.Bytes()
			if !json.Valid(out) {
				t.Fatalf("%s: response is not JSON: %q", body, out)
			}
			if bytes.HasPrefix(out, []byte("{")) {
				checkResponse(t, out)
			}
		}
	})
}

// FuzzProofResults feeds arbitrary result JSON to the client's checks of
// both proof methods: an error or a well-formed record, never a panic.
func FuzzProofResults(f *testing.F) {
	pf := newProofFake()
	pub := pf.pubs[1]
	for _, v := range []any{
		&WitnessResult{Height: 1, Public: pub.Encode(), OldRoot: rootOf(pub.OldRoot), NewRoot: rootOf(pub.NewRoot), BatchHash: rootOf(pub.BatchHash), Updates: pub.Updates, Witness: []byte{1, 2}},
		&ProofResult{Height: 1, Public: pub.Encode(), OldRoot: rootOf(pub.OldRoot), NewRoot: rootOf(pub.NewRoot), BatchHash: rootOf(pub.BatchHash), Updates: pub.Updates, Proof: []byte{3}, TxHash: &tx.Hash{1}},
	} {
		b, _ := json.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte(`{"height":1,"public":"0x00","proof":"!!"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		resp := &response{Result: b}
		var wr *WitnessResult
		if decodeResult("x", resp, &wr) == nil {
			if p, w, err := wr.check(1); err == nil && (p.Updates == 0 || len(w) == 0) {
				t.Fatalf("accepted witness result with %d updates, %d witness bytes", p.Updates, len(w))
			}
		}
		var pr *ProofResult
		if decodeResult("x", resp, &pr) == nil {
			if rec, err := pr.check(1); err == nil {
				if rec.File == nil || len(rec.File.Proof) == 0 {
					t.Fatal("accepted an empty proof")
				}
				if _, err := batch.DecodeFile(rec.File.Encode()); err != nil {
					t.Fatalf("accepted a record whose file does not decode: %v", err)
				}
			}
		}
	})
}
