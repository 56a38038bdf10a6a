//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
)

const defaultTestnetDir = ".testnet"

type subcommand struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

func testnetCommands() []subcommand {
	return []subcommand{
		{"up", "generate N nodes and start them", testnetUp},
		{"status", "show every node: process, heights, root, peers, plugins", testnetStatus},
		{"down", "stop every node (SIGTERM, then SIGKILL)", testnetDown},
		{"kill", "SIGKILL one node's process, as a crash", testnetKill},
		{"restart", "start a stopped or killed node again", testnetRestart},
		{"pause", "SIGSTOP a node and its plugins", testnetPause},
		{"resume", "SIGCONT a paused node", testnetResume},
		{"partition", "split the nodes into groups that block each other", testnetPartition},
		{"heal", "unblock every peer", testnetHeal},
		{"load", "send signed transfers at a rate and report finality", testnetLoad},
	}
}

func cmdTestnet(args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "Usage: trellis testnet <command> [flags]\n\nCommands:")
		for _, c := range testnetCommands() {
			fmt.Fprintf(stderr, "  %-10s %s\n", c.name, c.summary)
		}
		fmt.Fprintln(stderr, "\nRun 'trellis testnet <command> -h' for its flags. See docs/testnet.md.")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range testnetCommands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "trellis testnet: unknown command %q\n\n", args[0])
	usage()
	return 2
}

func testnetFail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "trellis testnet %s: %v\n", cmd, err)
	return 1
}

// readState loads DIR/testnet.json.
func readState(dir string) (*testnetState, error) {
	p := filepath.Join(dir, testnetStateFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no testnet in %s (%s is missing; create one with `trellis testnet up -dir %s`)", ErrTestnet, dir, p, dir)
	}
	if err != nil {
		return nil, err
	}
	var st testnetState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(st.Nodes) == 0 {
		return nil, fmt.Errorf("%w: %s lists no nodes", ErrTestnet, p)
	}
	for i, n := range st.Nodes {
		if n.Index != i {
			return nil, fmt.Errorf("%w: %s: nodes[%d] has index %d", ErrTestnet, p, i, n.Index)
		}
	}
	return &st, nil
}

// writeState replaces DIR/testnet.json atomically.
func writeState(dir string, st *testnetState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, testnetStateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, testnetStateFile))
}

// nodeIndexes parses -node: an index or "all".
func nodeIndexes(s string, n int) ([]int, error) {
	if s == "all" {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		i, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(f), "node"))
		if err != nil || i < 0 || i >= n {
			return nil, fmt.Errorf("%w: -node %q: want node indexes 0 to %d separated by commas, or all", ErrTestnet, s, n-1)
		}
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out, nil
}

// stateCmd is a command acting on an existing testnet: -dir and, for some, -node.
type stateCmd struct {
	name  string
	dir   *string
	node  *string
	st    *testnetState
	abs   string
	nodes []int
}

func newStateCmd(name, usageLine string, withNode bool, stderr io.Writer) (*stateCmd, *flag.FlagSet) {
	fs := newFlags("testnet "+name, "testnet "+usageLine, stderr)
	c := &stateCmd{name: name, dir: fs.String("dir", defaultTestnetDir, "testnet directory")}
	if withNode {
		c.node = fs.String("node", "", "node `INDEX` (0-based), a comma-separated list, or all")
	}
	return c, fs
}

// load reads the state after the flags are parsed; needNode requires -node.
func (c *stateCmd) load(needNode bool) error {
	abs, err := filepath.Abs(*c.dir)
	if err != nil {
		return err
	}
	c.abs = abs
	if c.st, err = readState(abs); err != nil {
		return err
	}
	if c.node != nil {
		if *c.node == "" {
			if needNode {
				return fmt.Errorf("%w: -node is required (an index 0 to %d, or all)", ErrTestnet, len(c.st.Nodes)-1)
			}
			*c.node = "all"
		}
		if c.nodes, err = nodeIndexes(*c.node, len(c.st.Nodes)); err != nil {
			return err
		}
	}
	return nil
}

