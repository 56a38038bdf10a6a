package rpc

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/protocol/tx"
)

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkGetAccount: trellis_getAccount of an account with stake records
// through the real server and client over loopback, one caller at a time
// (http, ws), many callers (http-parallel), and in process without
// sockets (inproc), which isolates the JSON-RPC work.
func BenchmarkGetAccount(b *testing.B) {
	f := newFakeBackend()
	ts := startServer(b, f, Options{})
	ctx := context.Background()
	for _, tr := range []struct{ name, url string }{{"http", ts.httpURL()}, {"ws", ts.wsURL()}} {
		b.Run(tr.name, func(b *testing.B) {
			c := dial(b, tr.url)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, err := c.Account(ctx, f.rich); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, start)
		})
	}
	b.Run("http-parallel", func(b *testing.B) {
		c := dial(b, ts.httpURL())
		b.SetParallelism(4)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Account(ctx, f.rich); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b, start)
	})
	b.Run("inproc", func(b *testing.B) {
		body := []byte(req("trellis_getAccount", f.rich.String()))
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			if out := ts.srv.handle(ctx, body, nil); len(out) < 100 {
				b.Fatalf("%s", out)
			}
		}
		reportRate(b, start)
	})
}

// benchSubmit is a backend whose SubmitTx decodes (and, if check, runs the
// stateless checks with the ed25519 verification) and admits nothing.
type benchSubmit struct {
	*fakeBackend
	check bool
}

func (s benchSubmit) SubmitTx(_ context.Context, raw []byte) (tx.Hash, error) {
	t, err := tx.Decode(raw)
	if err != nil {
		return tx.Hash{}, err
	}
	if s.check {
		if err := t.CheckStateless(testChain); err != nil {
			return tx.Hash{}, err
		}
	}
	return t.Hash(), nil
}

// BenchmarkSendRawTransaction: trellis_sendRawTransaction of a transfer
// over HTTP loopback with a fake backend that only decodes ("decode"), or
// also checks the signature ("checked").
func BenchmarkSendRawTransaction(b *testing.B) {
	raw := signedTx(testChain, 1, tx.Transfer{To: testAddr(2), Amount: bigAmount}).Encode()
	ctx := context.Background()
	for _, check := range []bool{false, true} {
		name := "decode"
		if check {
			name = "checked"
		}
		b.Run(name, func(b *testing.B) {
			ts := startServer(b, nil, Options{}, func(s *Server) { s.b = benchSubmit{newFakeBackend(), check} })
			c := dial(b, ts.httpURL())
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, err := c.SendRawTransaction(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, start)
		})
	}
}
