//go:build linux

package testnet

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
)

func testSpec(n int, consensus string) Spec {
	return Spec{Nodes: n, Consensus: consensus, ChainID: "tn-test", BasePort: 30000,
		BlockInterval: 250 * time.Millisecond, LoadAccounts: 8, PluginDir: "/opt/trellis/bin",
		PluginConfig: map[string]string{"timeout_vote": "300ms"}}
}

// testKeys makes n nodes' keys from fixed seeds.
func testKeys(t *testing.T, n int) []nodeKeys {
	t.Helper()
	keys := make([]nodeKeys, n)
	for i := range keys {
		seed := sha256.Sum256([]byte{byte(i)})
		keys[i].node = ed25519.NewKeyFromSeed(seed[:])
		sk, err := bls.GenerateKey(strings.NewReader(strings.Repeat(string(rune('a'+i)), 256)))
		if err != nil {
			t.Fatal(err)
		}
		pk, pop := sk.PublicKey().Bytes(), bls.ProofOfPossession(sk).Bytes()
		keys[i].blsPub, keys[i].pop = pk[:], pop[:]
	}
	return keys
}

func TestSpecCheck(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
		want string // "" for valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"no nodes", func(s *Spec) { s.Nodes = 0 }, "-n 0"},
		{"too many nodes", func(s *Spec) { s.Nodes = maxTestnetNodes + 1 }, "-n 101"},
		{"unknown consensus", func(s *Spec) { s.Consensus = "pow" }, `-consensus "pow"`},
		{"low port", func(s *Spec) { s.BasePort = 80 }, "-base-port 80"},
		{"ports past 65535", func(s *Spec) { s.BasePort = 65400 }, "-base-port 65400"},
		{"zero interval", func(s *Spec) { s.BlockInterval = 0 }, "-block-interval"},
		{"bad chain id", func(s *Spec) { s.ChainID = "has space" }, "-chain-id"},
		{"negative accounts", func(s *Spec) { s.LoadAccounts = -1 }, "-load-accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec(4, ConsensusBFT)
			tt.edit(&s)
			err := s.check()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTestnet) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("check: %v, want ErrTestnet mentioning %q", err, tt.want)
			}
		})
	}
}

func TestLoadKeysDeterministic(t *testing.T) {
	seed := sha256.Sum256([]byte("trellis-testnet-load/tn-test/7"))
	if want := ed25519.NewKeyFromSeed(seed[:]); !LoadKey("tn-test", 7).Equal(want) {
		t.Fatal("LoadKey is not ed25519.NewKeyFromSeed(sha256(\"trellis-testnet-load/\" + chain + \"/\" + i))")
	}
	seen := map[account.Address]string{}
	for _, chain := range []string{"a", "b"} {
		for i := range 3 {
			a := LoadAddress(chain, i)
			if prev, ok := seen[a]; ok {
				t.Fatalf("load address of %s/%d equals %s", chain, i, prev)
			}
			seen[a] = chain
		}
	}
}

func TestPeerIDOf(t *testing.T) {
	key := testKeys(t, 1)[0].node
	id, err := peerIDOf(key)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := peer.Decode(id)
	if err != nil {
		t.Fatalf("peer id %q does not decode: %v", id, err)
	}
	pub, err := pid.ExtractPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pub.Raw()
	if err != nil || !ed25519.PublicKey(raw).Equal(key.Public()) {
		t.Fatalf("peer id %s holds key %x, want the node key %x", id, raw, key.Public())
	}
	if _, err := peerIDOf(ed25519.PrivateKey{1, 2, 3}); err == nil {
		t.Error("a 3-byte key gave a peer id")
	}
}

