package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/internal/testbin"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
)

func run(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = dispatch(args, &o, &e)
	return o.String(), e.String(), code
}

func TestProveVerifyArgs(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.proof")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"prove without block", []string{"prove"}, 2, "-block is required"},
		{"prove block 0", []string{"prove", "-block", "0"}, 2, "genesis state and has no proof"},
		{"prove block not a number", []string{"prove", "-block", "ten"}, 2, `want a block height, got "ten"`},
		{"prove negative workers", []string{"prove", "-block", "3", "-workers", "-2"}, 2, "-workers -2"},
		{"prove positional", []string{"prove", "-block", "3", "extra"}, 2, `unexpected argument "extra"`},
		{"prove unknown flag", []string{"prove", "-blocks", "3"}, 2, "flag provided but not defined: -blocks"},
		{"prove bad node URL", []string{"prove", "-block", "3", "-node", "ftp://x"}, 1, `scheme "ftp"`},
		{"prove node down", []string{"prove", "-block", "3", "-rpc", "http://127.0.0.1:1"}, 1, "cannot reach the node at http://127.0.0.1:1"},
		{"verify nothing", []string{"verify"}, 2, "exactly one of -proof FILE and -block N"},
		{"verify both", []string{"verify", "-proof", missing, "-block", "2"}, 2, "exactly one of"},
		{"verify block 0", []string{"verify", "-block", "0"}, 2, "genesis"},
		{"verify missing file", []string{"verify", "-proof", missing}, 1, missing + ": no such file"},
		{"verify a directory", []string{"verify", "-proof", dir}, 1, dir},
		{"verify positional", []string{"verify", "x.proof"}, 2, `unexpected argument "x.proof"`},
		{"help", []string{"verify", "-h"}, 0, "Usage: trellis verify -proof FILE | -block N"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := run(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errOut, tc.code, tc.msg)
			}
		})
	}
}

// provedFile proves a small real batch in-process and writes it.
func provedFile(t *testing.T, updates int) (string, *proveResult) {
	t.Helper()
	pub, w, err := batch.Sample(updates)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	res, err := proveStatement(pub, w, 0, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "queries") || !strings.Contains(progress.String(), "100%") {
		t.Errorf("progress lines:\n%s", progress.String())
	}
	path := filepath.Join(t.TempDir(), "block.proof")
	if err := writeFileAtomic(path, res.File.Encode()); err != nil {
		t.Fatal(err)
	}
	return path, res
}

// TestProofFileRoundTrip: prove → file → verify from the file alone, and
// every kind of damage to the file is reported naming what is wrong.
func TestProofFileRoundTrip(t *testing.T) {
	path, res := provedFile(t, 4)
	out, errOut, code := run("verify", "-proof", path)
	if code != 0 || !strings.HasPrefix(out, "valid:") || !strings.Contains(out, "4 updates") ||
		!strings.Contains(out, "new root:    "+digestHex(res.File.Public.NewRoot)) || errOut != "" {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const pubAt = 5 // after "TPRF" and the version
	proofAt := pubAt + batch.PublicSize + 4
	other := res.File.Public
	other.NewRoot = other.OldRoot
	for _, tc := range []struct {
		name  string
		tweak func(b []byte) []byte
		msg   string
	}{
		{"empty", func([]byte) []byte { return nil }, "shorter than its"},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "not a version-1 TPRF proof file"},
		{"version", func(b []byte) []byte { b[4] = 9; return b }, "not a version-1"},
		{"old root not canonical", func(b []byte) []byte { copy(b[pubAt:], []byte{0xff, 0xff, 0xff, 0xff}); return b }, "old root"},
		{"update count 0", func(b []byte) []byte { copy(b[pubAt+3*hash.DigestSize:], []byte{0, 0, 0, 0}); return b }, "0 updates"},
		{"truncated proof", func(b []byte) []byte { return b[:len(b)-1] }, "header says"},
		{"trailing bytes", func(b []byte) []byte { return append(b, 0) }, "header says"},
		{"other public inputs", func(b []byte) []byte { copy(b[pubAt:], other.Encode()); return b }, "is not valid"},
		{"flipped proof byte", func(b []byte) []byte { b[len(b)-40] ^= 1; return b }, "is not valid"},
		{"proof header", func(b []byte) []byte { b[proofAt] ^= 0xff; return b }, "is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.proof")
			if err := os.WriteFile(bad, tc.tweak(bytes.Clone(good)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := run("verify", "-proof", bad)
			if code != 1 || out != "" || !strings.Contains(errOut, bad) || !strings.Contains(errOut, tc.msg) {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 naming the file and %q", code, out, errOut, tc.msg)
			}
		})
	}
}

// TestVerifyInSeparateProcess: a proof made here verifies in another
// process, the trellis binary, from the file and nothing else.
func TestVerifyInSeparateProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the trellis binary")
	}
	path, _ := provedFile(t, 3)
	bin := testbin.Build(t, "cmd/trellis")
	out, errOut, code := trellisCLI(t, bin, t.TempDir(), "verify", "-proof", path)
	if code != 0 || !strings.HasPrefix(out, "valid:") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// chainFake is a node with two blocks after genesis, their witnesses and
