//go:build linux

package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/rpc"
)

// Net is a testnet on disk: its directory and its state (testnet.json).
type Net struct {
	Dir   string // absolute
	State *State
	// relays shape the links (Spec.Link); they live in this process.
	relays []*relay
}

// Outcome is what an operation did to one node: Msg on success, Err when
// it failed.
type Outcome struct {
	Node string
	Msg  string
	Err  error
}

// Open reads the testnet in dir.
func Open(dir string) (*Net, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	st, err := readState(abs)
	if err != nil {
		return nil, err
	}
	return &Net{Dir: abs, State: st}, nil
}

// Save replaces DIR/testnet.json atomically.
func (t *Net) Save() error { return writeState(t.Dir, t.State) }

// readState loads DIR/testnet.json.
func readState(dir string) (*State, error) {
	p := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no testnet in %s (%s is missing; create one with `trellis testnet up -dir %s`)", ErrTestnet, dir, p, dir)
	}
	if err != nil {
		return nil, err
	}
	var st State
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

func writeState(dir string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, StateFile))
}

// NodeIndexes parses a node selection: an index, indexes separated by
// commas ("0,2" or "node0,node2"), or "all".
func NodeIndexes(s string, n int) ([]int, error) {
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

// UpOptions is a testnet to generate and start.
type UpOptions struct {
	Spec   Spec
	Dir    string
	Binary string // the trellis binary the nodes run
	Force  bool   // stop and wipe a testnet already in Dir
	Wait   time.Duration
}

// Up generates the testnet of o.Spec in o.Dir and starts every node, then
// waits until each answers RPC. A node that does not come up stops the
// whole testnet; the error carries the end of its log. Progress goes to
// out.
func Up(o UpOptions, out io.Writer) (*Net, error) {
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	spec := o.Spec
	if spec.PluginDir, err = filepath.Abs(spec.PluginDir); err != nil {
		return nil, err
	}
	if err := prepareDir(abs, o.Force, out); err != nil {
		return nil, err
	}
	if spec.BasePort == 0 {
		if spec.BasePort, err = pickBasePort(spec.Nodes); err != nil {
			return nil, err
		}
	} else if err := spec.check(); err != nil {
		return nil, err
	} else if err := portsFree(spec.BasePort, spec.Nodes); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	st, err := Generate(spec, abs, o.Binary, out)
	if err != nil {
		return nil, err
	}
	t := &Net{Dir: abs, State: st}
	if err := t.Save(); err != nil {
		return nil, err
	}
	if err := t.startRelays(); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "generated %d nodes of chain %q (%s consensus) in %s\n", spec.Nodes, spec.ChainID, spec.Consensus, abs)
	dones := make([]<-chan struct{}, len(st.Nodes))
	for i := range st.Nodes {
		pid, done, err := startNodeProcess(o.Binary, st.Nodes[i])
		if err != nil {
			t.abort(out)
			return nil, err
		}
		st.Nodes[i].PID, dones[i] = pid, done
		if err := t.Save(); err != nil {
			t.abort(out)
			return nil, err
		}
	}
	for i, n := range st.Nodes {
		if err := waitRPC(n, dones[i], o.Wait); err != nil {
			t.abort(out)
			return nil, fmt.Errorf("%s did not come up; the testnet was stopped: %w\nlast lines of %s:\n%s", n.Name, err, n.Log, LogTail(n.Log, 30))
		}
	}
	return t, nil
}

