package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes this test binary as a child process that writes
// numbered batches and reports each one on stdout after Batch returns. The
// parent kills it with SIGKILL at a random moment, reopens the file and checks
// that every reported batch is there in full and no later batch is there in
// part. The file is reused across rounds, so each round also recovers from
// the previous kill and continues the sequence.
//
// SIGKILL exercises the process-crash half of durability: the kernel keeps
// what was written to the page cache, so this test shows that commits are
// atomic and that "Batch returned" means "committed". The power-loss half
// rests on bbolt's fdatasync before each commit returns (Options.NoSync is
// off here) and cannot be shown without a fault-injecting file system.

const crashChildEnv = "TRELLIS_STORE_CRASH_CHILD"

const crashNamespace = "crash"

var crashCounterKey = []byte("counter")

// crashBatch returns the ops of batch seq: a group of keys whose count and
// sizes depend on seq (every 10th batch is about 1 MiB, to spread a commit
// over many pages), the counter, and a tmp key that replaces the previous
// batch's tmp key (so deletes are covered too).
func crashBatch(seq uint64) []Op {
	n := 1 + int(seq%37)
	size := int(seq*31) % 3000
	if seq%10 == 0 {
		n, size = 256, 4096
	}
	ops := make([]Op, 0, n+3)
	for i := range n {
		ops = append(ops, PutOp(crashKey(seq, i), crashValue(seq, i, size)))
	}
	ops = append(ops, PutOp(crashCounterKey, binary.BigEndian.AppendUint64(nil, seq)))
	if seq > 0 {
		ops = append(ops, DeleteOp(crashTmpKey(seq-1)))
	}
	ops = append(ops, PutOp(crashTmpKey(seq), nil))
	return ops
}

func crashKey(seq uint64, i int) []byte { return fmt.Appendf(nil, "b/%010d/%03d", seq, i) }
func crashTmpKey(seq uint64) []byte     { return fmt.Appendf(nil, "tmp/%010d", seq) }

func crashValue(seq uint64, i, size int) []byte {
	v := make([]byte, 12+size)
	binary.BigEndian.PutUint64(v, seq)
	binary.BigEndian.PutUint32(v[8:], uint32(i))
	for j := 12; j < len(v); j++ {
		v[j] = byte(seq) ^ byte(i) ^ byte(j)
	}
	return v
}

// crashChild is the child process's body: write batches until killed.
func crashChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	db, err := Open(path, Options{LockTimeout: 10 * time.Second})
	if err != nil {
		fail(err)
	}
	ns, err := db.Namespace(crashNamespace)
	if err != nil {
		fail(err)
	}
	next := uint64(0)
	if v, err := ns.Get(crashCounterKey); err == nil {
		next = binary.BigEndian.Uint64(v) + 1
	} else if !errors.Is(err, ErrNotFound) {
		fail(err)
	}
	parent := os.Getppid()
	out := os.Stdout // unbuffered: a line is in the pipe once Write returns
	for seq := next; ; seq++ {
		if os.Getppid() != parent {
			os.Exit(3) // the test died; do not write forever
		}
		if err := ns.Batch(crashBatch(seq)); err != nil {
			fail(err)
		}
		if _, err := fmt.Fprintf(out, "committed %d\n", seq); err != nil {
			fail(err)
		}
	}
}

func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TRELLIS_STORE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set TRELLIS_STORE_CRASH_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	path := filepath.Join(t.TempDir(), "trellis.db")
	const rounds = 8
	for round := range rounds {
		reported := runCrashChild(t, path, rng)
		committed := verifyCrashFile(t, path)
		if len(reported) == 0 {
			t.Fatalf("round %d: the child reported no commit", round)
		}
		if last := reported[len(reported)-1]; last > committed {
			t.Fatalf("round %d: batch %d was reported committed but the file holds only up to %d", round, last, committed)
		}
		t.Logf("round %d: killed after %d reported commits (last %d); file holds through %d",
			round, len(reported), reported[len(reported)-1], committed)
	}
}

// runCrashChild starts a child, waits for a random number of commits plus a
// random delay, kills it with SIGKILL and returns the sequence numbers it
// reported.
func runCrashChild(t *testing.T, path string, rng *rand.Rand) []uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	lines := make(chan uint64, 1024)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				// A line cut off by the kill has no newline: not reported.
				if err != io.EOF {
					readErr <- err
				}
				return
			}
			s, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "committed ")
			if !ok {
				continue // test framework noise
			}
			seq, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				readErr <- fmt.Errorf("bad line %q", line)
				return
			}
			lines <- seq
		}
	}()

	var reported []uint64
	want := 2 + rng.IntN(40)
	for len(reported) < want {
		seq, ok := <-lines
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("child exited early after %d commits: %s", len(reported), stderr.String())
		}
		reported = append(reported, seq)
	}
	// Land the kill at a random point inside the next commits.
	time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for seq := range lines {
		reported = append(reported, seq)
	}
	select {
	case err := <-readErr:
		t.Fatal(err)
	default:
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v; stderr: %s", err, stderr.String())
	}
	for i := 1; i < len(reported); i++ {
		if reported[i] != reported[i-1]+1 {
			t.Fatalf("child reported %d after %d", reported[i], reported[i-1])
		}
	}
	return reported
}

// verifyCrashFile checks the file after a kill and returns the last batch it
// holds. Batches 0..last must be complete and nothing of a later batch may
// be present.
func verifyCrashFile(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := Open(path, Options{VerifyOnOpen: true})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	ns, err := db.Namespace(crashNamespace)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ns.Get(crashCounterKey)
	if err != nil {
		t.Fatalf("counter: %v", err)
	}
	last := binary.BigEndian.Uint64(v)

	// Every key under b/ and tmp/ must be exactly what batches 0..last wrote.
	expect := map[string][]byte{}
	for seq := uint64(0); seq <= last; seq++ {
		for _, op := range crashBatch(seq) {
			switch {
			case op.Kind == OpDelete:
				delete(expect, string(op.Key))
			case !bytes.Equal(op.Key, crashCounterKey):
				expect[string(op.Key)] = op.Value
			}
		}
	}
	seen := 0
	var after []byte
	for {
		kvs, more, err := ns.Scan(nil, after, MaxScanLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			after = kv.Key
			if bytes.Equal(kv.Key, crashCounterKey) {
				continue
			}
			want, ok := expect[string(kv.Key)]
			if !ok {
				t.Fatalf("key %q present but not written by batches 0..%d (partial later batch?)", kv.Key, last)
			}
			if !bytes.Equal(kv.Value, want) {
				t.Fatalf("key %q has a wrong value", kv.Key)
			}
			seen++
		}
		if !more {
			break
		}
	}
	if seen != len(expect) {
		t.Fatalf("file holds %d of the %d keys batches 0..%d wrote (partial batch?)", seen, len(expect), last)
	}
	return last
}
