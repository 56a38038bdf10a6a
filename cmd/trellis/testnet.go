//go:build linux

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/testnet"
)

// The testnet commands: flags and printing. What they do is package
// testnet's, which the end-to-end tests, trials and the robustness suite
// use as a library.

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
		{"cpu", "measure each node's CPU use over a window, e.g. while idle", testnetCPU},
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

// stateCmd is a command acting on an existing testnet: -dir and, for some, -node.
type stateCmd struct {
	name  string
	dir   *string
	node  *string
	net   *testnet.Net
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

// load reads the testnet after the flags are parsed; needNode requires -node.
func (c *stateCmd) load(needNode bool) error {
	var err error
	if c.net, err = testnet.Open(*c.dir); err != nil {
		return err
	}
	if c.node != nil {
		if *c.node == "" {
			if needNode {
				return fmt.Errorf("%w: -node is required (an index 0 to %d, or all)", testnet.ErrTestnet, len(c.net.State.Nodes)-1)
			}
			*c.node = "all"
		}
		if c.nodes, err = testnet.NodeIndexes(*c.node, len(c.net.State.Nodes)); err != nil {
			return err
		}
	}
	return nil
}

// printOutcomes writes each node's outcome, errors to stderr; it returns 1
// when any failed.
func printOutcomes(out []testnet.Outcome, stdout, stderr io.Writer) int {
	code := 0
	for _, o := range out {
		if o.Err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", o.Node, o.Err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", o.Node, o.Msg)
	}
	return code
}

