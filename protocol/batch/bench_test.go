package batch_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/state"
)

// benchBlock returns the statement of a block of n transfers between
// distinct senders and receivers (half the receivers new accounts) over a
// ledger of 2n users.
func benchBlock(b testing.TB, n int) (batch.Public, *batch.Witness) {
	l := newLedger(b, 2*n)
	txs := make([]xfer, n)
	for i := range txs {
		to := userAddr(n + i)
		if i%2 == 1 {
			to = userAddr(10*n + i) // a new account
		}
		txs[i] = xfer{From: i, To: to, Amount: 1_000 + uint64(i), Fee: 21}
	}
	return l.statement(b, l.block(b, txs), false)
}

// BenchmarkProve proves blocks of 64, 256 and 1,024 transfers.
//
//	go test -run '^$' -bench 'Prove|Verify' -benchtime 2x -count 3 ./protocol/batch/
func BenchmarkProve(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("transfers=%d", n), func(b *testing.B) {
			pub, w := benchBlock(b, n)
			rows := batch.TraceLength(int(pub.Updates))
			var size int
			for b.Loop() {
				p, err := batch.Prove(pub, w, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				size = len(p)
			}
			perms := 2 * float64(rows) // two permutations per row, padding included
			used := 2 * float64(36+38*(int(pub.Updates)-1))
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(size), "proof-bytes")
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(pub.Updates), "updates")
			b.ReportMetric(used/sec, "perms/s")
			b.ReportMetric(perms/sec, "slots/s")
		})
	}
}

// BenchmarkVerify verifies the proof of a block of 1,024 transfers.
func BenchmarkVerify(b *testing.B) {
	pub, w := benchBlock(b, 1024)
	p, err := batch.Prove(pub, w, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := batch.Verify(pub, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p)), "proof-bytes")
}

// BenchmarkHashChanges is the host's per-commit cost: the batch hash of a
// block of 1,024 transfers from its changeset.
func BenchmarkHashChanges(b *testing.B) {
	l := newLedger(b, 2048)
	txs := make([]xfer, 1024)
	for i := range txs {
		txs[i] = xfer{From: i, To: userAddr(1024 + i), Amount: 5, Fee: 1}
	}
	cs := l.block(b, txs)
	for b.Loop() {
		if _, err := batch.HashChanges(cs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild: public inputs and witness of a block of 1,024 transfers.
func BenchmarkBuild(b *testing.B) {
	l := newLedger(b, 2048)
	txs := make([]xfer, 1024)
	for i := range txs {
		txs[i] = xfer{From: i, To: userAddr(1024 + i), Amount: 5, Fee: 1}
	}
	cs := l.block(b, txs)
	for b.Loop() {
		if _, _, err := batch.Build(state.NewOverlay(l.db.Tree()), cs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProvenParams prices proven security on the batch/v1 statement of
// 1,024 transfers: today's E4 parameters (58.6 bits proven) against E6
// parameter sets that reach 100 proven bits (docs/stark.md).
//
//	go test -run '^$' -bench ProvenParams -benchtime 2x ./protocol/batch/
func BenchmarkProvenParams(b *testing.B) {
	pub, w := benchBlock(b, 1024)
	e6 := func(logBlowup, queries, grinding int) stark.Params {
		return stark.Params{LogBlowup: logBlowup, NumQueries: queries, GrindingBits: grinding, LogFoldArity: 2, LogFinalSize: 5, LogMerkleCap: 6, Challenges: stark.E6Challenges}
	}
	for _, c := range []struct {
		name string
		p    stark.Params
	}{
		{"E4-b4-q40-g20", batch.Params()},
		{"E6-b4-q40-g20", e6(2, 40, 20)},
		{"E6-b4-q84-g20", e6(2, 84, 20)},
		{"E6-b4-q80-g24", e6(2, 80, 24)},
		{"E6-b8-q56-g20", e6(3, 56, 20)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var proof []byte
			for b.Loop() {
				var err error
				if proof, err = batch.ProveParams(pub, w, c.p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			start := time.Now()
			if err := batch.VerifyParams(pub, proof, c.p); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "verify-ms")
			s := c.p.Security(batch.Shape(int(pub.Updates)), c.p.Challenges.Bits())
			b.ReportMetric(float64(len(proof)), "proof-bytes")
			b.ReportMetric(s.Proven(), "proven-bits")
			b.ReportMetric(s.Conjectured, "conj-bits")
		})
	}
}
