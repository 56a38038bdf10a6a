//go:build linux

package main

// End-to-end tests of `trellis testnet`: four real nodes with the BFT
// plugin, over real libp2p, driven through the CLI as an operator would.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/internal/testbin"
	"github.com/trellis-chain/trellis/testnet"
)

// testnetBound bounds the waits of these tests: four nodes with plugins
// share two cores with everything else.
const testnetBound = 3 * time.Minute

type e2eTestnet struct {
	t   *testing.T
	bin string
	dir string
}

// startTestnet builds the binaries and runs `testnet up` with 4 BFT nodes
// on free ports; `testnet down` runs at cleanup.
func startTestnet(t *testing.T, extra ...string) *e2eTestnet {
	t.Helper()
	b := buildBinaries(t)
	testbin.Build(t, "plugins/consensus-bft/cmd/trellis-consensus-bft")
	tn := &e2eTestnet{t: t, bin: b.trellis, dir: filepath.Join(t.TempDir(), "tn")}
	t.Cleanup(func() {
		out, errOut, code := tn.cliNoFail("down", "-dir", tn.dir)
		if code != 0 {
			t.Errorf("testnet down: exit %d\n%s%s", code, out, errOut)
		}
		st, err := openState(tn.dir)
		if err != nil {
			return
		}
		for _, n := range st.Nodes {
			if g := testnet.NodeGroup(n); len(g) > 0 {
				t.Errorf("%s: %d process(es) still alive after down", n.Name, len(g))
			}
		}
	})
	args := append([]string{"up", "-n", "4", "-consensus", "bft", "-dir", tn.dir, "-base-port", "0",
		"-block-interval", "200ms", "-load-accounts", "64", "-wait", "120s"}, extra...)
	out := tn.cli(args...)
	role := "validator"
	if slices.Contains(extra, "solo") {
		role = "follower"
	}
	for _, want := range []string{"every node answers RPC", "node3", role} {
		if !strings.Contains(out, want) {
			t.Fatalf("testnet up output lacks %q:\n%s", want, out)
		}
	}
	return tn
}

