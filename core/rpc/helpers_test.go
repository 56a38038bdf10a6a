package rpc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
)

const testChain = "trellis-test"

// Amounts above 2^53, which a float64 would round.
const (
	bigAmount = 1<<60 + 123_456_789
	bigNonce  = 1<<55 + 3
	bigFee    = 1<<40 + 1
	bigTip    = 1<<39 + 7
)

func testKey(i byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{i}, ed25519.SeedSize))
}

func testAddr(i byte) account.Address {
	return account.FromPublicKey(testKey(i).Public().(ed25519.PublicKey))
}

func signedTx(chain string, nonce uint64, body tx.Body) *tx.Tx {
	t := &tx.Tx{ChainID: chain, Nonce: nonce, GasLimit: 20_000, MaxFeePerGas: bigFee, MaxPriorityFeePerGas: bigTip, Body: body}
	t.Sign(testKey(1))
	return t
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v + byte(i)
	}
}

func testBond() tx.Bond {
	b := tx.Bond{Amount: bigAmount + 1}
	fill(b.BLSPublicKey[:], 0x10)
	fill(b.ProofOfPossession[:], 0x20)
	return b
}

func testHeader(height uint64, parent block.Hash, txs []*tx.Tx, receipts []*block.Receipt) block.Header {
	var e [3]koalabear.Element
	e[0].SetUint64(height)
	h := block.Header{
		ChainID: testChain, Height: height, Parent: parent, TimestampMs: 1_750_000_000_000 + int64(height)*2000,
		Proposer: testAddr(9), StateRoot: hash.Hash(e[:]),
		BaseFee: 1<<58 + height, GasLimit: 1<<62 + 5, GasUsed: 1<<54 + 9,
	}
	if height > 0 {
		h.DACommitments = [][]byte{{0xda, 0x01}, bytes.Repeat([]byte{0xc0}, 48)}
		h.ConsensusData = []byte("commit-certificate")
		h.Proofs = []block.ProofRef{{Height: height - 1, BlockHash: parent, ProofHash: [32]byte{0xaa, 0xbb}, Prover: testAddr(8)}}
	}
	b := block.Block{Header: h, Txs: txs}
	h.TxRoot = b.ComputeTxRoot()
	h.ReceiptsRoot = block.ReceiptsRoot(receipts)
	return h
}

// fakeBackend is an in-memory chain of three blocks (0..2, 1 final), four
// accounts' worth of transactions and one pending transaction.
type fakeBackend struct {
	mu        sync.Mutex
	blocks    []*BlockResult
	byHash    map[block.Hash]*BlockResult
	txs       map[tx.Hash]*TxResult
	accounts  map[account.Address]*AccountResult
	finalized int
	submitErr error // returned by SubmitTx when set
	failWith  error // returned by every read when set
	panicMsg  string
	subs      []*fakeSub

	// fixtures
	included []*tx.Tx // block 1's transactions
	pending  *tx.Tx
	rich     account.Address
}

type fakeSub struct {
	ctx context.Context
	ch  chan Event
}

func newFakeBackend() *fakeBackend {
	f := &fakeBackend{
		byHash:   map[block.Hash]*BlockResult{},
		txs:      map[tx.Hash]*TxResult{},
		accounts: map[account.Address]*AccountResult{},
		rich:     testAddr(1),
	}
	f.included = []*tx.Tx{
		signedTx(testChain, bigNonce, tx.Transfer{To: testAddr(2), Amount: bigAmount}),
		signedTx(testChain, bigNonce+1, testBond()),
		signedTx(testChain, bigNonce+2, tx.Delegate{Validator: testAddr(3), Amount: bigAmount + 2}),
		signedTx(testChain, bigNonce+3, tx.Unbond{Validator: testAddr(1), Amount: bigAmount + 3}),
	}
	f.pending = signedTx(testChain, bigNonce+4, tx.Transfer{To: testAddr(4), Amount: 1})
	var parent block.Hash
	for height := range uint64(3) {
		var txs []*tx.Tx
		var receipts []*block.Receipt
		if height == 1 {
			txs = f.included
			for i, t := range txs {
				r := &block.Receipt{TxHash: t.Hash(), GasUsed: t.Gas(), FeePaid: t.Gas() * (bigFee - 5), Tip: t.Gas() * 3}
				if i == 3 {
					r.Status, r.Reason = block.StatusFailed, "unbond exceeds bonded stake"
				}
				receipts = append(receipts, r)
			}
		}
		h := testHeader(height, parent, txs, receipts)
		br := &BlockResult{Block: &block.Block{Header: h, Txs: txs}, Hash: h.Hash(), Finality: FinalityCanonical, Receipts: receipts}
		if height <= 1 {
			br.Finality = FinalityFinal
		}
		if height == 0 {
			br.Finality = FinalityProven
		}
		f.blocks = append(f.blocks, br)
		f.byHash[br.Hash] = br
		for i, t := range txs {
			bh := br.Hash
			f.txs[t.Hash()] = &TxResult{Tx: t, Status: TxFinal, BlockHash: &bh, Height: height, Index: i, Receipt: receipts[i]}
		}
		parent = br.Hash
	}
	f.finalized = 1
	f.txs[f.pending.Hash()] = &TxResult{Tx: f.pending, Status: TxPending}
	v := &account.Validator{Delegated: bigAmount + 11, DelegatorShares: bigAmount + 12, Slashed: 1<<53 + 1}
	fill(v.BLSPublicKey[:], 0x10)
	fill(v.ProofOfPossession[:], 0x20)
	acct := account.Account{
		Address: f.rich, Balance: 1<<63 + 1, Nonce: bigNonce + 4, Bonded: bigAmount + 1,
		Delegations: []account.Delegation{{Validator: testAddr(3), Shares: bigAmount + 2}},
		Unbonding:   []account.Unbonding{{Validator: testAddr(1), Amount: 1<<54 + 1, Release: 1234}},
		Validator:   v,
	}
	f.accounts[f.rich] = &AccountResult{Address: f.rich, Exists: true, Index: 7, Account: acct, PendingNonce: bigNonce + 5, Height: 2,
		DelegationValues: []uint64{bigAmount - 3}}
	return f
}

