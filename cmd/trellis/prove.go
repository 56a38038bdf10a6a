package main

// trellis prove and trellis verify: an operator proves a block on this
// machine from the witness a node serves, and anyone checks a proof file,
// or the proof a node recorded, from its public inputs alone.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
)

// maxProofFile bounds the proof file verify reads: the header and the
// largest proof protocol/stark decodes.
const maxProofFile = 4 + 1 + batch.PublicSize + 4 + stark.MaxProofSize

// nodeFlag adds -node with -rpc as a second name, so the proof commands
// read like the other node commands and like the operator guide.
func nodeFlag(fs *flag.FlagSet) *string {
	u := new(string)
	fs.StringVar(u, "node", defaultNode, "JSON-RPC `URL` of the node")
	fs.StringVar(u, "rpc", defaultNode, "the same as -node")
	return u
}

// blockFlag is a block height that must be given and be at least 1.
type blockFlag struct {
	v   uint64
	set bool
}

func (b *blockFlag) String() string {
	if b == nil || !b.set {
		return ""
	}
	return strconv.FormatUint(b.v, 10)
}

func (b *blockFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want a block height, got %q", s)
	}
	if v == 0 {
		return errors.New("block 0 is the genesis state and has no proof: want a height of at least 1")
	}
	b.v, b.set = v, true
	return nil
}

func cmdProve(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("prove", "prove -block N [-node URL] [-out FILE] [-workers W]",
		"  trellis prove -block 42\n  trellis prove -block 42 -node http://10.0.0.5:8545 -out /srv/proofs/42.proof -workers 8", stderr)
	var blk blockFlag
	fs.Var(&blk, "block", "`height` of the block to prove (required)")
	node := nodeFlag(fs)
	out := fs.String("out", "", "proof `FILE` to write (default block-N.proof)")
	workers := fs.Int("workers", 0, "goroutines the prover uses; 0 uses every core")
	timeout := fs.Duration("timeout", callTimeout, "how long to wait for the node's answers")
	if code, ok := noArgs(fs, args); !ok {
		return code
	}
	if !blk.set {
		fmt.Fprintln(stderr, "error: -block is required")
		fs.Usage()
		return 2
	}
	if *workers < 0 {
		fmt.Fprintf(stderr, "error: -workers %d: want 0 (every core) or more\n", *workers)
		return 2
	}
	path := *out
	if path == "" {
		path = fmt.Sprintf("block-%d.proof", blk.v)
	}

	c, err := rpc.Dial(*node)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	defer c.Close()
	sctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	ctx, cancel := context.WithTimeout(sctx, *timeout)
	pub, raw, err := c.Witness(ctx, blk.v)
	if err == nil {
		err = checkRoots(ctx, c, blk.v, pub)
	}
	cancel()
	stop()
	if errors.Is(err, rpc.ErrNotFound) {
		return walletError(stderr, "block %d: the node at %s has no witness for it: %v", blk.v, *node, err)
	}
	if err != nil {
		return proofNodeError(stderr, *node, blk.v, err)
	}
	w, err := batch.DecodeWitness(raw)
	if err != nil {
		return walletError(stderr, "block %d: the witness from %s does not decode: %v", blk.v, *node, err)
	}

	fmt.Fprintf(stderr, "proving block %d: %d updates on %s\n", blk.v, pub.Updates, workerWords(*workers))
	res, err := proveStatement(pub, w, *workers, stderr)
	if err != nil {
		return walletError(stderr, "block %d: %v", blk.v, err)
	}
	enc := res.File.Encode()
	if err := writeFileAtomic(path, enc); err != nil {
		return walletError(stderr, "block %d: writing the proof: %v", blk.v, err)
	}
	fmt.Fprintf(stdout, "block:       %d\n", blk.v)
	fmt.Fprintf(stdout, "updates:     %d\n", pub.Updates)
	fmt.Fprintf(stdout, "trace rows:  %d\n", res.TraceRows)
	fmt.Fprintf(stdout, "proved in:   %s (verified in %s)\n", roundDur(res.Prove), roundDur(res.Verify))
	fmt.Fprintf(stdout, "proof file:  %s (%d bytes)\n", path, len(enc))
	printPublic(stdout, pub)
	return 0
}