// startRelays starts the link relay of every node (with Spec.Link).
func (t *Net) startRelays() error {
	if t.State.Link == nil {
		return nil
	}
	for i, n := range t.State.Nodes {
		listen := fmt.Sprintf("127.0.0.1:%d", t.State.BasePort+relayPortOffset+i)
		target := fmt.Sprintf("127.0.0.1:%d", t.State.BasePort+i)
		r, err := startRelay(listen, target, *t.State.Link, uint64(i)+1)
		if err != nil {
			for _, r := range t.relays {
				r.Close()
			}
			t.relays = nil
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		t.relays = append(t.relays, r)
	}
	return nil
}

// RelayCounts are the datagrams the link relays forwarded and dropped.
func (t *Net) RelayCounts() (forwarded, dropped int64) {
	for _, r := range t.relays {
		forwarded += r.Forwarded.Load()
		dropped += r.Dropped.Load()
	}
	return forwarded, dropped
}

// abort stops whatever Up started.
func (t *Net) abort(out io.Writer) {
	for _, n := range t.State.Nodes {
		if n.PID > 0 {
			if _, err := stopNode(n, 10*time.Second); err != nil {
				fmt.Fprintln(out, err)
			}
		}
	}
	for _, r := range t.relays {
		r.Close()
	}
	t.relays = nil
	_ = t.Save()
}

// prepareDir refuses to reuse a directory that holds a testnet unless
// force, in which case it stops the testnet and wipes the directory. It
// never deletes a directory that is not a testnet's.
func prepareDir(dir string, force bool, out io.Writer) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(ents) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	st, serr := readState(dir)
	if serr != nil {
		return fmt.Errorf("%w: %s exists and holds no testnet (%s); choose an empty or new -dir, nothing was deleted", ErrTestnet, dir, StateFile)
	}
	var running []string
	for _, n := range st.Nodes {
		if len(NodeGroup(n)) > 0 {
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
		if len(NodeGroup(n)) > 0 {
			_ = signalGroup(n, syscall.SIGKILL)
			_ = signalGroup(n, syscall.SIGCONT)
			if !waitGroupGone(n, 10*time.Second) {
				return fmt.Errorf("%w: %s (session %d) did not exit after SIGKILL", ErrTestnet, n.Name, n.PID)
			}
		}
	}
	if len(running) > 0 {
		fmt.Fprintf(out, "stopped the running testnet (%s)\n", strings.Join(running, ", "))
	}
	fmt.Fprintf(out, "wiping %s\n", dir)
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
		}{{"tcp", base + i}, {"udp", base + i}, {"tcp", base + rpcPortOffset + i}, {"tcp", base + metricsPortOffset + i}, {"udp", base + relayPortOffset + i}} {
			if err := check(p.network, p.port); err != nil {
				return fmt.Errorf("%w: port %s/%d is taken (%v); choose another -base-port, or 0 to pick free ports", ErrTestnet, p.network, p.port, err)
			}
		}
	}
	return nil
}

// pickBasePort finds a base port whose every testnet port is free, below
// the kernel's ephemeral range: a port there that is free now can be taken
// by any outgoing connection before the node binds it.
func pickBasePort(n int) (int, error) {
	lo, hi := 10000, ephemeralLow()-relayPortOffset-n
	if hi <= lo {
		return 0, fmt.Errorf("%w: no room for %d nodes below the ephemeral port range (from %d)", ErrTestnet, n, ephemeralLow())
	}
	for try := range 200 {
		// Spread the tries from a time-derived start, so parallel testnets
		// rarely collide.
		base := lo + int((time.Now().UnixNano()/1000+int64(try)*7919)%int64(hi-lo))
		if portsFree(base, n) == nil {
			return base, nil
		}
	}
	return 0, fmt.Errorf("%w: found no free range of ports for %d nodes", ErrTestnet, n)
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default 32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo < 1024 {
		return 32768
	}
	return lo
}