func (tn *e2eTestnet) cliNoFail(args ...string) (string, string, int) {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testnetBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, tn.bin, append([]string{"testnet"}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		tn.t.Fatalf("testnet %s did not finish within %s\n%s%s", strings.Join(args, " "), testnetBound, o.String(), e.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tn.t.Fatalf("testnet %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), code
}

// cli runs a testnet command that must succeed and returns its stdout.
func (tn *e2eTestnet) cli(args ...string) string {
	tn.t.Helper()
	out, errOut, code := tn.cliNoFail(args...)
	if code != 0 {
		tn.t.Fatalf("testnet %s: exit %d\n%s%s\n%s", strings.Join(args, " "), code, out, errOut, tn.logs())
	}
	return out
}

// logs returns the tail of every node's log, for failure messages.
func (tn *e2eTestnet) logs() string {
	st, err := openState(tn.dir)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, n := range st.Nodes {
		fmt.Fprintf(&b, "--- %s (%s) ---\n%s\n", n.Name, n.Log, testnet.LogTail(n.Log, 25))
	}
	return b.String()
}

func (tn *e2eTestnet) state() *testnet.State {
	tn.t.Helper()
	st, err := openState(tn.dir)
	if err != nil {
		tn.t.Fatal(err)
	}
	return st
}

func (tn *e2eTestnet) client(i int) *rpc.Client {
	tn.t.Helper()
	c, err := rpc.Dial(tn.state().Nodes[i].RPC)
	if err != nil {
		tn.t.Fatal(err)
	}
	tn.t.Cleanup(func() { c.Close() })
	return c
}

// finalHeight is node i's final height, or false if it does not answer.
func (tn *e2eTestnet) finalHeight(i int) (uint64, bool) {
	c, err := rpc.Dial(tn.state().Nodes[i].RPC)
	if err != nil {
		return 0, false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := c.BlockByTag(ctx, rpc.TagFinalized, false)
	if err != nil {
		return 0, false
	}
	return b.Height, true
}

// eventually polls cond until it holds, failing after testnetBound.
func (tn *e2eTestnet) eventually(what string, cond func() bool) {
	tn.t.Helper()
	deadline := time.Now().Add(testnetBound)
	for !cond() {
		if time.Now().After(deadline) {
			tn.t.Fatalf("timed out after %s waiting for %s\n%s", testnetBound, what, tn.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFinal waits until every node in nodes has a final height >= h.
func (tn *e2eTestnet) waitFinal(h uint64, nodes ...int) {
	tn.t.Helper()
	tn.eventually(fmt.Sprintf("final height %d on nodes %v", h, nodes), func() bool {
		for _, i := range nodes {
			if f, ok := tn.finalHeight(i); !ok || f < h {
				return false
			}
		}
		return true
	})
}

// finalLog collects every finalizedHeads notification of one node.
type finalLog struct {
	mu        sync.Mutex
	hashes    map[uint64]string
	conflicts []string
	count     int
}

func (tn *e2eTestnet) collectFinal(c *rpc.Client) *finalLog {
	tn.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tn.t.Cleanup(cancel)
	sub, err := c.SubscribeFinalized(ctx)
	if err != nil {
		tn.t.Fatal(err)
	}
	fl := &finalLog{hashes: map[uint64]string{}}
	go func() {
		for b := range sub.C {
			fl.mu.Lock()
			fl.count++
			if h, ok := fl.hashes[b.Height]; ok && h != b.Hash.String() {
				fl.conflicts = append(fl.conflicts, fmt.Sprintf("height %d finalized as %s and %s", b.Height, h, b.Hash))
			}
			fl.hashes[b.Height] = b.Hash.String()
			fl.mu.Unlock()
		}
	}()
	return fl
}

// checkAgreement checks that every node has the same block hash at every
// height 1..h and the same state root at h.
func (tn *e2eTestnet) checkAgreement(h uint64) map[uint64]string {
	tn.t.Helper()
	st := tn.state()
	var ref map[uint64]string
	var refRoot rpc.Root
	for i := range st.Nodes {
		c := tn.client(i)
		hashes := map[uint64]string{}
		for from := uint64(1); from <= h; from += 100 {
			var calls []rpc.BatchCall
			blocks := make([]*rpc.Block, 0, 100)
			for height := from; height <= h && height < from+100; height++ {
				blocks = append(blocks, nil)
				calls = append(calls, rpc.BatchCall{Method: "trellis_getBlockByNumber", Params: []any{height, false}, Result: &blocks[len(blocks)-1]})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := c.CallBatch(ctx, calls)
			cancel()
			if err != nil {
				tn.t.Fatalf("node%d: blocks from %d: %v", i, from, err)
			}
			for k, call := range calls {
				b := blocks[k]
				if call.Err != nil || b == nil {
					tn.t.Fatalf("node%d: block %d: %v", i, from+uint64(k), call.Err)
				}
				if b.Finality != rpc.FinalityFinal && b.Finality != rpc.FinalityKDeep && b.Finality != rpc.FinalityProven {
					tn.t.Errorf("node%d: block %d is %s, want final", i, b.Height, b.Finality)
				}
				hashes[b.Height] = b.Hash.String()
				if b.Height == h {
					if i == 0 {
						refRoot = b.StateRoot
					} else if b.StateRoot != refRoot {
						tn.t.Errorf("node%d: state root at final height %d is %s, node0 has %s", i, h, b.StateRoot, refRoot)
					}
				}
			}
		}
		if i == 0 {
			ref = hashes
			continue
		}
		for height := uint64(1); height <= h; height++ {
			if hashes[height] != ref[height] {
				tn.t.Errorf("node%d: block %d is %s, node0 has %s", i, height, hashes[height], ref[height])
			}
		}
	}
	return ref
}

// progressRe matches a load progress line once a transfer is final.
var progressRe = regexp.MustCompile(`finalized [1-9]`)

// TestE2ETestnet is the "done when": four BFT validators under
// load; node 3 crashes (SIGKILL of the node process; its plugins must exit
// on their own) while load goes on, restarts and catches up; every node
// then agrees on every final block and the state root, and no height was
// ever finalized twice with different hashes.
func TestE2ETestnet(t *testing.T) {
	tn := startTestnet(t)
	all := []int{0, 1, 2, 3}
	tn.waitFinal(2, all...)
	fl := tn.collectFinal(tn.client(0))

	// Idle CPU per node, from /proc, with every node measured.
	var cpu testnet.CPUReport
	if err := json.Unmarshal([]byte(tn.cli("cpu", "-dir", tn.dir, "-duration", "2s", "-json")), &cpu); err != nil {
		t.Fatal(err)
	}
	if len(cpu.Nodes) != 4 || cpu.WindowS < 2 {
		t.Fatalf("cpu report %+v", cpu)
	}
	for _, n := range cpu.Nodes {
		if n.Note != "" || n.Pct < 0 || n.RSSMB <= 0 {
			t.Fatalf("cpu of %s: %+v", n.Node, n)
		}
	}
	if _, errOut, code := tn.cliNoFail("cpu", "-dir", tn.dir, "-duration", "10ms"); code != 1 || !strings.Contains(errOut, "want 1s to 1h") {
		t.Fatalf("cpu -duration 10ms: exit %d, %s", code, errOut)
	}

	// Load in the background while node 3 crashes and comes back.
	loadOut, loadErr := &syncBuffer{}, &syncBuffer{}
	load := exec.Command(tn.bin, "testnet", "load", "-dir", tn.dir, "-rate", "40", "-duration", "20s", "-drain", "60s", "-json")
	load.Stdout, load.Stderr = loadOut, loadErr
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Wait() }()
	t.Cleanup(func() {
		if load.ProcessState == nil {
			_ = load.Process.Kill()
		}
	})
	f0, _ := tn.finalHeight(0)
	tn.eventually("transfers finalized under load", func() bool {
		f, _ := tn.finalHeight(0)
		return progressRe.MatchString(loadErr.String()) && f >= f0+3
	})

	out := tn.cli("kill", "-dir", tn.dir, "-node", "3")
	if !strings.Contains(out, "its plugins exited on their own") {
		t.Errorf("plugins of the killed node lingered:\n%s", out)
	}
	f1, _ := tn.finalHeight(0)
	tn.waitFinal(f1+5, 0, 1, 2) // three of four validators are a quorum
	if _, ok := tn.finalHeight(3); ok {
		t.Fatal("node3 answers RPC after kill")
	}
	out = tn.cli("restart", "-dir", tn.dir, "-node", "3")
	if !strings.Contains(out, "node3: started") {
		t.Fatalf("restart output:\n%s", out)
	}
	select {
	case err := <-loadDone:
		if err != nil {
			t.Fatalf("load: %v\n%s%s", err, loadOut.String(), loadErr.String())
		}
	case <-time.After(testnetBound):
		t.Fatalf("load did not finish within %s\n%s", testnetBound, loadErr.String())
	}
	var rep testnet.LoadReport
	if err := json.Unmarshal([]byte(loadOut.String()), &rep); err != nil {
		t.Fatalf("load -json: %v\n%s", err, loadOut.String())
	}
	if rep.Finalized == 0 || rep.Latency.Count != int(rep.Finalized) || rep.Conflicts != 0 || len(rep.Nodes) != 4 {
		t.Errorf("load report: %+v", rep)
	}
	if rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || rep.Latency.Max < rep.Latency.P99 {
		t.Errorf("load latencies: %+v", rep.Latency)
	}
	t.Logf("load: sent %d, finalized %d (%.1f/s), rejected %v, latency p50 %v p99 %v",
		rep.Sent, rep.Finalized, rep.FinalizedPerSec, rep.RejectedByReason, rep.Latency.P50, rep.Latency.P99)

	// Node 3 catches up with the others.
	target, _ := tn.finalHeight(0)
	tn.waitFinal(target, 3)
	common := target
	for _, i := range all {
		if f, ok := tn.finalHeight(i); ok && f < common {
			common = f
		}
	}
	ref := tn.checkAgreement(common)

	fl.mu.Lock()
	if len(fl.conflicts) > 0 {
		t.Errorf("finalizedHeads reported conflicting blocks: %v", fl.conflicts)
	}
	if fl.count == 0 {
		t.Error("no finalizedHeads notification during the run")
	}
	for h, hash := range fl.hashes {
		if h <= common && ref[h] != hash {
			t.Errorf("finalizedHeads gave %s at height %d, the chain has %s", hash, h, ref[h])
		}
	}
	fl.mu.Unlock()

	var status struct {
		Nodes []testnet.NodeStatus `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(tn.cli("status", "-dir", tn.dir, "-json")), &status); err != nil {
		t.Fatal(err)
	}
	for _, n := range status.Nodes {
		if n.State != "up" || n.FinalHeight == nil || n.Healthy == nil || !*n.Healthy {
			t.Errorf("status of %s: %+v", n.Node, n)
		}
	}

	out = tn.cli("down", "-dir", tn.dir)
	if strings.Count(out, "stopped (SIGTERM") != 4 {
		t.Errorf("down did not stop every node with SIGTERM:\n%s", out)
	}
}

// TestE2ETestnetPartition splits four BFT validators 2/2: neither side has
// a quorum, so finality stops everywhere (one block already in flight may
// still finish); after heal it goes on.
func TestE2ETestnetPartition(t *testing.T) {
	tn := startTestnet(t)
	all := []int{0, 1, 2, 3}
	tn.waitFinal(2, all...)

	out := tn.cli("partition", "-dir", tn.dir)
	if !strings.Contains(out, "partitioned: {0,1} / {2,3}") {
		t.Fatalf("partition output:\n%s", out)
	}
	var before uint64
	for _, i := range all {
		f, ok := tn.finalHeight(i)
		if !ok {
			t.Fatalf("node%d does not answer", i)
		}
		before = max(before, f)
	}
	// Watch for as long as 25 blocks would take unpartitioned; a slow
	// machine only makes the check easier to pass.
	time.Sleep(25 * 200 * time.Millisecond)
	var stalled uint64
	for _, i := range all {
		f, ok := tn.finalHeight(i)
		if !ok {
			t.Fatalf("node%d does not answer during the partition", i)
		}
		if f > before+1 {
			t.Errorf("node%d finalized height %d during a 2/2 partition (it was at most %d when the partition began)", i, f, before)
		}
		stalled = max(stalled, f)
	}
	var status struct {
		Partition [][]int              `json:"partition"`
		Nodes     []testnet.NodeStatus `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(tn.cli("status", "-dir", tn.dir, "-json")), &status); err != nil {
		t.Fatal(err)
	}
	if len(status.Partition) != 2 {
		t.Errorf("status partition %v", status.Partition)
	}
	for _, n := range status.Nodes {
		if n.Blocked != 2 {
			t.Errorf("%s blocks %d peers, want 2", n.Node, n.Blocked)
		}
	}

	out = tn.cli("heal", "-dir", tn.dir)
	if strings.Count(out, "blocks no peers") != 4 {
		t.Fatalf("heal output:\n%s", out)
	}
	tn.waitFinal(stalled+3, all...)
	tn.checkAgreement(stalled + 3)
}

// openState reads the testnet state in dir.
func openState(dir string) (*testnet.State, error) {
	n, err := testnet.Open(dir)
	if err != nil {
		return nil, err
	}
	return n.State, nil
}

// TestE2ESoloTestnetFollowers: in a solo testnet node0 sequences and signs
// each block; nodes 1–3 run the solo plugin in follow mode, sync node0's
// blocks and check its signature on each, so every node holds the same
// final chain.
func TestE2ESoloTestnetFollowers(t *testing.T) {
	testbin.Build(t, "plugins/consensus-solo/cmd/trellis-consensus-solo")
	tn := startTestnet(t, "-consensus", "solo")
	all := []int{0, 1, 2, 3}
	tn.waitFinal(5, all...)
	tn.checkAgreement(5)
}