func workerWords(w int) string {
	if w == 0 {
		return "every core"
	}
	if w == 1 {
		return "1 worker"
	}
	return fmt.Sprintf("%d workers", w)
}

// proveResult is a proved and checked statement.
type proveResult struct {
	File          *batch.File
	TraceRows     uint64
	Prove, Verify time.Duration
}

// proveStatement proves pub from w on the CPU backend, showing progress on
// progress, and verifies the proof before returning it.
func proveStatement(pub batch.Public, w *batch.Witness, workers int, progress io.Writer) (*proveResult, error) {
	pl := newProgressLine(progress)
	start := time.Now()
	proof, err := batch.Prove(pub, w, stark.NewCPU(workers), pl.report)
	took := time.Since(start)
	pl.done()
	if err != nil {
		return nil, fmt.Errorf("proving failed: %w", err)
	}
	vstart := time.Now()
	if err := batch.Verify(pub, proof); err != nil {
		return nil, fmt.Errorf("the proof just made does not verify (a prover bug; nothing written): %w", err)
	}
	vtook := time.Since(vstart)
	sp, err := stark.DecodeProof(proof)
	if err != nil {
		return nil, fmt.Errorf("the proof just made does not decode: %w", err)
	}
	return &proveResult{File: &batch.File{Public: pub, Proof: proof}, TraceRows: 1 << sp.LogTraceLength, Prove: took, Verify: vtook}, nil
}

// progressLine shows the prover's stage, percentage and elapsed time: one
// line rewritten in place on a terminal, a line per stage otherwise (logs,
// pipes).
type progressLine struct {
	w     io.Writer
	tty   bool
	start time.Time

	mu    sync.Mutex
	stage string
	last  time.Time
	drawn bool
}

func newProgressLine(w io.Writer) *progressLine {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressLine{w: w, tty: tty, start: time.Now()}
}

func (p *progressLine) report(stage string, fraction float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	elapsed := roundDur(now.Sub(p.start))
	if !p.tty {
		if stage != p.stage {
			p.stage = stage
			fmt.Fprintf(p.w, "  %-12s %3.0f%%  %s\n", stage, 100*fraction, elapsed)
		}
		return
	}
	if stage == p.stage && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.stage, p.last, p.drawn = stage, now, true
	fmt.Fprintf(p.w, "\r\033[K  %-12s %3.0f%%  %s", stage, 100*fraction, elapsed)
}

func (p *progressLine) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

func printPublic(w io.Writer, pub batch.Public) {
	fmt.Fprintf(w, "old root:    %s\n", digestHex(pub.OldRoot))
	fmt.Fprintf(w, "new root:    %s\n", digestHex(pub.NewRoot))
	fmt.Fprintf(w, "batch hash:  %s\n", digestHex(pub.BatchHash))
}

func digestHex(d hash.Digest) string { b := d.Bytes(); return rpc.Bytes(b[:]).String() }

// checkRoots checks that pub is about block height of the node's chain:
// its new root is the block's state root and its old root the parent's.
func checkRoots(ctx context.Context, c *rpc.Client, height uint64, pub batch.Public) error {
	for _, x := range []struct {
		h    uint64
		root hash.Digest
		what string
	}{{height, pub.NewRoot, "new root"}, {height - 1, pub.OldRoot, "old root"}} {
		b, err := c.BlockByNumber(ctx, x.h, false)
		if err != nil {
			return fmt.Errorf("block %d: %w", x.h, err)
		}
		if got := rpc.Root(x.root.Bytes()); b.StateRoot != got {
			return fmt.Errorf("%w: the public inputs' %s %s is not the state root %s of block %d", errRootMismatch, x.what, got, b.StateRoot, x.h)
		}
	}
	return nil
}

var errRootMismatch = errors.New("public inputs do not match the chain")

