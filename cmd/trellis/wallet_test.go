package main

// Unit tests of the wallet commands (keys, tx, query). The tx and query
// commands talk to a real core/rpc server over HTTP and WebSocket; behind it
// is fakeNode, an in-memory chain that exists only in these tests.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/core/keystore"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
)

const testPassphrase = "test passphrase"

// walletHome returns a fresh home directory, with the passphrase in the
// environment and a light scrypt cost for the keys the CLI writes.
func walletHome(t *testing.T) string {
	t.Helper()
	t.Setenv(envPassphrase, testPassphrase)
	t.Setenv(envHome, "")
	old := keystoreOptions
	keystoreOptions = []keystore.Option{keystore.WithScrypt(keystore.Params{N: 16, R: 8, P: 1})}
	t.Cleanup(func() { keystoreOptions = old })
	return t.TempDir()
}

// cli runs the trellis CLI in-process.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = dispatch(args, &o, &e)
	return o.String(), e.String(), code
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("trellis %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

var addrRE = regexp.MustCompile(`address:\s+(0x[0-9a-f]{64})`)

func newKey(t *testing.T, home, name string) account.Address {
	t.Helper()
	out := mustCLI(t, "keys", "new", name, "-home", home)
	m := addrRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no address in:\n%s", out)
	}
	a, err := account.ParseAddress(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestKeysCommands(t *testing.T) {
	home := walletHome(t)
	out := mustCLI(t, "keys", "new", "alice", "-home", home)
	for _, want := range []string{"created key alice", "address:    0x", "public key: 0x", filepath.Join(home, "keys", "alice.json")} {
		if !strings.Contains(out, want) {
			t.Errorf("keys new: no %q in:\n%s", want, out)
		}
	}
	alice := addrRE.FindStringSubmatch(out)[1]
	st, err := os.Stat(filepath.Join(home, "keys", "alice.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	// The flag may come before the name; $TRELLIS_HOME stands in for -home.
	t.Setenv(envHome, home)
	bob := newKey(t, "", "bob")

	out = mustCLI(t, "keys", "list", "-home", home)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.HasPrefix(lines[1], "alice") || !strings.HasSuffix(lines[1], alice) ||
		!strings.HasPrefix(lines[2], "bob") || !strings.HasSuffix(lines[2], bob.String()) {
		t.Errorf("keys list:\n%s", out)
	}
	var listed []keyJSON
	if err := json.Unmarshal([]byte(mustCLI(t, "keys", "list", "-json")), &listed); err != nil || len(listed) != 2 || listed[1].Address != bob {
		t.Errorf("keys list -json: %v %+v", err, listed)
	}

	out = mustCLI(t, "keys", "show", "alice")
	if !strings.Contains(out, "address:    "+alice) || !strings.Contains(out, "public key: 0x") {
		t.Errorf("keys show:\n%s", out)
	}
	var shown keyJSON
	if err := json.Unmarshal([]byte(mustCLI(t, "keys", "show", "-json", "bob")), &shown); err != nil || shown.Address != bob || shown.Name != "bob" {
		t.Errorf("keys show -json: %v %+v", err, shown)
	}
	// The key decrypts with the passphrase from the environment.
	ks, err := keystore.Open(filepath.Join(home, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Unlock("alice", testPassphrase); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys", "new", "alice"}, 1, "error: key already exists: \"alice\" in " + filepath.Join(home, "keys")},
		{[]string{"keys", "new", "Alice"}, 1, "error: invalid key name \"Alice\""},
		{[]string{"keys", "show", "carol"}, 1, "error: key not found: no key \"carol\" in " + filepath.Join(home, "keys")},
		{[]string{"keys", "new"}, 2, "Usage: trellis keys new NAME"},
		{[]string{"keys", "new", "a", "b"}, 2, "Usage: trellis keys new NAME"},
		{[]string{"keys", "new", "-h"}, 0, "Example:\n  trellis keys new alice"},
		{[]string{"keys", "list", "-h"}, 0, "Example:"},
		{[]string{"keys", "show", "-h"}, 0, "Example:"},
		{[]string{"keys", "import", "-h"}, 0, "Example:"},
		{[]string{"keys", "-h"}, 0, "trellis keys new NAME"},
		{[]string{"keys"}, 2, "trellis keys list"},
		{[]string{"keys", "rotate"}, 2, "Usage:"},
	} {
		out, errOut, code := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("trellis %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", strings.Join(tc.args, " "), code, tc.code, out, errOut, tc.want)
		}
	}
}

func TestKeysEmptyList(t *testing.T) {
	home := walletHome(t)
	out := mustCLI(t, "keys", "list", "-home", home)
	if !strings.Contains(out, "no keys in "+filepath.Join(home, "keys")) {
		t.Errorf("empty list:\n%s", out)
	}
}

func TestKeysPassphrase(t *testing.T) {
	home := walletHome(t)
	// No variable and no terminal: a clear error naming the variable.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	oldFd := stdinFd
	stdinFd = int(r.Fd())
	defer func() { stdinFd = oldFd }()
	os.Unsetenv(envPassphrase) // t.Setenv in walletHome restores it
	_, errOut, code := cli(t, "keys", "new", "alice", "-home", home)
	if code != 1 || !strings.Contains(errOut, envPassphrase+" is not set and stdin is not a terminal") {
		t.Errorf("no passphrase source: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(home, "keys", "alice.json")); !os.IsNotExist(err) {
		t.Errorf("a key was written without a passphrase: %v", err)
	}
	t.Setenv(envPassphrase, "")
	if _, errOut, code := cli(t, "keys", "new", "alice", "-home", home); code != 1 || !strings.Contains(errOut, "passphrase is empty") {
		t.Errorf("empty passphrase: exit %d, %s", code, errOut)
	}
}

func TestKeysImport(t *testing.T) {
	home := walletHome(t)
	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	want := account.FromPublicKey(pub).String()
	files := map[string]string{
		"init.json":  fmt.Sprintf(`{"type":"ed25519","public_key":"%x","private_key":"%x"}`, pub, priv.Seed()),
		"seed.hex":   "0x" + hex.EncodeToString(priv.Seed()) + "\n",
		"priv.hex":   hex.EncodeToString(priv),
		"bls.json":   `{"type":"bls12-381-g1","public_key":"00","private_key":"00"}`,
		"short.hex":  "abcd",
		"nothex.hex": "zz",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range []string{"init.json", "seed.hex", "priv.hex"} {
		name := fmt.Sprintf("k%d", i)
		out := mustCLI(t, "keys", "import", name, "-file", filepath.Join(dir, f), "-home", home)
		if !strings.Contains(out, "imported key "+name) || !strings.Contains(out, "address:    "+want) {
			t.Errorf("import %s:\n%s", f, out)
		}
	}
	for _, tc := range []struct{ file, want string }{
		{"bls.json", `holds a "bls12-381-g1" key; only ed25519 account keys can be imported`},
		{"short.hex", "the private key is 2 bytes"},
		{"nothex.hex", "not hex"},
		{"missing.hex", "no such file"},
	} {
		_, errOut, code := cli(t, "keys", "import", "x", "-file", filepath.Join(dir, tc.file), "-home", home)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("import %s: exit %d, %s", tc.file, code, errOut)
		}
	}
	if _, errOut, code := cli(t, "keys", "import", "k0", "-file", filepath.Join(dir, "seed.hex"), "-home", home); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("import over an existing key: exit %d, %s", code, errOut)
	}
	if _, _, code := cli(t, "keys", "import", "x", "-home", home); code != 2 {
		t.Errorf("import without -file: exit %d", code)
	}
}

// fakeNode is an in-memory chain behind a real rpc.Server. Submitted
// transactions wait in a pool; when mine is set, the node includes them in a
// new block as soon as a client asks for one (see Tx).
type fakeNode struct {
	mu        sync.Mutex
	chainID   string
	quote     rpc.FeeQuote
	accounts  map[account.Address]*rpc.AccountResult
	txs       map[tx.Hash]*rpc.TxResult
	blocks    []*rpc.BlockResult
	byHash    map[block.Hash]*rpc.BlockResult
	pool      []*tx.Tx
	submitted []*tx.Tx
	subs      map[chan rpc.Event]bool
	mine      bool
	// fail makes a transaction fail (reason) or, with drop, be dropped.
	fail func(t *tx.Tx) (reason string, drop bool)
}

func newFakeNode(t *testing.T, noWebSocket bool) (*fakeNode, string) {
	f := &fakeNode{
		chainID:  "wallet-test",
		quote:    rpc.FeeQuote{BaseFee: 7, MaxFeePerGas: 15, MaxPriorityFeePerGas: 1},
		accounts: map[account.Address]*rpc.AccountResult{},
		txs:      map[tx.Hash]*rpc.TxResult{},
		byHash:   map[block.Hash]*rpc.BlockResult{},
		subs:     map[chan rpc.Event]bool{},
		mine:     true,
	}
	f.addBlock(nil, nil) // genesis
	var h http.Handler = rpc.NewServer(f, rpc.Options{})
	if noWebSocket {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == rpc.WebSocketPath {
				http.NotFound(w, r)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeNode) fund(a account.Address, balance uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts[a] = &rpc.AccountResult{Address: a, Exists: true, Index: uint32(3 + len(f.accounts)),
		Account: account.Account{Address: a, Balance: balance}}
}

func (f *fakeNode) addBlock(txs []*tx.Tx, receipts []*block.Receipt) *rpc.BlockResult {
	h := block.Header{ChainID: f.chainID, Height: uint64(len(f.blocks)), TimestampMs: 1_750_000_000_000 + int64(len(f.blocks))*2000, BaseFee: f.quote.BaseFee, GasLimit: 1_000_000}
	if len(f.blocks) > 0 {
		h.Parent = f.blocks[len(f.blocks)-1].Hash
	}
	for _, r := range receipts {
		h.GasUsed += r.GasUsed
	}
	b := &block.Block{Header: h, Txs: txs}
	b.Header.TxRoot = b.ComputeTxRoot()
	b.Header.ReceiptsRoot = block.ReceiptsRoot(receipts)
	br := &rpc.BlockResult{Block: b, Hash: b.Hash(), Finality: rpc.FinalityCanonical, Receipts: receipts}
	f.blocks = append(f.blocks, br)
	f.byHash[br.Hash] = br
	return br
}

func (f *fakeNode) emit(e rpc.Event) {
	for ch := range f.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// mineLocked includes the pool in a block.
func (f *fakeNode) mineLocked() {
	if !f.mine || len(f.pool) == 0 {
		return
	}
	var txs []*tx.Tx
	var receipts []*block.Receipt
	for _, t := range f.pool {
		reason, drop := "", false
		if f.fail != nil {
			reason, drop = f.fail(t)
		}
		if drop {
			f.txs[t.Hash()].Status = rpc.TxDropped
			f.emit(rpc.Event{Kind: rpc.EventTxStatus, Tx: &rpc.TxEvent{Hash: t.Hash(), Status: rpc.TxDropped, Reason: reason}})
			continue
		}
		gas := t.Gas()
		r := &block.Receipt{TxHash: t.Hash(), GasUsed: gas, FeePaid: gas * (f.quote.BaseFee + t.MaxPriorityFeePerGas), Tip: gas * t.MaxPriorityFeePerGas}
		if reason != "" {
			r.Status, r.Reason = block.StatusFailed, reason
		}
		a := f.accounts[t.Sender()]
		a.Account.Nonce++
		a.Account.Balance -= r.FeePaid
		txs = append(txs, t)
		receipts = append(receipts, r)
	}
	f.pool = nil
	if len(txs) == 0 {
		return
	}
	br := f.addBlock(txs, receipts)
	for i, t := range txs {
		bh := br.Hash
		f.txs[t.Hash()] = &rpc.TxResult{Tx: t, Status: rpc.TxIncluded, BlockHash: &bh, Height: br.Block.Header.Height, Index: i, Receipt: receipts[i]}
		f.emit(rpc.Event{Kind: rpc.EventTxStatus, Tx: &rpc.TxEvent{Hash: t.Hash(), Status: rpc.TxIncluded, Height: br.Block.Header.Height, BlockHash: &bh}})
	}
	f.emit(rpc.Event{Kind: rpc.EventNewHead, Block: br})
}

func (f *fakeNode) ChainID() string { return f.chainID }

func (f *fakeNode) SubmitTx(_ context.Context, raw []byte) (tx.Hash, error) {
	t, err := tx.Decode(raw)
	if err != nil {
		return tx.Hash{}, err
	}
	if err := t.CheckStateless(f.chainID); err != nil {
		return tx.Hash{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accounts[t.Sender()]
	if a == nil {
		return tx.Hash{}, fmt.Errorf("%w: sender %s has no account", mempool.ErrInsufficientFunds, t.Sender())
	}
	if t.Nonce < a.PendingNonce {
		return tx.Hash{}, fmt.Errorf("%w: nonce %d, state nonce %d", mempool.ErrNonceTooLow, t.Nonce, a.PendingNonce)
	}
	if t.Nonce > a.PendingNonce {
		return tx.Hash{}, fmt.Errorf("%w: next expected %d, got %d", mempool.ErrNonceGap, a.PendingNonce, t.Nonce)
	}
	a.PendingNonce++
	f.pool = append(f.pool, t)
	f.submitted = append(f.submitted, t)
	f.txs[t.Hash()] = &rpc.TxResult{Tx: t, Status: rpc.TxPending}
	return t.Hash(), nil
}

// Tx answers with where the transaction stands now and then, if it is in
// the pool, includes (or drops) it: a subscriber sees its status change after
// the subscription began, and a poller sees it on its next call.
func (f *fakeNode) Tx(_ context.Context, h tx.Hash) (*rpc.TxResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.txs[h]
	if r == nil {
		return nil, rpc.ErrNotFound
	}
	c := *r
	if c.Status == rpc.TxPending {
		go func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.mineLocked()
		}()
	}
	return &c, nil
}

func (f *fakeNode) Account(_ context.Context, a account.Address) (*rpc.AccountResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.accounts[a]
	if r == nil {
		return &rpc.AccountResult{Address: a, Height: uint64(len(f.blocks) - 1)}, nil
	}
	c := *r
	c.Account = *r.Account.Clone()
	c.Height = uint64(len(f.blocks) - 1)
	return &c, nil
}

func (f *fakeNode) Block(_ context.Context, ref rpc.BlockRef) (*rpc.BlockResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b *rpc.BlockResult
	switch {
	case ref.Height != nil && *ref.Height < uint64(len(f.blocks)):
		b = f.blocks[*ref.Height]
	case ref.Hash != nil:
		b = f.byHash[*ref.Hash]
	case ref.Tag == rpc.TagHead:
		b = f.blocks[len(f.blocks)-1]
	case ref.Tag == rpc.TagFinalized:
		b = f.blocks[0]
	}
	if b == nil {
		return nil, rpc.ErrNotFound
	}
	return b, nil
}

func (f *fakeNode) FeeQuote(context.Context, uint32) (*rpc.FeeQuote, error) {
	q := f.quote
	return &q, nil
}

func (f *fakeNode) Subscribe(ctx context.Context) (<-chan rpc.Event, error) {
	ch := make(chan rpc.Event, 64)
	f.mu.Lock()
	f.subs[ch] = true
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, ch)
		close(ch)
		f.mu.Unlock()
	}()
	return ch, nil
}

func (f *fakeNode) last() *tx.Tx {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.submitted) == 0 {
		return nil
	}
	return f.submitted[len(f.submitted)-1]
}

// walletNode sets up a home with keys alice (funded) and bob, and a node.
func walletNode(t *testing.T, noWebSocket bool) (f *fakeNode, url, home string, alice, bob account.Address) {
	home = walletHome(t)
	alice = newKey(t, home, "alice")
	bob = newKey(t, home, "bob")
	f, url = newFakeNode(t, noWebSocket)
	f.fund(alice, 1_000_000_000)
	return f, url, home, alice, bob
}

func TestTxTransfer(t *testing.T) {
	for _, noWS := range []bool{false, true} {
		t.Run(fmt.Sprintf("noWebSocket=%v", noWS), func(t *testing.T) {
			f, url, home, alice, bob := walletNode(t, noWS)
			out, errOut, code := cli(t, "tx", "transfer", "-from", "alice", "-to", bob.String(), "-amount", "12345", "-node", url, "-home", home)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			sent := f.last()
			if sent == nil {
				t.Fatal("nothing submitted")
			}
			body, ok := sent.Body.(tx.Transfer)
			if !ok || body.To != bob || body.Amount != 12345 || sent.Sender() != alice || sent.ChainID != "wallet-test" ||
				sent.Nonce != 0 || sent.GasLimit != tx.GasTransfer || sent.MaxFeePerGas != 15 || sent.MaxPriorityFeePerGas != 1 {
				t.Errorf("submitted %+v", sent)
			}
			for _, want := range []string{
				"tx hash:   " + sent.Hash().String() + "\n",
				"type:      transfer of 12345 to " + bob.String(),
				"from:      " + alice.String() + " (alice), nonce 0",
				"fees:      gas limit 1000, max fee 15/gas, tip 1/gas (at most 15000)",
				"status:    included in block 1 (0x",
				"result:    ok\n",
				"gas used:  1000\n",
				"fee paid:  8000 (tip 1000)\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in:\n%s", want, out)
				}
			}
			if !strings.Contains(errOut, "waiting for inclusion") || !strings.Contains(errOut, "included") {
				t.Errorf("progress on stderr:\n%s", errOut)
			}
			// The next transaction takes the next nonce; -to takes a key name.
			mustCLI(t, "tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "1", "-node", url, "-home", home)
			if n := f.last().Nonce; n != 1 {
				t.Errorf("second transfer nonce %d, want 1", n)
			}
		})
	}
}

func TestTxRejected(t *testing.T) {
	_, url, home, _, bob := walletNode(t, false)
	out, errOut, code := cli(t, "tx", "transfer", "-from", "alice", "-to", bob.String(), "-amount", "5", "-nonce", "5", "-node", url, "-home", home)
	if code != 1 || !strings.Contains(errOut, "error: transaction rejected (nonce_gap): nonce gap: next expected 0, got 5") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(out, "tx hash") {
		t.Errorf("a rejected transaction printed as sent:\n%s", out)
	}
	// An account with nothing: the node's reason.
	_, errOut, code = cli(t, "tx", "transfer", "-from", "bob", "-to", "alice", "-amount", "5", "-node", url, "-home", home)
	if code != 1 || !strings.Contains(errOut, "error: transaction rejected (insufficient_funds)") {
		t.Errorf("unfunded: exit %d\n%s", code, errOut)
	}
}

func TestTxFailedAndDropped(t *testing.T) {
	f, url, home, _, bob := walletNode(t, false)
	f.fail = func(t *tx.Tx) (string, bool) { return "unbond of 7 exceeds the bonded 0", false }
	out, errOut, code := cli(t, "tx", "unbond", "-from", "alice", "-amount", "7", "-node", url, "-home", home)
	if code != 1 || !strings.Contains(out, "result:    failed: unbond of 7 exceeds the bonded 0") ||
		!strings.Contains(errOut, "error: transaction failed: unbond of 7 exceeds the bonded 0") {
		t.Errorf("failed: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if u, ok := f.last().Body.(tx.Unbond); !ok || u.Validator != f.last().Sender() || f.last().GasLimit != tx.GasStaking {
		t.Errorf("unbond without -validator: %+v", f.last())
	}
	f.fail = func(t *tx.Tx) (string, bool) { return "replaced by a higher fee", true }
	out, errOut, code = cli(t, "tx", "delegate", "-from", "alice", "-validator", bob.String(), "-amount", "7", "-node", url, "-home", home)
	if code != 1 || !strings.Contains(out, "status:    dropped") || !strings.Contains(errOut, "error: transaction dropped by the node: replaced by a higher fee") {
		t.Errorf("dropped: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestTxNoWaitAndTimeout(t *testing.T) {
	f, url, home, _, _ := walletNode(t, false)
	out := mustCLI(t, "tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "9", "-wait=false", "-node", url, "-home", home)
	if !strings.Contains(out, "status:    pending (follow it with: trellis query tx "+f.last().Hash().String()) {
		t.Errorf("-wait=false:\n%s", out)
	}
	f.mu.Lock()
	f.mine = false
	f.mu.Unlock()
	_, errOut, code := cli(t, "tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "9", "-timeout", "300ms", "-node", url, "-home", home)
	if code != 1 || !strings.Contains(errOut, "error: not included after 300ms; it may still be: trellis query tx "+f.last().Hash().String()) {
		t.Errorf("timeout: exit %d\n%s", code, errOut)
	}
}

func TestTxFees(t *testing.T) {
	f, url, home, _, _ := walletNode(t, false)
	for _, tc := range []struct {
		flags          []string
		maxFee, tip    uint64
		gasLimit, nonc uint64
	}{
		{[]string{"-max-fee", "100"}, 100, 1, tx.GasTransfer, 0},
		{[]string{"-max-fee", "3", "-below-base-fee"}, 3, 1, tx.GasTransfer, 1},
		{[]string{"-tip", "20"}, 27, 20, tx.GasTransfer, 2},
		{[]string{"-tip", "2", "-max-fee", "9", "-gas-limit", "5000"}, 9, 2, 5000, 3},
	} {
		args := append([]string{"tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "1", "-node", url, "-home", home}, tc.flags...)
		mustCLI(t, args...)
		s := f.last()
		if s.MaxFeePerGas != tc.maxFee || s.MaxPriorityFeePerGas != tc.tip || s.GasLimit != tc.gasLimit || s.Nonce != tc.nonc {
			t.Errorf("%v: max fee %d tip %d gas %d nonce %d", tc.flags, s.MaxFeePerGas, s.MaxPriorityFeePerGas, s.GasLimit, s.Nonce)
		}
	}
	// A max fee below the base fee (7) is refused unless asked for: it
	// could not be included now and would block the account's later nonces.
	n := len(f.submitted)
	for _, mf := range []string{"0", "6"} {
		_, errOut, code := cli(t, "tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "1", "-max-fee", mf, "-node", url, "-home", home)
		if code != 1 || !strings.Contains(errOut, "-max-fee "+mf+" is below the current base fee 7") || !strings.Contains(errOut, "-below-base-fee") || len(f.submitted) != n {
			t.Errorf("max fee %s below the base fee: exit %d\n%s", mf, code, errOut)
		}
	}
	// A tip above the max fee is refused before anything is sent.
	_, errOut, code := cli(t, "tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "1", "-tip", "5", "-max-fee", "4", "-below-base-fee", "-node", url, "-home", home)
	if code != 1 || !strings.Contains(errOut, "invalid transaction, not sent: invalid fee: max priority fee 5 exceeds max fee 4") || len(f.submitted) != n {
		t.Errorf("tip above max fee: exit %d\n%s", code, errOut)
	}
}

func TestTxBond(t *testing.T) {
	f, url, home, alice, _ := walletNode(t, false)
	_, errOut, code := cli(t, "tx", "bond", "-from", "alice", "-amount", "1000", "-node", url, "-home", home)
	if code != 1 || !strings.Contains(errOut, "is not a validator yet: its first bond registers it and needs -bls-key FILE") {
		t.Errorf("first bond without a BLS key: exit %d\n%s", code, errOut)
	}
	sk, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "validator_bls_key.json")
	if err := signer.WriteBLSKey(keyFile, sk); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, "tx", "bond", "-from", "alice", "-amount", "1000", "-bls-key", keyFile, "-node", url, "-home", home)
	b, ok := f.last().Body.(tx.Bond)
	if !ok || b.Amount != 1000 || b.BLSPublicKey != sk.PublicKey().Bytes() {
		t.Fatalf("bond %+v", f.last().Body)
	}
	pop, err := bls.SignatureFromBytes(b.ProofOfPossession[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := bls.VerifyProofOfPossession(sk.PublicKey(), pop); err != nil {
		t.Errorf("proof of possession: %v", err)
	}
	if !strings.Contains(out, "type:      bond of 1000, registering BLS key 0x") {
		t.Errorf("bond output:\n%s", out)
	}

	// Once registered, later bonds carry no key; a different key is refused.
	f.mu.Lock()
	f.accounts[alice].Account.Validator = &account.Validator{BLSPublicKey: b.BLSPublicKey, ProofOfPossession: b.ProofOfPossession}
	f.mu.Unlock()
	mustCLI(t, "tx", "bond", "-from", "alice", "-amount", "5", "-node", url, "-home", home)
	if b2 := f.last().Body.(tx.Bond); b2.HasKey() || b2.Amount != 5 {
		t.Errorf("second bond %+v", b2)
	}
	_, errOut = mustCLIErr(t, "tx", "bond", "-from", "alice", "-amount", "5", "-bls-key", keyFile, "-node", url, "-home", home)
	if !strings.Contains(errOut, "already a registered validator") || f.last().Body.(tx.Bond).HasKey() {
		t.Errorf("bond with the registered key again:\n%s", errOut)
	}
	other, _ := bls.GenerateKey(rand.Reader)
	otherFile := filepath.Join(t.TempDir(), "other.json")
	if err := signer.WriteBLSKey(otherFile, other); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := cli(t, "tx", "bond", "-from", "alice", "-amount", "5", "-bls-key", otherFile, "-node", url, "-home", home); code != 1 || !strings.Contains(errOut, "cannot change") {
		t.Errorf("bond with another key: exit %d\n%s", code, errOut)
	}
}

func mustCLIErr(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errOut, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("trellis %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

func TestTxDelegate(t *testing.T) {
	f, url, home, _, bob := walletNode(t, false)
	mustCLI(t, "tx", "delegate", "-from", "alice", "-validator", "bob", "-amount", "77", "-node", url, "-home", home)
	if d, ok := f.last().Body.(tx.Delegate); !ok || d.Validator != bob || d.Amount != 77 {
		t.Errorf("delegate %+v", f.last().Body)
	}
}

func TestTxUsageErrors(t *testing.T) {
	_, url, home, _, _ := walletNode(t, false)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tx"}, 2, "trellis tx transfer -from NAME"},
		{[]string{"tx", "-h"}, 0, "Amounts are plain integers in base units"},
		{[]string{"tx", "transfer", "-h"}, 0, "Example:\n  trellis tx transfer"},
		{[]string{"tx", "bond", "-h"}, 0, "Example:"},
		{[]string{"tx", "unbond", "-h"}, 0, "Example:"},
		{[]string{"tx", "delegate", "-h"}, 0, "Example:"},
		{[]string{"tx", "transfer", "-from", "alice", "-to", "bob"}, 2, "-from and -amount are required"},
		{[]string{"tx", "transfer", "-from", "alice", "-amount", "5"}, 2, "-to is required"},
		{[]string{"tx", "delegate", "-from", "alice", "-amount", "5"}, 2, "-validator is required"},
		{[]string{"tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "1.5"}, 2, `"1.5" is not a whole number of base units`},
		{[]string{"tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "-3"}, 2, "not a whole number"},
		{[]string{"tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "18446744073709551616"}, 2, "does not fit in 64 bits"},
		{[]string{"tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "0", "-node", url, "-home", home}, 1, "-amount must be positive"},
		{[]string{"tx", "transfer", "-from", "carol", "-to", "bob", "-amount", "1", "-node", url, "-home", home}, 1, `error: -from: key not found: no key "carol"`},
		{[]string{"tx", "transfer", "-from", "alice", "-to", "0x12", "-amount", "1", "-node", url, "-home", home}, 1, "error: -to: invalid address"},
		{[]string{"tx", "transfer", "-from", "alice", "-to", "Bob!", "-amount", "1", "-node", url, "-home", home}, 1, "neither an address"},
		{[]string{"tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "1", "-node", "http://127.0.0.1:1", "-home", home}, 1, "error: cannot reach the node at http://127.0.0.1:1"},
	} {
		out, errOut, code := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("trellis %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", strings.Join(tc.args, " "), code, tc.code, out, errOut, tc.want)
		}
	}
	t.Setenv(envPassphrase, "not it")
	_, errOut, code := cli(t, "tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "1", "-node", url, "-home", home)
	if code != 1 || !strings.Contains(errOut, "error: wrong passphrase for key alice") {
		t.Errorf("wrong passphrase: exit %d\n%s", code, errOut)
	}
}

func TestQuery(t *testing.T) {
	f, url, home, alice, bob := walletNode(t, false)
	mustCLI(t, "tx", "transfer", "-from", "alice", "-to", "bob", "-amount", "500", "-node", url, "-home", home)
	sent := f.last()
	f.mu.Lock()
	f.accounts[alice].Account.Delegations = []account.Delegation{{Validator: bob, Shares: 40}}
	f.accounts[alice].DelegationValues = []uint64{38}
	f.accounts[alice].Account.Unbonding = []account.Unbonding{{Validator: bob, Amount: 2, Release: 99}}
	f.mu.Unlock()

	out := mustCLI(t, "query", "account", "alice", "-node", url, "-home", home)
	for _, want := range []string{"address:     " + alice.String(), "balance:     999992000", "nonce:       1\n",
		"delegations: 38 to " + bob.String() + " (40 shares of its pool)", "unbonding:   2 from " + bob.String() + ", released at height 99", "height:      1"} {
		if !strings.Contains(out, want) {
			t.Errorf("query account: no %q in:\n%s", want, out)
		}
	}
	out = mustCLI(t, "query", "account", bob.String(), "-node", url)
	if !strings.Contains(out, "no account at height 1") {
		t.Errorf("query account of an empty address:\n%s", out)
	}
	var a rpc.Account
	if err := json.Unmarshal([]byte(mustCLI(t, "query", "account", "-json", alice.String(), "-node", url)), &a); err != nil || a.Balance != 999_992_000 || a.Nonce != 1 {
		t.Errorf("query account -json: %v %+v", err, a)
	}

	out = mustCLI(t, "query", "tx", sent.Hash().String(), "-node", url)
	for _, want := range []string{"tx hash:   " + sent.Hash().String(), "type:      transfer of 500 to " + bob.String(),
		"from:      " + alice.String() + ", nonce 0", "status:    included in block 1 (0x", ", index 0", "result:    ok", "gas used:  1000", "fee paid:  8000 (tip 1000)"} {
		if !strings.Contains(out, want) {
			t.Errorf("query tx: no %q in:\n%s", want, out)
		}
	}
	var qt struct {
		Transaction *rpc.Transaction `json:"transaction"`
		Receipt     *rpc.Receipt     `json:"receipt"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "query", "tx", sent.Hash().String(), "-json", "-node", url)), &qt); err != nil ||
		qt.Transaction == nil || qt.Transaction.Hash != sent.Hash() || qt.Receipt == nil || qt.Receipt.GasUsed != 1000 {
		t.Errorf("query tx -json: %v %+v", err, qt)
	}

	head := mustCLI(t, "query", "block", "head", "-node", url)
	for _, want := range []string{"height:      1\n", "finality:    canonical", "base fee:    7", "gas:         1000 used of 1000000", "txs:         1\n  " + sent.Hash().String()} {
		if !strings.Contains(head, want) {
			t.Errorf("query block head: no %q in:\n%s", want, head)
		}
	}
	hash := regexp.MustCompile(`hash:\s+(0x[0-9a-f]{64})`).FindStringSubmatch(head)[1]
	if byHash := mustCLI(t, "query", "block", hash, "-node", url); byHash != head {
		t.Errorf("block by hash differs from head:\n%s\n%s", byHash, head)
	}
	if byNum := mustCLI(t, "query", "block", "1", "-node", url); byNum != head {
		t.Errorf("block 1 differs from head:\n%s", byNum)
	}
	full := mustCLI(t, "query", "block", "1", "-txs", "-node", url)
	if !strings.Contains(full, sent.Hash().String()+"  transfer 500 from "+alice.String()+"  ok, fee 8000") {
		t.Errorf("query block -txs:\n%s", full)
	}
	if out := mustCLI(t, "query", "block", "finalized", "-node", url); !strings.Contains(out, "height:      0\n") {
		t.Errorf("query block finalized:\n%s", out)
	}
	var b rpc.Block
	if err := json.Unmarshal([]byte(mustCLI(t, "query", "block", "head", "-json", "-node", url)), &b); err != nil || b.Height != 1 || b.TxCount != 1 {
		t.Errorf("query block -json: %v %+v", err, b)
	}

	missing := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"query", "block", "7"}, 1, "error: no block 7 on the node at " + url},
		{[]string{"query", "block", "0x" + missing}, 1, "error: no block 0x" + missing},
		{[]string{"query", "block", "latest"}, 1, `"latest" is not a block height, hash, head or finalized`},
		{[]string{"query", "block", "0x12"}, 1, "invalid block hash"},
		{[]string{"query", "tx", "0x" + missing}, 1, "error: no transaction 0x" + missing + " on the node at " + url},
		{[]string{"query", "tx", "nothash"}, 1, "invalid hash"},
		{[]string{"query", "account", "carol", "-home", home}, 1, `key not found: no key "carol"`},
		{[]string{"query"}, 2, "trellis query account ADDR|NAME"},
		{[]string{"query", "-h"}, 0, "-json prints the node's JSON"},
		{[]string{"query", "tx", "-h"}, 0, "Example:"},
		{[]string{"query", "block", "-h"}, 0, "Example:"},
		{[]string{"query", "account", "-h"}, 0, "Example:"},
		{[]string{"query", "block"}, 2, "Usage: trellis query block"},
	} {
		args := append(tc.args, "-node", url)
		out, errOut, code := cli(t, args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("trellis %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", strings.Join(args, " "), code, tc.code, out, errOut, tc.want)
		}
	}
}

func TestWalletInUsage(t *testing.T) {
	_, errOut, _ := cli(t, "-h")
	for _, c := range []string{"keys", "tx", "query"} {
		if !regexp.MustCompile(`(?m)^  ` + c + ` +\S`).MatchString(errOut) {
			t.Errorf("%s missing from the usage:\n%s", c, errOut)
		}
	}
}

// TestTxProver: the wallet registers a prover and exits it, with the
// flags each needs and nothing else.
func TestTxProver(t *testing.T) {
	f, url, home, _, _ := walletNode(t, false)
	out := mustCLI(t, "tx", "prover-register", "-from", "alice", "-amount", "10000000", "-kind", "cpu", "-throughput", "100000", "-price", "1000", "-node", url, "-home", home)
	if !strings.Contains(out, "type:      prover_register of 10000000 bond, kind cpu, 100000 permutations/s, price 1000 per job") {
		t.Errorf("output:\n%s", out)
	}
	if b, ok := f.last().Body.(tx.ProverRegister); !ok || b != (tx.ProverRegister{Kind: "cpu", Throughput: 100000, Price: 1000, Bond: 10000000}) {
		t.Errorf("sent %+v", f.last().Body)
	}
	mustCLI(t, "tx", "prover-exit", "-from", "alice", "-node", url, "-home", home)
	if _, ok := f.last().Body.(tx.ProverExit); !ok {
		t.Errorf("sent %+v", f.last().Body)
	}
	for _, bad := range [][]string{
		{"prover-exit", "-from", "alice", "-amount", "5"},
		{"prover-register", "-from", "alice", "-amount", "5", "-kind", "cpu"},
		{"prover-register", "-from", "alice", "-kind", "cpu", "-throughput", "1"},
	} {
		if _, errOut, code := cli(t, append(append([]string{"tx"}, bad...), "-node", url, "-home", home)...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", bad, code, errOut)
		}
	}
}
