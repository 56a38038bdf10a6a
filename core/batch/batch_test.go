package batch_test

import (
	"testing"

	"github.com/trellis-chain/trellis/core/batch"
)

func TestSmallBlockTrace(t *testing.T) {
	l := newLedger(t, 20)
	cs := l.block(t, []xfer{{From: 1, To: userAddr(2), Amount: 100_000, Fee: 10}, {From: 3, To: userAddr(99), Amount: 5, Fee: 3}, {From: 1, To: userAddr(5), Amount: 70_000, Fee: 10}})
	pub, w := l.statement(t, cs, true)
	t.Logf("updates %d, rows %d", pub.Updates, batch.TraceLength(int(pub.Updates)))
	if err := batch.CheckTrace(pub, w); err != nil {
		t.Fatal(err)
	}
	proof, err := batch.Prove(pub, w, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("proof %d bytes", len(proof))
	if err := batch.Verify(pub, proof); err != nil {
		t.Fatal(err)
	}
}
