package rpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// TestMethods calls every method through the real server and client, over
// HTTP and WebSocket, and checks that every value survives the round trip
// exactly: the client's view equals the server's, and converting it back
// gives the ledger value with the same hash.
func TestMethods(t *testing.T) {
	ts := startServer(t, newFakeBackend(), Options{})
	f := ts.f
	for _, tr := range []struct{ name, url string }{{"http", ts.httpURL()}, {"ws", ts.wsURL()}} {
		t.Run(tr.name, func(t *testing.T) {
			ctx := context.Background()
			c := dial(t, tr.url)

			if id, err := c.ChainID(ctx); err != nil || id != testChain {
				t.Errorf("ChainID = %q, %v", id, err)
			}

			head, err := c.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkBlock(t, head, f.blocks[2], false)

			b1, err := c.BlockByNumber(ctx, 1, true)
			if err != nil {
				t.Fatal(err)
			}
			checkBlock(t, b1, f.blocks[1], true)
			for i, v := range b1.Transactions {
				got, err := v.Tx()
				if err != nil || got.Hash() != f.included[i].Hash() || !reflect.DeepEqual(got.Body, f.included[i].Body) {
					t.Errorf("transaction %d: %v, %v", i, got, err)
				}
				if v.Status != TxFinal || *v.BlockHeight != 1 || *v.Index != i || *v.BlockHash != f.blocks[1].Hash {
					t.Errorf("transaction %d placement: %s %d %d %s", i, v.Status, *v.BlockHeight, *v.Index, v.BlockHash)
				}
			}
			if b, err := c.BlockByNumber(ctx, 0, false); err != nil || b.Finality != FinalityProven {
				t.Errorf("block 0: %+v, %v", b, err)
			}
			fin, err := c.BlockByTag(ctx, TagFinalized, false)
			if err != nil {
				t.Fatal(err)
			}
			checkBlock(t, fin, f.blocks[1], false)
			byHash, err := c.BlockByHash(ctx, f.blocks[2].Hash, true)
			if err != nil {
				t.Fatal(err)
			}
			checkBlock(t, byHash, f.blocks[2], true)

			for i, orig := range f.included {
				got, err := c.Transaction(ctx, orig.Hash())
				if err != nil {
					t.Fatal(err)
				}
				if want := newTransactionResult(f.txs[orig.Hash()]); !reflect.DeepEqual(got, want) {
					t.Errorf("transaction %d:\n got %+v\nwant %+v", i, got, want)
				}
				if got.Amount <= 1<<53 || got.Nonce <= 1<<53 || got.MaxFeePerGas != bigFee {
					t.Errorf("transaction %d lost precision: %+v", i, got)
				}
				rc, err := c.Receipt(ctx, orig.Hash())
				if err != nil {
					t.Fatal(err)
				}
				br, err := rc.BlockReceipt()
				if err != nil || !reflect.DeepEqual(br, f.blocks[1].Receipts[i]) || rc.Index != i || rc.BlockHeight != 1 {
					t.Errorf("receipt %d: %+v, %v", i, rc, err)
				}
			}
			p, err := c.Transaction(ctx, f.pending.Hash())
			if err != nil || p.Status != TxPending || p.BlockHash != nil || p.BlockHeight != nil || p.Index != nil {
				t.Errorf("pending transaction: %+v, %v", p, err)
			}
			if _, err := c.Receipt(ctx, f.pending.Hash()); !errors.Is(err, ErrNotIncluded) {
				t.Errorf("receipt of a pending transaction: %v, want ErrNotIncluded", err)
			}

			acct, err := c.Account(ctx, f.rich)
			if err != nil {
				t.Fatal(err)
			}
			want := f.accounts[f.rich]
			if !reflect.DeepEqual(acct, NewAccount(want)) {
				t.Errorf("account:\n got %+v\nwant %+v", acct, NewAccount(want))
			}
			back, err := acct.Account()
			if err != nil || !reflect.DeepEqual(back, want.Account) || back.Leaf() != want.Account.Leaf() {
				t.Errorf("account back to the ledger: %+v, %v", back, err)
			}
			if acct.Validator.Stake != want.Account.Stake() || acct.PendingNonce != bigNonce+5 || acct.Index != 7 {
				t.Errorf("account extras: %+v", acct)
			}
			none, err := c.Account(ctx, testAddr(77))
			if err != nil || none.Exists || none.Balance != 0 || none.Delegations == nil || none.Validator != nil {
				t.Errorf("unknown account: %+v, %v", none, err)
			}
			if bal, err := c.Balance(ctx, f.rich); err != nil || bal != 1<<63+1 {
				t.Errorf("Balance = %d, %v", bal, err)
			}

			if fz, err := c.Finality(ctx, f.blocks[2].Hash); err != nil || *fz != (BlockFinality{Hash: f.blocks[2].Hash, Height: 2, Finality: FinalityCanonical}) {
				t.Errorf("Finality(hash) = %+v, %v", fz, err)
			}
			if fz, err := c.FinalityAt(ctx, 1); err != nil || *fz != (BlockFinality{Hash: f.blocks[1].Hash, Height: 1, Finality: FinalityFinal}) {
				t.Errorf("FinalityAt(1) = %+v, %v", fz, err)
			}
			var fz BlockFinality
			if err := c.Call(ctx, "trellis_getFinality", &fz, "finalized"); err != nil || fz.Height != 1 {
				t.Errorf(`getFinality "finalized" = %+v, %v`, fz, err)
			}

			if q, err := c.FeeQuote(ctx, 0); err != nil || *q != (FeeQuote{BaseFee: 1<<58 + 2, MaxFeePerGas: 1<<59 + 1, MaxPriorityFeePerGas: 1<<54 + 1}) {
				t.Errorf("FeeQuote(0) = %+v, %v", q, err)
			}
			if q, err := c.FeeQuote(ctx, 12); err != nil || q.MaxFeePerGas != 1<<59+12 {
				t.Errorf("FeeQuote(12) = %+v, %v", q, err)
			}

			nt := signedTx(testChain, 99, tx.Transfer{To: testAddr(5), Amount: bigAmount})
			if tr.name == "ws" {
				nt = signedTx(testChain, 100, tx.Delegate{Validator: testAddr(5), Amount: bigAmount})
			}
			h, err := c.SendTransaction(ctx, nt)
			if err != nil || h != nt.Hash() {
				t.Fatalf("SendTransaction = %s, %v", h, err)
			}
			if got, err := c.Transaction(ctx, h); err != nil || got.Status != TxPending {
				t.Errorf("sent transaction: %+v, %v", got, err)
			}
		})
	}
}