func testnetUp(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("testnet up", "testnet up [-n N] [-consensus bft|solo|lc] [-dir DIR] [-base-port P] [-chain-id ID] [-block-interval D] [-empty-block-interval D] [-prover cpu [-idle-provers K] [-job-deadline B]] [-force]", stderr)
	spec := testnet.Spec{PluginConfig: map[string]string{}}
	fs.IntVar(&spec.Nodes, "n", testnet.DefaultNodes, "number of nodes (validators)")
	fs.StringVar(&spec.Consensus, "consensus", testnet.ConsensusBFT, "consensus plugin: bft (every node votes), solo (node0 sequences, the others follow) or lc (longest chain: stake-weighted slot leaders)")
	dir := fs.String("dir", defaultTestnetDir, "directory for the node directories and testnet.json")
	fs.IntVar(&spec.BasePort, "base-port", testnet.DefaultBasePort, "first port: p2p base+i, RPC base+100+i, metrics base+200+i; 0 picks free ports")
	fs.StringVar(&spec.ChainID, "chain-id", "trellis-testnet", "chain id")
	fs.DurationVar(&spec.BlockInterval, "block-interval", time.Second, "block_interval of the consensus plugin")
	fs.DurationVar(&spec.EmptyBlockInterval, "empty-block-interval", 10*time.Second, "bft: with an empty mempool, wait up to this long for a transaction before producing an empty block (0: a block every block-interval)")
	fs.IntVar(&spec.LoadAccounts, "load-accounts", testnet.DefaultLoadAccounts, "funded accounts for `testnet load` (keys derived from the chain id)")
	pluginDir := fs.String("plugin-dir", "", "directory of the plugin binaries (default: beside trellis)")
	fs.Var(varsFlag(spec.PluginConfig), "plugin-config", "set a consensus plugin setting, name=value, e.g. timeout_propose=2s (repeatable)")
	fs.StringVar(&spec.Prover, "prover", "", "prover plugin for every validator (e.g. cpu); validators are registered provers in genesis")
	fs.IntVar(&spec.IdleProvers, "idle-provers", 0, "extra registered provers that never prove, priced below the validators: each job goes to one first and is slashed and reassigned at its deadline")
	fs.Uint64Var(&spec.JobDeadline, "job-deadline", 0, "proof job deadline in blocks (0: the market default)")
	lcSlot := fs.Duration("lc-slot", time.Duration(leader.Defaults.SlotMs)*time.Millisecond, "lc: slot length (genesis)")
	lcActive := fs.String("lc-active-slots", testnet.DefaultLCActive, "lc: active-slot coefficient f, the share of slots with a leader (genesis; the chain default is "+fmt.Sprintf("%d/%d", leader.Defaults.Active.Num, leader.Defaults.Active.Den)+")")
	lcK := fs.Uint("lc-k", testnet.DefaultLCK, fmt.Sprintf("lc: blocks under the head at which a block is final (genesis; the chain default is %d, a testnet's is shorter so trials finish in minutes); epochs are 10k/f slots", leader.Defaults.K))
	force := fs.Bool("force", false, "stop a testnet running in DIR and wipe DIR first")
	wait := fs.Duration("wait", 60*time.Second, "how long to wait for every node to answer RPC")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if spec.Consensus == testnet.ConsensusLC {
		f, err := leader.ParseCoefficient(*lcActive)
		if err != nil {
			return testnetFail(stderr, "up", fmt.Errorf("-lc-active-slots: %w", err))
		}
		lc := leader.Params{SlotMs: uint32(lcSlot.Milliseconds()), Active: f, K: uint32(*lcK)}
		spec.LC = lc
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
	t, err := testnet.Up(testnet.UpOptions{Spec: spec, Dir: *dir, Binary: bin, Force: *force, Wait: *wait}, stdout)
	if err != nil {
		return testnetFail(stderr, "up", err)
	}
	fmt.Fprintln(stdout)
	printNodeTable(stdout, t.State)
	fmt.Fprintf(stdout, "\nevery node answers RPC. Next: trellis testnet status -dir %s; trellis testnet down -dir %s\n", *dir, *dir)
	return 0
}

func shortID(s string) string {
	if len(s) <= 16 {
		return s
	}
	return s[:8] + "…" + s[len(s)-6:]
}

func printNodeTable(w io.Writer, st *testnet.State) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPID\tPEER ID\tP2P\tRPC\tMETRICS\tROLE")
	for _, n := range st.Nodes {
		role := "validator"
		if st.Consensus == testnet.ConsensusLC {
			role = "lc validator"
		}
		if st.Consensus == testnet.ConsensusSolo {
			role = "follower"
			if n.Sequencer {
				role = "sequencer"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.PID, shortID(n.PeerID), n.P2P[0], n.RPC, n.Metrics+"/metrics", role)
	}
	_ = tw.Flush()
}

func testnetCPU(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("cpu", "cpu [-dir DIR] [-duration D] [-json]", false, stderr)
	dur := fs.Duration("duration", 30*time.Second, "how long to measure")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(false); err != nil {
		return testnetFail(stderr, "cpu", err)
	}
	rep, err := c.net.MeasureCPU(context.Background(), *dur, stderr)
	if err != nil {
		return testnetFail(stderr, "cpu", err)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	rep.Write(stdout)
	return 0
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
	st := c.net.State
	rows := c.net.Status()
	if *asJSON {
		b, _ := json.MarshalIndent(struct {
			ChainID   string               `json:"chain_id"`
			Consensus string               `json:"consensus"`
			Partition [][]int              `json:"partition,omitempty"`
			Nodes     []testnet.NodeStatus `json:"nodes"`
		}{st.ChainID, st.Consensus, st.Partition, rows}, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	fmt.Fprintf(stdout, "testnet %q, %d nodes, %s consensus, %s\n", st.ChainID, len(st.Nodes), st.Consensus, c.net.Dir)
	if len(st.Partition) > 0 {
		fmt.Fprintf(stdout, "partitioned: %s\n", testnet.FormatGroups(st.Partition))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	lc := st.Consensus == testnet.ConsensusLC
	if lc {
		fmt.Fprintln(tw, "NODE\tSTATE\tPID\tHEAD\tK-DEEP\tPROVEN\tREORGS\tROOT@K-DEEP\tPEERS\tPLUGINS\tRPC")
	} else {
		fmt.Fprintln(tw, "NODE\tSTATE\tPID\tHEAD\tFINAL\tROOT@FINAL\tPEERS\tPLUGINS\tRPC")
	}
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
		if lc {
			proven, reorgs := "-", "-"
			if cs := r.Consensus; cs != nil {
				proven = strconv.FormatUint(cs.ProvenHeight, 10)
				reorgs = cs.Details["reorgs"]
				if d := cs.Details["max_reorg_depth"]; d != "" && d != "0" {
					reorgs += " (deepest " + d + ")"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Node, r.State, r.PID, opt(r.HeadHeight), opt(r.FinalHeight), proven, reorgs, root, peers, plugins, r.RPC)
			continue
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

func testnetDown(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("down", "down [-dir DIR] [-timeout D]", false, stderr)
	timeout := fs.Duration("timeout", 20*time.Second, "how long each node has to exit after SIGTERM before SIGKILL")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(false); err != nil {
		return testnetFail(stderr, "down", err)
	}
	out, err := c.net.Down(*timeout)
	code := printOutcomes(out, stdout, stderr)
	if err != nil {
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
	return printOutcomes(c.net.Kill(c.nodes, *wait), stdout, stderr)
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
	bin := c.net.State.Binary
	if self, err := os.Executable(); err == nil {
		bin = self
	}
	out, err := c.net.Restart(c.nodes, bin, *wait, *timeout)
	code := printOutcomes(out, stdout, stderr)
	if err != nil {
		return testnetFail(stderr, "restart", err)
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
	return printOutcomes(c.net.Signal(c.nodes, sig, what), stdout, stderr)
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
	groups := testnet.DefaultGroups(len(c.net.State.Nodes))
	if *groupsFlag != "" {
		var err error
		if groups, err = testnet.ParseGroups(*groupsFlag, len(c.net.State.Nodes)); err != nil {
			return testnetFail(stderr, "partition", err)
		}
	}
	out, err := c.net.Partition(groups)
	printOutcomes(out, stdout, stderr)
	if err != nil {
		return testnetFail(stderr, "partition", err)
	}
	fmt.Fprintf(stdout, "partitioned: %s\n", testnet.FormatGroups(groups))
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
	out, err := c.net.Heal()
	code := printOutcomes(out, stdout, stderr)
	if err != nil {
		return testnetFail(stderr, "heal", err)
	}
	return code
}

func testnetLoad(args []string, stdout, stderr io.Writer) int {
	c, fs := newStateCmd("load", "load [-dir DIR] -rate R -duration D [-accounts A] [-nodes all|0,1] [-json]", false, stderr)
	var o testnet.LoadOptions
	fs.Float64Var(&o.Rate, "rate", 100, "transfers per second to send")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to send")
	fs.IntVar(&o.Accounts, "accounts", 0, "load accounts to send from (default: every one of the genesis)")
	nodesFlag := fs.String("nodes", "all", "nodes to send to: all, or indexes separated by commas (each account sticks to one node)")
	fs.IntVar(&o.Watch, "watch", -1, "node whose finalizedHeads subscription measures finality (default: the first of -nodes)")
	fs.IntVar(&o.Workers, "workers", 16, "concurrent senders")
	fs.IntVar(&o.Batch, "batch", 50, "transactions per JSON-RPC batch (at most the node's limit, 100)")
	fs.DurationVar(&o.Drain, "drain", 30*time.Second, "after sending, how long to wait for accepted transfers to finalize")
	fs.DurationVar(&o.ProvenWait, "proven-wait", 0, "after the drain, wait up to this long for the final transfers' blocks to be proven and report submit→proven latency (0: do not follow proofs)")
	fs.Uint64Var(&o.Amount, "amount", 1, "base units per transfer")
	asJSON := fs.Bool("json", false, "print the report as JSON (progress goes to stderr)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if err := c.load(false); err != nil {
		return testnetFail(stderr, "load", err)
	}
	var err error
	if o.Nodes, err = testnet.NodeIndexes(*nodesFlag, len(c.net.State.Nodes)); err != nil {
		return testnetFail(stderr, "load", err)
	}
	progress := stdout
	if *asJSON {
		progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := c.net.Load(ctx, o, progress)
	if err != nil {
		return testnetFail(stderr, "load", err)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		rep.Write(stdout)
	}
	return 0
}