func proofNodeError(stderr io.Writer, node string, height uint64, err error) int {
	var re *rpc.Error
	switch {
	case errors.Is(err, errRootMismatch), errors.Is(err, rpc.ErrBadProofResult):
		return walletError(stderr, "block %d: the node at %s answered inconsistently: %v", height, node, err)
	case errors.As(err, &re) && re.Code == rpc.CodeMethodNotFound:
		return walletError(stderr, "the node at %s does not serve proofs: %s", node, re.Message)
	}
	return nodeError(stderr, node, err)
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, so that a reader never sees half a proof.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// noArgs parses flags and refuses positional arguments.
func noArgs(fs *flag.FlagSet, args []string) (int, bool) {
	pos, extra, code, ok := parseMixed(fs, args)
	if !ok {
		return code, false
	}
	if len(pos) > 0 || len(extra) > 0 {
		fmt.Fprintf(fs.Output(), "error: unexpected argument %q\n", append(pos, extra...)[0])
		fs.Usage()
		return 2, false
	}
	return 0, true
}

func cmdVerify(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("verify", "verify -proof FILE | -block N [-node URL]",
		"  trellis verify -proof block-42.proof\n  trellis verify -block 42 -node http://10.0.0.5:8545", stderr)
	file := fs.String("proof", "", "proof `FILE` to verify (as trellis prove writes it)")
	var blk blockFlag
	fs.Var(&blk, "block", "`height` of a block whose on-chain proof to fetch and verify")
	node := nodeFlag(fs)
	timeout := fs.Duration("timeout", callTimeout, "how long to wait for the node's answers")
	if code, ok := noArgs(fs, args); !ok {
		return code
	}
	if (*file == "") == !blk.set {
		fmt.Fprintln(stderr, "error: give exactly one of -proof FILE and -block N")
		fs.Usage()
		return 2
	}
	if *file != "" {
		f, err := readProofFile(*file)
		if err != nil {
			return walletError(stderr, "%v", err)
		}
		return verifyFile(stdout, stderr, *file, f)
	}

	c, err := rpc.Dial(*node)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rec, err := c.Proof(ctx, blk.v)
	if errors.Is(err, rpc.ErrNotFound) {
		return walletError(stderr, "block %d: no proof recorded on chain yet (node %s: %v)", blk.v, *node, err)
	}
	if err == nil {
		err = checkRoots(ctx, c, blk.v, rec.File.Public)
	}
	if err != nil {
		return proofNodeError(stderr, *node, blk.v, err)
	}
	what := fmt.Sprintf("the proof of block %d", blk.v)
	code := verifyFile(stdout, stderr, what, rec.File)
	if code == 0 {
		fmt.Fprintf(stdout, "prover:      %s\n", rec.Prover)
		if rec.TxHash != nil {
			fmt.Fprintf(stdout, "proof tx:    %s\n", rec.TxHash)
		}
	}
	return code
}

// readProofFile reads and decodes a proof file; errors name the file and
// the part of it that is wrong.
func readProofFile(path string) (*batch.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProofFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxProofFile {
		return nil, fmt.Errorf("%s: larger than the largest proof file (%d bytes): not a proof file", path, maxProofFile)
	}
	pf, err := batch.DecodeFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pf, nil
}

// verifyFile verifies f from its public inputs alone and prints the
// verdict; what names the proof in messages.
func verifyFile(stdout, stderr io.Writer, what string, f *batch.File) int {
	start := time.Now()
	err := batch.Verify(f.Public, f.Proof)
	took := time.Since(start)
	if err != nil {
		return walletError(stderr, "%s is not valid: %v", what, err)
	}
	sec := batch.Security(int(f.Public.Updates))
	fmt.Fprintf(stdout, "valid:       %d updates with this batch hash take the old root to the new root\n", f.Public.Updates)
	printPublic(stdout, f.Public)
	fmt.Fprintf(stdout, "proof:       %d bytes, verified in %s\n", len(f.Proof), roundDur(took))
	fmt.Fprintf(stdout, "security:    %.0f bits proven, %.0f conjectured (docs/stark.md)\n", math.Floor(sec.Proven()), math.Floor(sec.Conjectured))
	fmt.Fprintln(stdout, "not proven:  that the block's transactions produce these updates (batch/v1 binds no transactions; the validators' certificate attests execution)")
	return 0
}