func testnetUp(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("testnet up", "testnet up [-n N] [-consensus bft|solo] [-dir DIR] [-base-port P] [-chain-id ID] [-block-interval D] [-prover cpu [-idle-provers K] [-job-deadline B]] [-force]", stderr)
	spec := testnetSpec{PluginConfig: map[string]string{}}
	fs.IntVar(&spec.Nodes, "n", defaultTestnetNodes, "number of nodes (validators)")
	fs.StringVar(&spec.Consensus, "consensus", consensusBFT, "consensus plugin: bft (every node votes) or solo (node0 sequences, the others follow)")
	dir := fs.String("dir", defaultTestnetDir, "directory for the node directories and testnet.json")
	fs.IntVar(&spec.BasePort, "base-port", defaultTestnetBasePort, "first port: p2p base+i, RPC base+100+i, metrics base+200+i; 0 picks free ports")
	fs.StringVar(&spec.ChainID, "chain-id", "trellis-testnet", "chain id")
	fs.DurationVar(&spec.BlockInterval, "block-interval", time.Second, "block_interval of the consensus plugin")
	fs.IntVar(&spec.LoadAccounts, "load-accounts", defaultLoadAccounts, "funded accounts for `testnet load` (keys derived from the chain id)")
	pluginDir := fs.String("plugin-dir", "", "directory of the plugin binaries (default: beside trellis)")
	fs.Var(varsFlag(spec.PluginConfig), "plugin-config", "set a consensus plugin setting, name=value, e.g. timeout_propose=2s (repeatable)")
	fs.StringVar(&spec.Prover, "prover", "", "prover plugin for every validator (e.g. cpu); validators are registered provers in genesis")
	fs.IntVar(&spec.IdleProvers, "idle-provers", 0, "extra registered provers that never prove, priced below the validators: each job goes to one first and is slashed and reassigned at its deadline")
	fs.Uint64Var(&spec.JobDeadline, "job-deadline", 0, "proof job deadline in blocks (0: the market default)")
	force := fs.Bool("force", false, "stop a testnet running in DIR and wipe DIR first")
	wait := fs.Duration("wait", 60*time.Second, "how long to wait for every node to answer RPC")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return testnetFail(stderr, "up", err)
	}
	bin, err := os.Executable()
	if err != nil {
		return testnetFail(stderr, "up", err)
	}
	if r, err := filepath.EvalSymlinks(bin); err == nil {
		bin = r
	}
	spec.PluginDir = *pluginDir
	if spec.PluginDir == "" {
		spec.PluginDir = filepath.Dir(bin)
	}
	if spec.PluginDir, err = filepath.Abs(spec.PluginDir); err != nil {
		return testnetFail(stderr, "up", err)
	}
	if err := prepareTestnetDir(abs, *force, stdout); err != nil {
		return testnetFail(stderr, "up", err)
	}
	if spec.BasePort == 0 {
		if spec.BasePort, err = pickBasePort(spec.Nodes); err != nil {
			return testnetFail(stderr, "up", err)
		}
	} else if err := spec.check(); err != nil {
		return testnetFail(stderr, "up", err)
	} else if err := portsFree(spec.BasePort, spec.Nodes); err != nil {
		return testnetFail(stderr, "up", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return testnetFail(stderr, "up", err)
	}
	st, err := generateTestnet(spec, abs, bin, stdout)
	if err != nil {
		return testnetFail(stderr, "up", err)
	}
	if err := writeState(abs, st); err != nil {
		return testnetFail(stderr, "up", err)
	}
	fmt.Fprintf(stdout, "generated %d nodes of chain %q (%s consensus) in %s\n", spec.Nodes, spec.ChainID, spec.Consensus, abs)
	dones := make([]<-chan struct{}, len(st.Nodes))
	for i := range st.Nodes {
		pid, done, err := startNodeProcess(bin, st.Nodes[i])
		if err != nil {
			abortUp(st, abs, stderr)
			return testnetFail(stderr, "up", err)
		}
		st.Nodes[i].PID, dones[i] = pid, done
		if err := writeState(abs, st); err != nil {
			abortUp(st, abs, stderr)
			return testnetFail(stderr, "up", err)
		}
	}
	for i, n := range st.Nodes {
		if err := waitRPC(n, dones[i], *wait); err != nil {
			fmt.Fprintf(stderr, "%v\nlast lines of %s:\n%s\n", err, n.Log, logTail(n.Log, 30))
			abortUp(st, abs, stderr)
			return testnetFail(stderr, "up", fmt.Errorf("%s did not come up; the testnet was stopped", n.Name))
		}
	}
	fmt.Fprintln(stdout)
	printNodeTable(stdout, st)
	fmt.Fprintf(stdout, "\nevery node answers RPC. Next: trellis testnet status -dir %s; trellis testnet down -dir %s\n", *dir, *dir)
	return 0
}