// the proofs recorded so far: enough of rpc.Backend and rpc.ProofBackend
// for the proof commands.
type chainFake struct {
	mu      sync.Mutex
	roots   []hash.Digest // state root of blocks 0, 1, 2
	pubs    map[uint64]batch.Public
	witness map[uint64][]byte
	proofs  map[uint64]*rpc.ProofRecord
}

func newChainFake(t *testing.T) *chainFake {
	pub, w, err := batch.Sample(3)
	if err != nil {
		t.Fatal(err)
	}
	return &chainFake{
		roots:   []hash.Digest{{}, pub.OldRoot, pub.NewRoot},
		pubs:    map[uint64]batch.Public{2: pub},
		witness: map[uint64][]byte{2: w.Encode()},
		proofs:  map[uint64]*rpc.ProofRecord{},
	}
}

func (f *chainFake) ChainID() string { return "trellis-prove-test" }
func (f *chainFake) SubmitTx(context.Context, []byte) (tx.Hash, error) {
	return tx.Hash{}, errors.New("read-only")
}
func (f *chainFake) Tx(context.Context, tx.Hash) (*rpc.TxResult, error) { return nil, rpc.ErrNotFound }
func (f *chainFake) Account(_ context.Context, a account.Address) (*rpc.AccountResult, error) {
	return &rpc.AccountResult{Address: a}, nil
}
func (f *chainFake) FeeQuote(context.Context, uint32) (*rpc.FeeQuote, error) {
	return &rpc.FeeQuote{}, nil
}
func (f *chainFake) Subscribe(context.Context) (<-chan rpc.Event, error) {
	return nil, errors.New("no subscriptions")
}

func (f *chainFake) Block(_ context.Context, ref rpc.BlockRef) (*rpc.BlockResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ref.Height == nil || *ref.Height >= uint64(len(f.roots)) {
		return nil, rpc.ErrNotFound
	}
	h := *ref.Height
	return &rpc.BlockResult{Block: &block.Block{Header: block.Header{ChainID: f.ChainID(), Height: h, StateRoot: f.roots[h]}},
		Hash: block.Hash{byte(h)}, Finality: rpc.FinalityFinal}, nil
}

func (f *chainFake) Witness(_ context.Context, h uint64) (batch.Public, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.witness[h]
	if !ok {
		return batch.Public{}, nil, rpc.ErrNotFound
	}
	return f.pubs[h], w, nil
}

func (f *chainFake) Proof(_ context.Context, h uint64) (*rpc.ProofRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.proofs[h]
	if !ok {
		return nil, rpc.ErrNotFound
	}
	return r, nil
}

func startChainFake(t *testing.T, f *chainFake) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr, done, err := rpc.NewServer(f, rpc.Options{}).Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + addr.String()
}

// TestProveAndVerifyOverRPC runs the operator's commands against a node's
// JSON-RPC API: prove block 2 from its witness, verify the file, then
// verify the proof the chain recorded.
func TestProveAndVerifyOverRPC(t *testing.T) {
	f := newChainFake(t)
	url := startChainFake(t, f)
	dir := t.TempDir()
	out := filepath.Join(dir, "two.proof")

	stdout, stderr, code := run("prove", "-block", "2", "-node", url, "-out", out, "-workers", "1")
	if code != 0 {
		t.Fatalf("prove: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"block:       2\n", "updates:     3\n", "trace rows:  ", "proof file:  " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("prove output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "proving block 2: 3 updates on 1 worker") {
		t.Errorf("prove stderr:\n%s", stderr)
	}
	file, err := readProofFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, code := run("verify", "-proof", out); code != 0 {
		t.Fatal("the proof file does not verify")
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no witness", []string{"prove", "-block", "1", "-node", url, "-out", filepath.Join(dir, "x")}, 1, "block 1: the node at " + url + " has no witness"},
		{"unknown block", []string{"prove", "-block", "9", "-node", url}, 1, "has no witness"},
		{"no proof yet", []string{"verify", "-block", "2", "-node", url}, 1, "block 2: no proof recorded on chain yet"},
	} {
		if _, errOut, code := run(tc.args...); code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%s: exit %d\n%s\nwant %q", tc.name, code, errOut, tc.msg)
		}
	}

	txh := tx.Hash{0xab}
	f.mu.Lock()
	f.proofs[2] = &rpc.ProofRecord{File: file, Prover: account.SystemAddress("prover"), TxHash: &txh}
	f.mu.Unlock()
	stdout, stderr, code = run("verify", "-block", "2", "-rpc", url)
	if code != 0 || !strings.HasPrefix(stdout, "valid:") || !strings.Contains(stdout, "proof tx:    "+txh.String()) {
		t.Fatalf("verify -block: exit %d\n%s%s", code, stdout, stderr)
	}

	// A valid proof of other roots than the chain's is refused.
	f.mu.Lock()
	f.roots[2] = f.roots[0]
	f.mu.Unlock()
	_, stderr, code = run("verify", "-block", "2", "-rpc", url)
	if code != 1 || !strings.Contains(stderr, "answered inconsistently") || !strings.Contains(stderr, "new root") {
		t.Fatalf("verify against other roots: exit %d\n%s", code, stderr)
	}
	_, stderr, code = run("prove", "-block", "2", "-node", url, "-out", filepath.Join(dir, "y"))
	if code != 1 || !strings.Contains(stderr, "is not the state root") {
		t.Fatalf("prove against other roots: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "y")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused prove left a file: %v", err)
	}
}
