package p2p

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	st := Status{ChainID: "trellis-1", Height: 10, Final: 9}
	st.Genesis[0], st.Head[31] = 7, 9
	stb, err := encodeStatus(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeStatus(stb)
	if err != nil || got != st {
		t.Fatalf("status round trip: %+v, %v", got, err)
	}

	fb, err := encodeFrame(frame{Topic: "/t/x", Data: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeFrame(fb)
	if err != nil || f.Topic != "/t/x" || string(f.Data) != "hello" {
		t.Fatalf("frame round trip: %+v, %v", f, err)
	}

	q := syncRequest{From: 1 << 40, Count: 64}
	gq, err := decodeSyncRequest(encodeSyncRequest(q))
	if err != nil || gq != q {
		t.Fatalf("sync request round trip: %+v, %v", gq, err)
	}

	for _, resp := range []syncResponse{
		{Blocks: []SyncedBlock{{Encoded: []byte{1, 2}, Certificate: []byte{3}}, {Encoded: []byte{4}, Certificate: []byte{}}}},
		{Err: "no block source"},
		{Blocks: nil},
	} {
		b, err := encodeSyncResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		g, err := decodeSyncResponse(b)
		if err != nil || g.Err != resp.Err || len(g.Blocks) != len(resp.Blocks) {
			t.Fatalf("sync response round trip: %+v, %v", g, err)
		}
		for i := range g.Blocks {
			if !bytes.Equal(g.Blocks[i].Encoded, resp.Blocks[i].Encoded) || !bytes.Equal(g.Blocks[i].Certificate, resp.Blocks[i].Certificate) {
				t.Fatalf("block %d differs", i)
			}
		}
	}
}

func TestWireRejects(t *testing.T) {
	okStatus, _ := encodeStatus(Status{ChainID: "c", Height: 2, Final: 1})
	badFinal, _ := encodeStatus(Status{ChainID: "c", Height: 1, Final: 2})
	okFrame, _ := encodeFrame(frame{Topic: "t", Data: []byte("d")})
	bigCount := append([]byte{wireVersion, 0}, 0x81, 0x01) // count 129
	hugeLen := []byte{wireVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}
	tests := []struct {
		name   string
		decode func([]byte) error
		in     []byte
	}{
		{"status empty", statusErr, nil},
		{"status version", statusErr, append([]byte{2}, okStatus[1:]...)},
		{"status truncated", statusErr, okStatus[:len(okStatus)-1]},
		{"status trailing", statusErr, append(append([]byte{}, okStatus...), 0)},
		{"status final above height", statusErr, badFinal},
		{"status long chain id", statusErr, append([]byte{wireVersion, 65}, make([]byte, 200)...)},
		{"frame empty topic", frameErr, []byte{wireVersion, 0, 0}},
		{"frame huge topic length", frameErr, hugeLen},
		{"frame truncated", frameErr, okFrame[:len(okFrame)-1]},
		{"frame trailing", frameErr, append(append([]byte{}, okFrame...), 1)},
		{"frame bad varint", frameErr, []byte{wireVersion, 0xff}},
		{"request zero count", requestErr, []byte{wireVersion, 0, 0}},
		{"request big count", requestErr, bigCount},
		{"request trailing", requestErr, []byte{wireVersion, 0, 1, 0}},
		{"response bad code", responseErr, []byte{wireVersion, 9}},
		{"response empty error", responseErr, []byte{wireVersion, respError, 0}},
		{"response too many blocks", responseErr, []byte{wireVersion, respOK, 0x81, 0x01}},
		{"response huge block", responseErr, []byte{wireVersion, respOK, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"response truncated", responseErr, []byte{wireVersion, respOK, 1, 2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.decode(tc.in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEncodeLimits(t *testing.T) {
	if _, err := encodeFrame(frame{Topic: "t", Data: make([]byte, MaxMessageSize+1)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	if _, err := encodeFrame(frame{Topic: ""}); err == nil {
		t.Fatal("empty topic encoded")
	}
	if _, err := encodeStatus(Status{ChainID: string(make([]byte, 65))}); err == nil {
		t.Fatal("long chain id encoded")
	}
	if _, err := encodeSyncResponse(syncResponse{Blocks: make([]SyncedBlock, MaxBatchBlocks+1)}); err == nil {
		t.Fatal("too many blocks encoded")
	}
	long, _ := encodeSyncResponse(syncResponse{Err: string(bytes.Repeat([]byte("x"), 1000))})
	if g, err := decodeSyncResponse(long); err != nil || len(g.Err) != maxErrorLen {
		t.Fatalf("long error not truncated: %d, %v", len(g.Err), err)
	}
}

func statusErr(b []byte) error   { _, err := decodeStatus(b); return err }
func frameErr(b []byte) error    { _, err := decodeFrame(b); return err }
func requestErr(b []byte) error  { _, err := decodeSyncRequest(b); return err }
func responseErr(b []byte) error { _, err := decodeSyncResponse(b); return err }

func FuzzDecodeFrame(f *testing.F) {
	ok, _ := encodeFrame(frame{Topic: "/trellis/c/t", Data: []byte("payload")})
	f.Add(ok)
	f.Add([]byte{})
	f.Add([]byte{wireVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{wireVersion, 1, 'a', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		again, err := encodeFrame(fr)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func FuzzDecodeSyncRequest(f *testing.F) {
	f.Add(encodeSyncRequest(syncRequest{From: 1, Count: 64}))
	f.Add([]byte{wireVersion, 0, 0})
	f.Add([]byte{wireVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := decodeSyncRequest(b)
		if err != nil {
			return
		}
		if q.Count < 1 || q.Count > MaxBatchBlocks {
			t.Fatalf("count %d accepted", q.Count)
		}
		if q2, err := decodeSyncRequest(encodeSyncRequest(q)); err != nil || q2 != q {
			t.Fatalf("round trip: %+v %v", q2, err)
		}
	})
}

func FuzzDecodeSyncResponse(f *testing.F) {
	ok, _ := encodeSyncResponse(syncResponse{Blocks: []SyncedBlock{{Encoded: []byte("block"), Certificate: []byte("cert")}}})
	e, _ := encodeSyncResponse(syncResponse{Err: "boom"})
	f.Add(ok)
	f.Add(e)
	f.Add([]byte{wireVersion, respOK, 0})
	f.Add([]byte{wireVersion, respOK, 2, 1, 'a', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeSyncResponse(b)
		if err != nil {
			return
		}
		if len(r.Blocks) > MaxBatchBlocks {
			t.Fatalf("%d blocks accepted", len(r.Blocks))
		}
		again, err := encodeSyncResponse(r)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		r2, err := decodeSyncResponse(again)
		if err != nil || !reflect.DeepEqual(normalize(r2), normalize(r)) {
			t.Fatalf("round trip differs: %v", err)
		}
	})
}

func normalize(r syncResponse) syncResponse {
	for i := range r.Blocks {
		if len(r.Blocks[i].Encoded) == 0 {
			r.Blocks[i].Encoded = nil
		}
		if len(r.Blocks[i].Certificate) == 0 {
			r.Blocks[i].Certificate = nil
		}
	}
	return r
}

func FuzzDecodeStatus(f *testing.F) {
	ok, _ := encodeStatus(Status{ChainID: "trellis", Height: 5, Final: 4})
	f.Add(ok)
	f.Add([]byte{wireVersion})
	f.Add([]byte{wireVersion, 64})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeStatus(b)
		if err != nil {
			return
		}
		if s.Final > s.Height || len(s.ChainID) > MaxChainIDLen {
			t.Fatalf("invalid status accepted: %+v", s)
		}
		again, err := encodeStatus(s)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