// abortUp stops whatever up started.
func abortUp(st *testnetState, dir string, stderr io.Writer) {
	for _, n := range st.Nodes {
		if n.PID > 0 {
			if _, err := stopNode(n, 10*time.Second); err != nil {
				fmt.Fprintln(stderr, err)
			}
		}
	}
	_ = writeState(dir, st)
}

// prepareTestnetDir refuses to reuse a directory that holds a testnet
// unless force, in which case it stops the testnet and wipes the directory.
// It never deletes a directory that is not a testnet's.
func prepareTestnetDir(dir string, force bool, stdout io.Writer) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(ents) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	st, serr := readState(dir)
	if serr != nil {
		return fmt.Errorf("%w: %s exists and holds no testnet (%s); choose an empty or new -dir, nothing was deleted", ErrTestnet, dir, testnetStateFile)
	}
	var running []string
	for _, n := range st.Nodes {
		if len(nodeGroup(n)) > 0 {
			running = append(running, n.Name)
		}
	}
	if !force {
		if len(running) > 0 {
			return fmt.Errorf("%w: a testnet is running in %s (%s up); stop it with `trellis testnet down -dir %s`, or pass -force to stop and wipe it",
				ErrTestnet, dir, strings.Join(running, ", "), dir)
		}
		return fmt.Errorf("%w: %s holds a stopped testnet; start its nodes with `trellis testnet restart -dir %s -node all`, or pass -force to wipe it",
			ErrTestnet, dir, dir)
	}
	for _, n := range st.Nodes {
		if len(nodeGroup(n)) > 0 {
			_ = signalGroup(n, syscall.SIGKILL)
			_ = signalGroup(n, syscall.SIGCONT)
			if !waitGroupGone(n, 10*time.Second) {
				return fmt.Errorf("%w: %s (session %d) did not exit after SIGKILL", ErrTestnet, n.Name, n.PID)
			}
		}
	}
	if len(running) > 0 {
		fmt.Fprintf(stdout, "stopped the running testnet (%s)\n", strings.Join(running, ", "))
	}
	fmt.Fprintf(stdout, "wiping %s\n", dir)
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// portsFree checks that every port of a testnet at base is free on
// 127.0.0.1 (TCP, and UDP for QUIC).
func portsFree(base, n int) error {
	check := func(network string, port int) error {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if network == "udp" {
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				return err
			}
			return c.Close()
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		return l.Close()
	}
	for i := range n {
		for _, p := range []struct {
			network string
			port    int
		}{{"tcp", base + i}, {"udp", base + i}, {"tcp", base + rpcPortOffset + i}, {"tcp", base + metricsPortOffset + i}} {
			if err := check(p.network, p.port); err != nil {
				return fmt.Errorf("%w: port %s/%d is taken (%v); choose another -base-port, or 0 to pick free ports", ErrTestnet, p.network, p.port, err)
			}
		}
	}
	return nil
}

// pickBasePort finds a base port whose every testnet port is free.
func pickBasePort(n int) (int, error) {
	for try := range 200 {
		// Spread the tries over 20000..59000 from a time-derived start, so
		// parallel testnets rarely collide.
		base := 20000 + int((time.Now().UnixNano()/1000+int64(try)*7919)%39000)
		if base+metricsPortOffset+n > 65535 {
			continue
		}
		if portsFree(base, n) == nil {
			return base, nil
		}
	}
	return 0, fmt.Errorf("%w: found no free range of ports for %d nodes", ErrTestnet, n)
}

