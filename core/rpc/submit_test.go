package rpc

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// batchFake is fakeBackend with TxBatchSubmitter: each raw goes through
// SubmitTx, and the calls are recorded.
type batchFake struct {
	*fakeBackend
	calls int
	last  [][]byte
}

func (b *batchFake) SubmitTxs(ctx context.Context, raws [][]byte) ([]tx.Hash, []error) {
	b.calls, b.last = b.calls+1, raws
	hs, errs := make([]tx.Hash, len(raws)), make([]error, len(raws))
	for i, r := range raws {
		hs[i], errs[i] = b.SubmitTx(ctx, r)
	}
	return hs, errs
}

// TestBatchSubmitSameAnswers sends one batch to a server whose backend
// submits transactions together and to one that submits them one by one:
// the answers must be byte-identical, and malformed calls must not be
// submitted at all.
func TestBatchSubmitSameAnswers(t *testing.T) {
	f := newFakeBackend()
	good := []*tx.Tx{signedTx(testChain, 1, f.pending.Body), signedTx(testChain, 2, f.pending.Body), signedTx(testChain, 3, f.pending.Body)}
	send := func(id int, version string, raw []byte) string {
		return fmt.Sprintf(`{"jsonrpc":%q,"id":%d,"method":"trellis_sendRawTransaction","params":["%s"]}`, version, id, Bytes(raw))
	}
	body := "[" + send(1, "2.0", good[0].Encode()) + "," + send(2, "2.0", good[1].Encode()) + "," +
		send(3, "2.0", good[0].Encode()) + "," + send(4, "1.0", good[2].Encode()) + "," + send(5, "2.0", []byte{1}) + "," +
		`{"jsonrpc":"2.0","method":"trellis_sendRawTransaction","params":["0xzz"]},` +
		`{"jsonrpc":"2.0","id":7,"method":"trellis_chainId"}]`

	one := newFakeBackend()
	want := NewServer(one, Options{}).handle(context.Background(), []byte(body), nil)
	bf := &batchFake{fakeBackend: newFakeBackend()}
	got := NewServer(bf, Options{}).handle(context.Background(), []byte(body), nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("batched answers differ:\n got %s\nwant %s", got, want)
	}
	if bf.calls != 1 || len(bf.last) != 4 {
		t.Fatalf("SubmitTxs calls %d (last with %d raws), want one with 4", bf.calls, len(bf.last))
	}
	if !bytes.Contains(got, []byte(good[1].Hash().String())) {
		t.Fatalf("no hash for a submitted transaction in %s", got)
	}
	if _, ok := bf.txs[good[2].Hash()]; ok {
		t.Fatal("the transaction of a call with the wrong jsonrpc version was submitted")
	}
	for _, g := range good[:2] {
		if _, ok := bf.txs[g.Hash()]; !ok {
			t.Fatalf("transaction %s not submitted", g.Hash())
		}
	}
	// A batch with a single transaction goes the usual way.
	bf.calls = 0
	NewServer(bf, Options{}).handle(context.Background(), []byte("["+send(1, "2.0", good[2].Encode())+`,{"jsonrpc":"2.0","id":2,"method":"trellis_chainId"}]`), nil)
	if bf.calls != 0 {
		t.Fatalf("a one-transaction batch used SubmitTxs")
	}
}