func TestTestnetGenesis(t *testing.T) {
	spec := testSpec(4, ConsensusBFT)
	keys := testKeys(t, 4)
	nodes, err := testnetPlan(spec, "/tn", keys)
	if err != nil {
		t.Fatal(err)
	}
	g, err := testnetGenesis(spec, nodes, keys, time.Unix(1_750_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Validators) != 4 || len(g.Accounts) != 4+spec.LoadAccounts {
		t.Fatalf("%d validators and %d accounts, want 4 and %d", len(g.Validators), len(g.Accounts), 4+spec.LoadAccounts)
	}
	for i, v := range g.Validators {
		if v.Stake != genesis.DevValidatorStake || v.Address.String() != nodes[i].Validator || !slices.Equal(v.BLSPublicKey, keys[i].blsPub) {
			t.Errorf("validator %d: %+v", i, v)
		}
		if g.Accounts[i].Address != v.Address || g.Accounts[i].Balance != genesis.DevValidatorBalance {
			t.Errorf("validator %d account: %+v", i, g.Accounts[i])
		}
	}
	for i := range spec.LoadAccounts {
		a := g.Accounts[4+i]
		if a.Address != LoadAddress(spec.ChainID, i) || a.Balance != loadAccountBalance {
			t.Errorf("load account %d: %+v", i, a)
		}
	}
	if g.ChainID != spec.ChainID {
		t.Errorf("chain id %q", g.ChainID)
	}
}

func TestTestnetPlan(t *testing.T) {
	spec := testSpec(3, ConsensusSolo)
	nodes, err := testnetPlan(spec, "/tn", testKeys(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	n2 := nodes[2]
	want := Node{Index: 2, Name: "node2", Dir: "/tn/node2", Config: "/tn/node2/node.hcl", Log: "/tn/node2/node.log",
		PeerID: n2.PeerID, Validator: n2.Validator,
		P2P: []string{"/ip4/127.0.0.1/tcp/30002", "/ip4/127.0.0.1/udp/30002/quic-v1"},
		RPC: "http://127.0.0.1:30102", Metrics: "http://127.0.0.1:30202"}
	if !reflect.DeepEqual(n2, want) {
		t.Fatalf("node2 %+v\nwant %+v", n2, want)
	}
	if !nodes[0].Sequencer || nodes[1].Sequencer {
		t.Error("solo: only node0 sequences")
	}
}

// TestTestnetConfig loads each generated node.hcl with the config package:
// ports, bootstrap peers, admin RPC and the consensus plugin per node.
func TestTestnetConfig(t *testing.T) {
	pins := []pinnedPlugin{{config.KindFee, "eip1559", strings.Repeat("a", 64)}, {config.KindConsensus, "", strings.Repeat("b", 64)}}
	for _, consensus := range []string{ConsensusBFT, ConsensusSolo} {
		t.Run(consensus, func(t *testing.T) {
			spec := testSpec(4, consensus)
			pins[1].name = consensus
			dir := t.TempDir()
			nodes, err := testnetPlan(spec, dir, testKeys(t, 4))
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range nodes {
				src, err := testnetConfig(spec, nodes, i, pins)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(n.Dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(n.Config, src, 0o644); err != nil {
					t.Fatal(err)
				}
				cfg, diags := config.LoadFile(n.Config, config.LoadOptions{})
				if diags.HasErrors() {
					t.Fatalf("node%d: %s\n%s", i, diags.Error(), src)
				}
				if cfg.Node.Name != n.Name || cfg.Node.ChainID != spec.ChainID || cfg.Node.PluginDir != spec.PluginDir {
					t.Errorf("node%d node block: %+v", i, cfg.Node)
				}
				if !cfg.Network.Enabled || !cfg.Network.DHT || !reflect.DeepEqual(cfg.Network.Listen, n.P2P) {
					t.Errorf("node%d network: %+v", i, cfg.Network)
				}
				var boot []string
				for _, o := range nodes {
					if o.Index != i {
						boot = append(boot, o.P2P[0]+"/p2p/"+o.PeerID)
					}
				}
				if !reflect.DeepEqual(cfg.Network.Bootstrap, boot) {
					t.Errorf("node%d bootstrap %v, want %v", i, cfg.Network.Bootstrap, boot)
				}
				if !cfg.RPC.Admin || "http://"+cfg.RPC.Listen != n.RPC || "http://"+cfg.Metrics.Listen != n.Metrics {
					t.Errorf("node%d rpc %+v metrics %+v", i, cfg.RPC, cfg.Metrics)
				}
				var kinds []string
				for _, p := range cfg.Plugins {
					kinds = append(kinds, p.Kind+"."+p.Name)
				}
				want := []string{"fee.eip1559", "consensus." + consensus}
				if !slices.Equal(kinds, want) {
					t.Errorf("node%d plugins %v, want %v", i, kinds, want)
				}
				for _, p := range cfg.Plugins {
					if p.Kind != config.KindConsensus {
						continue
					}
					var names []string
					for name := range consensusAttrs(t, p.Body) {
						names = append(names, name)
					}
					slices.Sort(names)
					want := []string{"block_interval", "timeout_vote"}
					if consensus == ConsensusSolo {
						want = []string{"block_interval", "proposer", "timeout_vote"}
						if i > 0 {
							want = []string{"block_interval", "follow", "proposer", "sequencer", "timeout_vote"}
						}
					}
					if !slices.Equal(names, want) {
						t.Errorf("node%d consensus settings %v, want %v", i, names, want)
					}
				}
				for _, s := range []string{`block_interval = "250ms"`, `timeout_vote   = "300ms"`} {
					if (consensus == ConsensusBFT || i == 0) && !strings.Contains(string(src), s) {
						t.Errorf("node%d config lacks %s:\n%s", i, s, src)
					}
				}
				if consensus == ConsensusSolo && i == 0 && !strings.Contains(string(src), `proposer       = "`+n.Validator+`"`) {
					t.Errorf("node0 solo config lacks its proposer:\n%s", src)
				}
			}
		})
	}
}

// consensusAttrs reads the attributes of a plugin's config block.
func consensusAttrs(t *testing.T, body hcl.Body) hcl.Attributes {
	t.Helper()
	attrs, diags := body.JustAttributes()
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return attrs
}

func TestGenerateTestnetNeedsConsensusPlugin(t *testing.T) {
	spec := testSpec(2, ConsensusBFT)
	spec.PluginDir = t.TempDir()
	_, err := Generate(spec, t.TempDir(), "/bin/trellis", &strings.Builder{})
	if !errors.Is(err, ErrTestnet) || !strings.Contains(err.Error(), "trellis-consensus-bft") {
		t.Fatalf("err %v, want the missing trellis-consensus-bft named", err)
	}
}

func TestGenerateTestnet(t *testing.T) {
	spec := testSpec(3, ConsensusSolo)
	spec.PluginDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(spec.PluginDir, "trellis-consensus-solo"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := Generate(spec, dir, "/bin/trellis", &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	var genesis []byte
	for i, n := range st.Nodes {
		for _, f := range []string{"node.hcl", "genesis.json", "keys/node_key.json", "keys/validator_bls_key.json"} {
			if _, err := os.Stat(filepath.Join(n.Dir, f)); err != nil {
				t.Errorf("node%d: %v", i, err)
			}
		}
		g, err := os.ReadFile(filepath.Join(n.Dir, "genesis.json"))
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && string(g) != string(genesis) {
			t.Errorf("node%d genesis differs from node0's", i)
		}
		genesis = g
		key, err := signer.LoadNodeKey(filepath.Join(n.Dir, "keys", "node_key.json"))
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := peerIDOf(key); id != n.PeerID {
			t.Errorf("node%d peer id %s, key file gives %s", i, n.PeerID, id)
		}
	}
}

func TestNodeIndexes(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  bool
	}{
		{"all", []int{0, 1, 2, 3}, false},
		{"2", []int{2}, false},
		{"0,3,0", []int{0, 3}, false},
		{"node1", []int{1}, false},
		{"4", nil, true},
		{"-1", nil, true},
		{"x", nil, true},
		{"", nil, true},
	}
	for _, tt := range tests {
		got, err := NodeIndexes(tt.in, 4)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("NodeIndexes(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestGroups(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want [][]int
		err  string
	}{
		{"0,1/2,3", 4, [][]int{{0, 1}, {2, 3}}, ""},
		{"3,0/1", 4, [][]int{{0, 3}, {1}}, ""},
		{"0,1,2,3", 4, nil, "no partition"},
		{"0,1/1,2", 4, nil, "two groups"},
		{"0/5", 4, nil, "not a node index"},
		{"0//1", 4, nil, "not a node index"},
	}
	for _, tt := range tests {
		got, err := ParseGroups(tt.in, tt.n)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseGroups(%q): %v, want error %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseGroups(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for n, want := range map[int][][]int{1: {{0}}, 2: {{0}, {1}}, 3: {{0, 1}, {2}}, 4: {{0, 1}, {2, 3}}, 7: {{0, 1, 2, 3}, {4, 5, 6}}} {
		got := DefaultGroups(n)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("DefaultGroups(%d) = %v, want %v", n, got, want)
		}
		// No side may hold more than 2/3 of equal stake.
		for _, g := range got {
			if n > 1 && 3*len(g) > 2*n {
				t.Errorf("DefaultGroups(%d): group %v has a quorum", n, g)
			}
		}
	}
	st := &State{}
	for i := range 5 {
		st.Nodes = append(st.Nodes, Node{Index: i, PeerID: "p" + string(rune('0'+i))})
	}
	groups := [][]int{{0, 1}, {2, 3}} // node 4 in no group: alone
	for i, want := range [][]string{{"p2", "p3", "p4"}, {"p2", "p3", "p4"}, {"p0", "p1", "p4"}, {"p0", "p1", "p4"}, {"p0", "p1", "p2", "p3"}} {
		if got := blockedFor(st, groups, i); !slices.Equal(got, want) {
			t.Errorf("blockedFor node %d = %v, want %v", i, got, want)
		}
	}
	if got := FormatGroups(groups); got != "{0,1} / {2,3}" {
		t.Errorf("FormatGroups = %q", got)
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		in   string
		want procStat
		err  bool
	}{
		{"1234 (trellis) S 1 1234 1234 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 9 0 100 0 300 18446744073709551615",
			procStat{PID: 1234, State: 'S', PGID: 1234, SID: 1234, Ticks: 175, RSS: 300}, false},
		{"77 (a) b (c)) T 5 80 1234 0 -1 0 0 0 0 0 3 4 0 0 0 0 0 0 0 0 0", procStat{PID: 77, State: 'T', PGID: 80, SID: 1234, Ticks: 7}, false},
		{"9 (z) Z 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", procStat{PID: 9, State: 'Z', PGID: 9, SID: 9}, false},
		{"", procStat{}, true},
		{"12 (x) S 1 2", procStat{}, true},
		{"x (y) S 1 2 3 0 -1 0 0 0 0 0 1 1", procStat{}, true},
		{"12 (x) S 1 a 3 0 -1 0 0 0 0 0 1 1", procStat{}, true},
	}
	for _, tt := range tests {
		got, err := parseProcStat(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("parseProcStat(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
	self, ok := readProcStat(os.Getpid())
	if !ok || self.PID != os.Getpid() || !self.live() {
		t.Fatalf("own /proc stat: %+v %v", self, ok)
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add("1234 (trellis) S 1 1234 1234 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 9 0 100 0 0")
	f.Add("77 (a) b (c)) T 5 80 1234 0 -1 0 0 0 0 0 3 4 0 0")
	f.Add("(")
	f.Add(") (")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseProcStat(s)
		if err == nil && st.State == 0 {
			t.Fatalf("parsed %q without a state", s)
		}
	})
}

const promText = `# HELP trellis_p2p_sent_messages_total Messages sent.
# TYPE trellis_p2p_sent_messages_total counter
trellis_p2p_sent_messages_total{topic="trellis/tn/consensus/bft/votes"} 120
trellis_p2p_sent_messages_total{topic="trellis/tn/consensus/bft/proposals"} 30
trellis_p2p_sent_messages_total{topic="trellis/tn/host/txs"} 999
trellis_p2p_sent_bytes_total{topic="trellis/tn/consensus/bft/votes",peer="a\"b"} 2.5e4 1700000000000
trellis_p2p_sent_bytes_total{topic="trellis/tn/host/txs"} 1e6
trellis_up 1

go_goroutines{} 12
`

func TestParseProm(t *testing.T) {
	s, err := ParseProm(promText)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 7 {
		t.Fatalf("%d samples, want 7: %+v", len(s), s)
	}
	if got := SumSamples(s, metricSentMessages, consensusTopic); got != 150 {
		t.Errorf("consensus messages %v, want 150", got)
	}
	if got := SumSamples(s, metricSentMessages, nil); got != 1149 {
		t.Errorf("all messages %v, want 1149", got)
	}
	if got := SumSamples(s, metricSentBytes, consensusTopic); got != 25000 {
		t.Errorf("consensus bytes %v, want 25000", got)
	}
	if s[3].Labels["peer"] != `a"b` {
		t.Errorf("escaped label %q", s[3].Labels["peer"])
	}
	for _, bad := range []string{"name", `name{a="b} 1`, `name{a=b} 1`, "name x", "name 1 2 3", `name{a="b"`} {
		if _, err := ParseProm(bad + "\n"); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseProm(%q): %v, want an error at line 1", bad, err)
		}
	}
}

func FuzzParseProm(f *testing.F) {
	f.Add(promText)
	f.Add(`a{b="\\",c="\n"} 1`)
	f.Add("a{")
	f.Fuzz(func(t *testing.T, s string) {
		samples, err := ParseProm(s)
		if err != nil {
			return
		}
		for _, x := range samples {
			if x.Name == "" {
				t.Fatalf("sample without a name from %q", s)
			}
		}
	})
}

func TestPercentiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		in            []time.Duration
		p50, p99, max time.Duration
	}{
		{nil, 0, 0, 0},
		{ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{ms(4, 1, 3, 2), 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 5 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		s := summarize(tt.in)
		if s.P50 != tt.p50 || s.P99 != tt.p99 || s.Max != tt.max || s.Count != len(tt.in) {
			t.Errorf("summarize(%v) = %+v; want p50 %v p99 %v max %v", tt.in, s, tt.p50, tt.p99, tt.max)
		}
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	if p := percentile(hundred, 99); p != 99 {
		t.Errorf("p99 of 1..100 = %d, want 99", p)
	}
	if p := percentile(hundred, 100); p != 100 {
		t.Errorf("p100 of 1..100 = %d, want 100", p)
	}
	if r, n := topReason(map[string]int{"nonce_gap": 3, "pool_full": 3, "underpriced": 1}); r != "nonce_gap" || n != 3 {
		t.Errorf("topReason = %s %d", r, n)
	}
}

// Ports picked for a testnet lie below the ephemeral range, all of them.
func TestPickBasePortBelowEphemeral(t *testing.T) {
	for range 5 {
		base, err := pickBasePort(16)
		if err != nil {
			t.Fatal(err)
		}
		if base < 10000 || base+metricsPortOffset+16 > ephemeralLow() {
			t.Fatalf("base %d: the ports reach %d, the ephemeral range starts at %d", base, base+metricsPortOffset+16, ephemeralLow())
		}
	}
}

// A descriptor inherited without close-on-exec does not reach the node
// processes a testnet starts.
func TestNodesInheritNoDescriptors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_RDWR, 0o600) // no O_CLOEXEC, as a shell's
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := closeOnExecAll(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-c", "ls /proc/$$/fd").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(out)) {
		if f == strconv.Itoa(fd) {
			t.Fatalf("descriptor %d reached the child (it has %s)", fd, out)
		}
	}
}

func TestParseDepths(t *testing.T) {
	m := parseDepths("1:20 2:3 bad 4:x")
	if len(m) != 2 || m[1] != 20 || m[2] != 3 {
		t.Fatalf("parsed %v", m)
	}
}

// TestLCParamsDefaults: a library caller's zero LC parameters are the
// testnet's (k = 12, f = 1/4), as `testnet up` gives, not the chain's.
func TestLCParamsDefaults(t *testing.T) {
	p := Spec{Consensus: ConsensusLC}.lcParams()
	if p.K != DefaultLCK || p.Active.Num != 1 || p.Active.Den != 4 || p.EpochSlots != p.MinEpochSlots() || p.Check() != nil {
		t.Fatalf("zero LC spec gives %+v", p)
	}
}