// waitRPC polls the node's RPC until it answers, its process exits or d
// passes.
func waitRPC(n Node, done <-chan struct{}, d time.Duration) error {
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
		} else if _, ok := NodeProc(n); !ok {
			return fmt.Errorf("%s (pid %d) exited before answering RPC at %s", n.Name, n.PID, n.RPC)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer RPC at %s within %s: %v", n.Name, n.RPC, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Down stops every node (SIGTERM, then SIGKILL after timeout) and forgets
// the partition, whose blocks lived in the nodes' memory.
func (t *Net) Down(timeout time.Duration) ([]Outcome, error) {
	out := make([]Outcome, len(t.State.Nodes))
	done := make(chan struct{})
	for i, n := range t.State.Nodes {
		go func() {
			msg, err := stopNode(n, timeout)
			out[i] = Outcome{Node: n.Name, Msg: msg, Err: err}
			done <- struct{}{}
		}()
	}
	for range out {
		<-done
	}
	for _, r := range t.relays {
		r.Close()
	}
	t.relays = nil
	t.State.Partition = nil
	return out, t.Save()
}

// Kill sends SIGKILL to the node processes of nodes, as a crash, and waits
// up to wait for their plugins to exit on their own.
func (t *Net) Kill(nodes []int, wait time.Duration) []Outcome {
	var out []Outcome
	for _, i := range nodes {
		n := t.State.Nodes[i]
		if _, ok := NodeProc(n); !ok {
			out = append(out, Outcome{Node: n.Name, Msg: "not running"})
			continue
		}
		if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
			out = append(out, Outcome{Node: n.Name, Err: fmt.Errorf("SIGKILL pid %d: %w", n.PID, err)})
			continue
		}
		out = append(out, Outcome{Node: n.Name, Msg: fmt.Sprintf("SIGKILL sent to pid %d (the node process only)", n.PID)})
		if waitGroupGone(n, wait) {
			out = append(out, Outcome{Node: n.Name, Msg: "its plugins exited on their own"})
			continue
		}
		var pids []string
		for _, p := range NodeGroup(n) {
			pids = append(pids, strconv.Itoa(p.PID))
		}
		out = append(out, Outcome{Node: n.Name, Msg: fmt.Sprintf("warning: %d plugin process(es) still alive %s after the node died: pids %s (restart and down remove them)",
			len(pids), wait, strings.Join(pids, " "))})
	}
	return out
}

// Restart stops nodes that still run (SIGTERM, then SIGKILL after
// timeout), starts them again with binary, waits up to wait for their RPC
// and re-applies the partition, if any.
func (t *Net) Restart(nodes []int, binary string, wait, timeout time.Duration) ([]Outcome, error) {
	return t.RestartEnv(nodes, binary, nil, wait, timeout)
}

// EnvClockSkew, set to a Go duration within ±1m in a node's environment,
// skews the Clock that `trellis run` serves its plugins: fault injection
// for the robustness suite, never for production.
const EnvClockSkew = "TRELLIS_FAULT_CLOCK_SKEW"

// RestartEnv is Restart with env (NAME=value) added to the nodes'
// environment, for fault injection.
func (t *Net) RestartEnv(nodes []int, binary string, env []string, wait, timeout time.Duration) ([]Outcome, error) {
	var out []Outcome
	dones := map[int]<-chan struct{}{}
	for _, i := range nodes {
		n := t.State.Nodes[i]
		if g := NodeGroup(n); len(g) > 0 {
			msg, err := stopNode(n, timeout)
			if err != nil {
				return out, err
			}
			out = append(out, Outcome{Node: n.Name, Msg: msg})
		}
		pid, done, err := startNodeProcess(binary, n, env...)
		if err != nil {
			return out, err
		}
		t.State.Nodes[i].PID, dones[i] = pid, done
		if err := t.Save(); err != nil {
			return out, err
		}
	}
	for _, i := range nodes {
		n := t.State.Nodes[i]
		if err := waitRPC(n, dones[i], wait); err != nil {
			out = append(out, Outcome{Node: n.Name, Err: fmt.Errorf("%w\nlast lines of %s:\n%s", err, n.Log, LogTail(n.Log, 30))})
			continue
		}
		out = append(out, Outcome{Node: n.Name, Msg: fmt.Sprintf("started, pid %d, RPC %s", n.PID, n.RPC)})
		if len(t.State.Partition) > 0 {
			if err := t.applyBlocks(n, t.State.Partition); err != nil {
				out = append(out, Outcome{Node: n.Name, Err: fmt.Errorf("re-applying the partition: %w", err)})
			} else {
				out = append(out, Outcome{Node: n.Name, Msg: "re-applied partition " + FormatGroups(t.State.Partition)})
			}
		}
	}
	return out, nil
}