// checkBlock compares the client's view with the server's and converts the
// header back: the recomputed hash must be the block's.
func checkBlock(t *testing.T, got *Block, want *BlockResult, full bool) {
	t.Helper()
	if w := NewBlock(want, full); !reflect.DeepEqual(got, w) {
		t.Errorf("block %d:\n got %+v\nwant %+v", want.Block.Header.Height, got, w)
	}
	h, err := got.Header()
	if err != nil {
		t.Fatal(err)
	}
	if h.Hash() != want.Hash || !reflect.DeepEqual(h, want.Block.Header) {
		t.Errorf("block %d header did not survive: %+v", want.Block.Header.Height, h)
	}
	if full && len(want.Block.Txs) > 0 && len(got.Receipts) != len(want.Receipts) {
		t.Errorf("block %d: %d receipts, want %d", want.Block.Header.Height, len(got.Receipts), len(want.Receipts))
	}
	if !full && (got.Transactions != nil || got.Receipts != nil) {
		t.Errorf("block %d without fullTxs carries transactions", want.Block.Header.Height)
	}
	var hashes []tx.Hash
	for _, x := range want.Block.Txs {
		hashes = append(hashes, x.Hash())
	}
	if got.TxCount != len(hashes) || (len(hashes) > 0 && !reflect.DeepEqual(got.TxHashes, hashes)) {
		t.Errorf("block %d tx hashes: %v", want.Block.Header.Height, got.TxHashes)
	}
}

// TestNotFound checks ErrNotFound survives the trip as a -32001 *Error.
func TestNotFound(t *testing.T) {
	ts := startServer(t, newFakeBackend(), Options{})
	c := dial(t, ts.httpURL())
	ctx := context.Background()
	calls := map[string]func() error{
		"transaction": func() error { _, err := c.Transaction(ctx, tx.Hash{1}); return err },
		"receipt":     func() error { _, err := c.Receipt(ctx, tx.Hash{1}); return err },
		"height":      func() error { _, err := c.BlockByNumber(ctx, 99, false); return err },
		"hash":        func() error { _, err := c.BlockByHash(ctx, block.Hash{1}, false); return err },
		"finality":    func() error { _, err := c.Finality(ctx, block.Hash{1}); return err },
	}
	for name, fn := range calls {
		err := fn()
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeNotFound || !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want a -32001 error", name, err)
		}
	}
}

// TestAccountJSONShape pins the account's JSON field names and encodings.
func TestAccountJSONShape(t *testing.T) {
	f := newFakeBackend()
	ts := startServer(t, f, Options{})
	_, body := post(t, ts.httpURL(), req("trellis_getAccount", account.Address(f.rich).String()))
	for _, want := range []string{
		`"balance":"9223372036854775809"`, `"nonce":"36028797018963975"`, `"pendingNonce":"36028797018963976"`,
		fmt.Sprintf(`"bonded":"%d"`, uint64(bigAmount+1)), `"releaseHeight":1234`, `"exists":true`, `"index":7`, `"height":2`,
		`"slashed":"9007199254740993"`, `"address":"` + f.rich.String() + `"`,
	} {
		if !contains(body, want) {
			t.Errorf("account JSON lacks %s:\n%s", want, body)
		}
	}
}

func contains(b []byte, s string) bool { return len(s) == 0 || indexOf(string(b), s) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