// waitRPC polls the node's RPC until it answers, its process exits or d
// passes.
func waitRPC(n testnetNode, done <-chan struct{}, d time.Duration) error {
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.ChainID(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if done != nil {
			select {
			case <-done:
				return fmt.Errorf("%s (pid %d) exited before answering RPC at %s", n.Name, n.PID, n.RPC)
			default:
			}
		} else if _, ok := nodeProc(n); !ok {
			return fmt.Errorf("%s (pid %d) exited before answering RPC at %s", n.Name, n.PID, n.RPC)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer RPC at %s within %s: %v", n.Name, n.RPC, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func shortID(s string) string {
	if len(s) <= 16 {
		return s
	}
	return s[:8] + "…" + s[len(s)-6:]
}

func printNodeTable(w io.Writer, st *testnetState) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPID\tPEER ID\tP2P\tRPC\tMETRICS\tROLE")
	for _, n := range st.Nodes {
		role := "validator"
		if st.Consensus == consensusSolo {
			role = "follower"
			if n.Sequencer {
				role = "sequencer"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.PID, shortID(n.PeerID), n.P2P[0], n.RPC, n.Metrics+"/metrics", role)
	}
	_ = tw.Flush()
}

// nodeStatus is one row of `testnet status`.
type nodeStatus struct {
	Node        string   `json:"node"`
	PID         int      `json:"pid"`
	State       string   `json:"state"` // up, down, paused
	HeadHeight  *uint64  `json:"head_height"`
	FinalHeight *uint64  `json:"final_height"`
	FinalHash   string   `json:"final_hash,omitempty"`
	StateRoot   string   `json:"state_root,omitempty"` // of the final block
	Peers       *int     `json:"peers"`
	Blocked     int      `json:"blocked_peers"`
	Plugins     []string `json:"plugins"`
	Healthy     *bool    `json:"healthy"`
	RPC         string   `json:"rpc"`
	Error       string   `json:"error,omitempty"`
}

func testnetStatus(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("status", "status [-dir DIR] [-json]", false, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(false); err != nil {
		return testnetFail(stderr, "status", err)
	}
	rows := make([]nodeStatus, len(c.st.Nodes))
	done := make(chan struct{})
	for i, n := range c.st.Nodes {
		go func() { rows[i] = queryNodeStatus(n); done <- struct{}{} }()
	}
	for range rows {
		<-done
	}
	if *asJSON {
		b, _ := json.MarshalIndent(struct {
			ChainID   string       `json:"chain_id"`
			Consensus string       `json:"consensus"`
			Partition [][]int      `json:"partition,omitempty"`
			Nodes     []nodeStatus `json:"nodes"`
		}{c.st.ChainID, c.st.Consensus, c.st.Partition, rows}, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	fmt.Fprintf(stdout, "testnet %q, %d nodes, %s consensus, %s\n", c.st.ChainID, len(c.st.Nodes), c.st.Consensus, c.abs)
	if len(c.st.Partition) > 0 {
		fmt.Fprintf(stdout, "partitioned: %s\n", formatGroups(c.st.Partition))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tPID\tHEAD\tFINAL\tROOT@FINAL\tPEERS\tPLUGINS\tRPC")
	opt := func(v *uint64) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatUint(*v, 10)
	}
	for _, r := range rows {
		peers := "-"
		if r.Peers != nil {
			peers = strconv.Itoa(*r.Peers)
			if r.Blocked > 0 {
				peers += fmt.Sprintf(" (%d blocked)", r.Blocked)
			}
		}
		plugins := strings.Join(r.Plugins, " ")
		if plugins == "" {
			plugins = "-"
		}
		root := r.StateRoot
		if len(root) > 12 {
			root = root[:12] + "…"
		}
		if root == "" {
			root = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Node, r.State, r.PID, opt(r.HeadHeight), opt(r.FinalHeight), root, peers, plugins, r.RPC)
	}
	_ = tw.Flush()
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(stdout, "%s: %s\n", r.Node, r.Error)
		}
	}
	return 0
}

// queryNodeStatus reads one node's process, RPC and /health.
func queryNodeStatus(n testnetNode) nodeStatus {
	r := nodeStatus{Node: n.Name, PID: n.PID, State: "down", RPC: n.RPC}
	ps, ok := nodeProc(n)
	if !ok {
		if g := nodeGroup(n); len(g) > 0 {
			r.Error = fmt.Sprintf("node process gone, %d plugin process(es) of its session still alive", len(g))
		}
		return r
	}
	if ps.State == 'T' || ps.State == 't' {
		r.State = "paused"
		return r
	}
	r.State = "up"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer c.Close()
	info, err := c.NodeInfo(ctx)
	var re *rpc.Error
	switch {
	case err == nil:
		peers := len(info.Peers)
		r.Peers, r.Blocked = &peers, len(info.BlockedPeers)
		r.HeadHeight, r.FinalHeight = &info.HeadHeight, &info.FinalHeight
	case errors.As(err, &re) && re.Code == rpc.CodeMethodNotFound:
		// A node without the network methods: heights from the blocks.
	default:
		r.Error = "rpc: " + err.Error()
		return r
	}
	if head, err := c.Head(ctx); err == nil {
		r.HeadHeight = &head.Height
	}
	if fb, err := c.BlockByTag(ctx, rpc.TagFinalized, false); err == nil {
		r.FinalHeight, r.FinalHash, r.StateRoot = &fb.Height, fb.Hash.String(), fb.StateRoot.String()
	} else {
		r.Error = "rpc: " + err.Error()
	}
	h, herr := fetchHealth(ctx, n.Metrics+"/health")
	if herr != nil {
		r.Error = strings.TrimPrefix(r.Error+"; health: "+herr.Error(), "; ")
	} else {
		healthy := true
		for _, p := range h.Plugins {
			r.Plugins = append(r.Plugins, p.Plugin+":"+p.State)
			healthy = healthy && p.State == "running"
		}
		r.Healthy = &healthy
	}
	return r
}

// nodeHealth is the part of a node's /health JSON that status shows.
type nodeHealth struct {
	Plugins []struct {
		Plugin string
		State  string
	} `json:"plugins"`
}

func fetchHealth(ctx context.Context, url string) (*nodeHealth, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var h nodeHealth
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&h); err != nil {
		return nil, fmt.Errorf("%s: HTTP %s: %w", url, res.Status, err)
	}
	return &h, nil
}

func testnetDown(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("down", "down [-dir DIR] [-timeout D]", false, stderr)
	timeout := fs.Duration("timeout", 20*time.Second, "how long each node has to exit after SIGTERM before SIGKILL")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(false); err != nil {
		return testnetFail(stderr, "down", err)
	}
	type res struct {
		msg string
		err error
	}
	out := make([]res, len(c.st.Nodes))
	done := make(chan struct{})
	for i, n := range c.st.Nodes {
		go func() {
			msg, err := stopNode(n, *timeout)
			out[i] = res{msg, err}
			done <- struct{}{}
		}()
	}
	for range out {
		<-done
	}
	code := 0
	for i, r := range out {
		if r.err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", c.st.Nodes[i].Name, r.err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", c.st.Nodes[i].Name, r.msg)
	}
	c.st.Partition = nil // blocks live in the nodes' memory: gone with them
	if err := writeState(c.abs, c.st); err != nil {
		return testnetFail(stderr, "down", err)
	}
	return code
}

func testnetKill(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("kill", "kill [-dir DIR] -node I [-wait D]", true, stderr)
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for the node's plugins to exit on their own")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(true); err != nil {
		return testnetFail(stderr, "kill", err)
	}
	code := 0
	for _, i := range c.nodes {
		n := c.st.Nodes[i]
		if _, ok := nodeProc(n); !ok {
			fmt.Fprintf(stdout, "%s: not running\n", n.Name)
			continue
		}
		if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
			fmt.Fprintf(stderr, "%s: SIGKILL pid %d: %v\n", n.Name, n.PID, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: SIGKILL sent to pid %d (the node process only)\n", n.Name, n.PID)
		if waitGroupGone(n, *wait) {
			fmt.Fprintf(stdout, "%s: its plugins exited on their own\n", n.Name)
			continue
		}
		var pids []string
		for _, p := range nodeGroup(n) {
			pids = append(pids, strconv.Itoa(p.PID))
		}
		fmt.Fprintf(stdout, "%s: warning: %d plugin process(es) still alive %s after the node died: pids %s (restart and down remove them)\n",
			n.Name, len(pids), *wait, strings.Join(pids, " "))
	}
	return code
}

func testnetRestart(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("restart", "restart [-dir DIR] -node I|all [-wait D]", true, stderr)
	wait := fs.Duration("wait", 60*time.Second, "how long to wait for the node to answer RPC")
	timeout := fs.Duration("timeout", 20*time.Second, "how long a running node has to exit after SIGTERM")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(true); err != nil {
		return testnetFail(stderr, "restart", err)
	}
	bin := c.st.Binary
	if self, err := os.Executable(); err == nil {
		bin = self
	}
	dones := map[int]<-chan struct{}{}
	for _, i := range c.nodes {
		n := c.st.Nodes[i]
		if g := nodeGroup(n); len(g) > 0 {
			msg, err := stopNode(n, *timeout)
			if err != nil {
				return testnetFail(stderr, "restart", err)
			}
			fmt.Fprintf(stdout, "%s: %s\n", n.Name, msg)
		}
		pid, done, err := startNodeProcess(bin, n)
		if err != nil {
			return testnetFail(stderr, "restart", err)
		}
		c.st.Nodes[i].PID, dones[i] = pid, done
		if err := writeState(c.abs, c.st); err != nil {
			return testnetFail(stderr, "restart", err)
		}
	}
	code := 0
	for _, i := range c.nodes {
		n := c.st.Nodes[i]
		if err := waitRPC(n, dones[i], *wait); err != nil {
			fmt.Fprintf(stderr, "%v\nlast lines of %s:\n%s\n", err, n.Log, logTail(n.Log, 30))
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: started, pid %d, RPC %s\n", n.Name, n.PID, n.RPC)
		if len(c.st.Partition) > 0 {
			if err := applyBlocks(c.st, n, c.st.Partition); err != nil {
				fmt.Fprintf(stderr, "%s: re-applying the partition: %v\n", n.Name, err)
				code = 1
			} else {
				fmt.Fprintf(stdout, "%s: re-applied partition %s\n", n.Name, formatGroups(c.st.Partition))
			}
		}
	}
	return code
}

func testnetPause(args []string, stdout, stderr io.Writer) int {
	return signalCmd("pause", syscall.SIGSTOP, "paused (SIGSTOP to the node and its plugins)", args, stdout, stderr)
}

func testnetResume(args []string, stdout, stderr io.Writer) int {
	return signalCmd("resume", syscall.SIGCONT, "resumed (SIGCONT)", args, stdout, stderr)
}

func signalCmd(name string, sig syscall.Signal, what string, args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd(name, name+" [-dir DIR] -node I", true, stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(true); err != nil {
		return testnetFail(stderr, name, err)
	}
	code := 0
	for _, i := range c.nodes {
		n := c.st.Nodes[i]
		if _, ok := nodeProc(n); !ok {
			fmt.Fprintf(stderr, "%s: not running\n", n.Name)
			code = 1
			continue
		}
		if err := signalGroup(n, sig); err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", n.Name, what)
	}
	return code
}

// parseGroups parses "0,1/2,3" into node groups.
func parseGroups(s string, n int) ([][]int, error) {
	var groups [][]int
	seen := map[int]bool{}
	for _, g := range strings.Split(s, "/") {
		var grp []int
		for _, f := range strings.Split(g, ",") {
			f = strings.TrimSpace(f)
			i, err := strconv.Atoi(f)
			if err != nil || i < 0 || i >= n {
				return nil, fmt.Errorf("%w: -groups %q: %q is not a node index 0 to %d", ErrTestnet, s, f, n-1)
			}
			if seen[i] {
				return nil, fmt.Errorf("%w: -groups %q: node %d is in two groups", ErrTestnet, s, i)
			}
			seen[i] = true
			grp = append(grp, i)
		}
		sort.Ints(grp)
		groups = append(groups, grp)
	}
	if len(groups) < 2 && len(seen) == n {
		return nil, fmt.Errorf("%w: -groups %q: one group of every node is no partition", ErrTestnet, s)
	}
	return groups, nil
}

// defaultGroups splits n nodes into halves, {0..⌈n/2⌉-1} and the rest:
// neither half holds more than 2/3 of the (equal) stake, so neither can
// finalize.
func defaultGroups(n int) [][]int {
	var a, b []int
	for i := range n {
		if i < (n+1)/2 {
			a = append(a, i)
		} else {
			b = append(b, i)
		}
	}
	if len(b) == 0 {
		return [][]int{a}
	}
	return [][]int{a, b}
}

func formatGroups(groups [][]int) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		s := make([]string, len(g))
		for j, v := range g {
			s[j] = strconv.Itoa(v)
		}
		parts[i] = "{" + strings.Join(s, ",") + "}"
	}
	return strings.Join(parts, " / ")
}

// blockedFor lists the peer ids node i blocks under groups: every node not
// in its group (a node in no group is alone).
func blockedFor(st *testnetState, groups [][]int, i int) []string {
	group := map[int]int{}
	for gi, g := range groups {
		for _, v := range g {
			group[v] = gi
		}
	}
	mine, in := group[i]
	var out []string
	for _, o := range st.Nodes {
		if o.Index == i {
			continue
		}
		theirs, oin := group[o.Index]
		if !in || !oin || theirs != mine {
			out = append(out, o.PeerID)
		}
	}
	return out
}

func applyBlocks(st *testnetState, n testnetNode, groups [][]int) error {
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	if groups != nil {
		ids = blockedFor(st, groups, n.Index)
	}
	return c.SetBlockedPeers(ctx, ids)
}

func testnetPartition(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("partition", "partition [-dir DIR] [-groups 0,1/2,3]", false, stderr)
	groupsFlag := fs.String("groups", "", "node groups separated by /, nodes by commas (default: two halves, neither with a quorum)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(false); err != nil {
		return testnetFail(stderr, "partition", err)
	}
	groups := defaultGroups(len(c.st.Nodes))
	if *groupsFlag != "" {
		var err error
		if groups, err = parseGroups(*groupsFlag, len(c.st.Nodes)); err != nil {
			return testnetFail(stderr, "partition", err)
		}
	}
	code := 0
	for _, n := range c.st.Nodes {
		if _, ok := nodeProc(n); !ok {
			fmt.Fprintf(stdout, "%s: down (restart re-applies the partition)\n", n.Name)
			continue
		}
		if err := applyBlocks(c.st, n, groups); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", n.Name, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: blocks %d peer(s)\n", n.Name, len(blockedFor(c.st, groups, n.Index)))
	}
	if code != 0 {
		return testnetFail(stderr, "partition", fmt.Errorf("%w: not every running node took the partition; `trellis testnet heal -dir %s` undoes what did", ErrTestnet, *c.dir))
	}
	c.st.Partition = groups
	if err := writeState(c.abs, c.st); err != nil {
		return testnetFail(stderr, "partition", err)
	}
	fmt.Fprintf(stdout, "partitioned: %s\n", formatGroups(groups))
	return 0
}

func testnetHeal(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("heal", "heal [-dir DIR]", false, stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(false); err != nil {
		return testnetFail(stderr, "heal", err)
	}
	code := 0
	for _, n := range c.st.Nodes {
		if _, ok := nodeProc(n); !ok {
			fmt.Fprintf(stdout, "%s: down\n", n.Name)
			continue
		}
		if err := applyBlocks(c.st, n, nil); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", n.Name, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: blocks no peers\n", n.Name)
	}
	c.st.Partition = nil
	if err := writeState(c.abs, c.st); err != nil {
		return testnetFail(stderr, "heal", err)
	}
	return code
}