// Signal sends sig to the process groups of nodes (the node and its
// plugins); what says what it did, for the outcome.
func (t *Net) Signal(nodes []int, sig syscall.Signal, what string) []Outcome {
	var out []Outcome
	for _, i := range nodes {
		n := t.State.Nodes[i]
		if _, ok := NodeProc(n); !ok {
			out = append(out, Outcome{Node: n.Name, Err: errors.New("not running")})
			continue
		}
		if err := signalGroup(n, sig); err != nil {
			out = append(out, Outcome{Node: n.Name, Err: err})
			continue
		}
		out = append(out, Outcome{Node: n.Name, Msg: what})
	}
	return out
}

// ParseGroups parses "0,1/2,3" into node groups.
func ParseGroups(s string, n int) ([][]int, error) {
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

// DefaultGroups splits n nodes into halves, {0..⌈n/2⌉-1} and the rest:
// neither half holds more than 2/3 of the (equal) stake, so neither can
// finalize.
func DefaultGroups(n int) [][]int {
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

// FormatGroups writes groups as "{0,1} / {2,3}".
func FormatGroups(groups [][]int) string {
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
func blockedFor(st *State, groups [][]int, i int) []string {
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

// applyBlocks sets node n's blocked peers for groups (nil: none) through
// its admin RPC.
func (t *Net) applyBlocks(n Node, groups [][]int) error {
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		return err
	}
	defer c.Close()
	// The admin methods need the token the node wrote into its data
	// directory (config.Template's data_dir).
	tok, err := os.ReadFile(filepath.Join(n.Dir, config.DefaultDataDir, rpc.AdminTokenFile))
	if err != nil {
		return fmt.Errorf("reading the admin token of %s: %w", n.Name, err)
	}
	c.SetAdminToken(strings.TrimSpace(string(tok)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	if groups != nil {
		ids = blockedFor(t.State, groups, n.Index)
	}
	return c.SetBlockedPeers(ctx, ids)
}

// Partition makes every running node block the peers outside its group. It
// records the partition only when every running node took it (a node that
// is down gets it at restart).
func (t *Net) Partition(groups [][]int) ([]Outcome, error) {
	var out []Outcome
	failed := false
	for _, n := range t.State.Nodes {
		if _, ok := NodeProc(n); !ok {
			out = append(out, Outcome{Node: n.Name, Msg: "down (restart re-applies the partition)"})
			continue
		}
		if err := t.applyBlocks(n, groups); err != nil {
			out = append(out, Outcome{Node: n.Name, Err: err})
			failed = true
			continue
		}
		out = append(out, Outcome{Node: n.Name, Msg: fmt.Sprintf("blocks %d peer(s)", len(blockedFor(t.State, groups, n.Index)))})
	}
	if failed {
		return out, fmt.Errorf("%w: not every running node took the partition; `trellis testnet heal -dir %s` undoes what did", ErrTestnet, t.Dir)
	}
	t.State.Partition = groups
	return out, t.Save()
}

// Heal makes every running node block no peer, and forgets the partition.
func (t *Net) Heal() ([]Outcome, error) {
	var out []Outcome
	for _, n := range t.State.Nodes {
		if _, ok := NodeProc(n); !ok {
			out = append(out, Outcome{Node: n.Name, Msg: "down"})
			continue
		}
		if err := t.applyBlocks(n, nil); err != nil {
			out = append(out, Outcome{Node: n.Name, Err: err})
			continue
		}
		out = append(out, Outcome{Node: n.Name, Msg: "blocks no peers"})
	}
	t.State.Partition = nil
	return out, t.Save()
}