func (f *fakeBackend) check() error {
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.failWith
}

func (f *fakeBackend) ChainID() string { return testChain }

func (f *fakeBackend) SubmitTx(_ context.Context, raw []byte) (tx.Hash, error) {
	if err := f.check(); err != nil {
		return tx.Hash{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.submitErr != nil {
		return tx.Hash{}, f.submitErr
	}
	t, err := tx.Decode(raw)
	if err != nil {
		return tx.Hash{}, err
	}
	if err := t.CheckStateless(testChain); err != nil {
		return tx.Hash{}, err
	}
	f.txs[t.Hash()] = &TxResult{Tx: t, Status: TxPending}
	return t.Hash(), nil
}

func (f *fakeBackend) Tx(_ context.Context, h tx.Hash) (*TxResult, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.txs[h]
	if !ok {
		return nil, ErrNotFound
	}
	return r, nil
}

func (f *fakeBackend) Account(_ context.Context, a account.Address) (*AccountResult, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.accounts[a]; ok {
		return r, nil
	}
	return &AccountResult{Address: a, Account: account.Account{Address: a}, Height: 2}, nil
}

func (f *fakeBackend) Block(_ context.Context, ref BlockRef) (*BlockResult, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case ref.Height != nil:
		if *ref.Height < uint64(len(f.blocks)) {
			return f.blocks[*ref.Height], nil
		}
	case ref.Hash != nil:
		if b, ok := f.byHash[*ref.Hash]; ok {
			return b, nil
		}
	case ref.Tag == TagHead:
		return f.blocks[len(f.blocks)-1], nil
	case ref.Tag == TagFinalized:
		return f.blocks[f.finalized], nil
	}
	return nil, ErrNotFound
}

func (f *fakeBackend) FeeQuote(_ context.Context, within uint32) (*FeeQuote, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return &FeeQuote{BaseFee: 1<<58 + 2, MaxFeePerGas: 1<<59 + uint64(within), MaxPriorityFeePerGas: 1<<54 + uint64(within)}, nil
}

// Subscribe hands out an unbuffered channel: publish returns once every
// live subscriber's server goroutine has taken the event.
func (f *fakeBackend) Subscribe(ctx context.Context) (<-chan Event, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	s := &fakeSub{ctx: ctx, ch: make(chan Event)}
	f.mu.Lock()
	f.subs = append(f.subs, s)
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, x := range f.subs {
			if x == s {
				f.subs = append(f.subs[:i], f.subs[i+1:]...)
				break
			}
		}
		close(s.ch)
	}()
	return s.ch, nil
}

func (f *fakeBackend) publish(ev Event) {
	f.mu.Lock()
	subs := append([]*fakeSub(nil), f.subs...)
	f.mu.Unlock()
	for _, s := range subs {
		select {
		case s.ch <- ev:
		case <-s.ctx.Done():
		}
	}
}

// subContexts returns the contexts of the live subscriptions.
// liveSubs counts the backend subscriptions whose stream has not ended.
func liveSubs(f *fakeBackend) int {
	live := 0
	for _, sc := range f.subContexts() {
		if sc.Err() == nil {
			live++
		}
	}
	return live
}

func (f *fakeBackend) subContexts() []context.Context {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []context.Context
	for _, s := range f.subs {
		out = append(out, s.ctx)
	}
	return out
}

// testServer starts a server on a loopback port for the test's lifetime.
type testServer struct {
	f    *fakeBackend
	srv  *Server
	addr string
}

func startServer(t testing.TB, f *fakeBackend, opts Options, tweak ...func(*Server)) *testServer {
	t.Helper()
	srv := NewServer(f, opts)
	for _, fn := range tweak {
		fn(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done, err := srv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{f: f, srv: srv, addr: addr.String()}
}

func (ts *testServer) httpURL() string { return "http://" + ts.addr + "/" }
func (ts *testServer) wsURL() string   { return "ws://" + ts.addr + WebSocketPath }

func dial(t testing.TB, url string) *Client {
	t.Helper()
	c, err := Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// post sends body to the server and returns the status and response body.
func post(t testing.TB, url, body string) (int, []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, buf.Bytes()
}

func req(method string, params ...any) string {
	b := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":[`, method)
	for i, p := range params {
		if i > 0 {
			b += ","
		}
		switch v := p.(type) {
		case string:
			b += fmt.Sprintf("%q", v)
		case json.RawMessage:
			b += string(v)
		default:
			b += fmt.Sprint(v)
		}
	}
	return b + "]}"
}
