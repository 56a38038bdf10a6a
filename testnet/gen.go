package testnet

// Generation of a local testnet: keys, one genesis and a node.hcl per node.
// Everything here is a pure function of the spec and the keys, so it is
// unit-tested without processes.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/leader"
)

// Testnet defaults and limits.
const (
	DefaultNodes        = 4
	DefaultBasePort     = 26700
	DefaultLoadAccounts = 256
	maxTestnetNodes     = 100 // ports are base+i, base+100+i, base+200+i, base+300+i
	// Port offsets from the base port: p2p (TCP and UDP) at +i, RPC at
	// +100+i, metrics at +200+i, the link relay (UDP, with Spec.Link) at
	// +300+i.
	rpcPortOffset     = 100
	metricsPortOffset = 200
	relayPortOffset   = 300

	// Genesis amounts of a testnet, in base units. Load accounts get a
	// large balance so that no realistic run drains them through fees.
	loadAccountBalance = 10_000_000_000_000_000
	StateFile          = "testnet.json"
)

// Consensus choices of a testnet.
const (
	ConsensusBFT  = "bft"
	ConsensusSolo = "solo"
	ConsensusLC   = "lc"
)

// Longest-chain testnet defaults of `testnet up`: k-deep finality in
// about 10 s (12 blocks at f = 1/4 of 200 ms slots), so a trial finishes
// in minutes; leader.Defaults are the chain's (docs/consensus-lc.md).
const (
	DefaultLCK      = 12
	DefaultLCActive = "1/4"
)

// ErrTestnet is wrapped by every testnet usage error.
var ErrTestnet = errors.New("testnet")

// Spec is what `testnet up` generates.
type Spec struct {
	Nodes         int
	Consensus     string // ConsensusBFT, ConsensusSolo or ConsensusLC
	ChainID       string
	BasePort      int
	BlockInterval time.Duration
	// EmptyBlockInterval, when set, is the BFT plugin's
	// empty_block_interval: with nothing to include, a height waits for a
	// transaction up to this long (`testnet up` sets 10s).
	EmptyBlockInterval time.Duration
	LoadAccounts       int
	PluginDir          string
	// PluginConfig adds string settings to the consensus plugin's config
	// block (e.g. timeout_propose=1s), overriding block_interval.
	PluginConfig map[string]string
	// Prover names the prover plugin every validator runs ("" for none);
	// the validators are then registered provers in genesis.
	Prover string
	// IdleProvers registers that many extra provers that never prove,
	// priced below the validators, to exercise deadline slashing.
	IdleProvers int
	// JobDeadline overrides the market's proof deadline (0: default).
	JobDeadline uint64
	// Link, when set, routes every link through a delay/loss relay that
	// lives in the process that called Up (docs/trials.md).
	Link *LinkShape
	// LC sets a longest-chain testnet's genesis parameters; zero fields
	// take the testnet defaults (DefaultLCK, DefaultLCActive, the rest
	// leader.Defaults), and a zero epoch length becomes 10k/f.
	LC leader.Params
}

// lcParams are the longest-chain parameters of the spec.
func (s Spec) lcParams() leader.Params {
	p := leader.Defaults
	p.K = DefaultLCK
	if f, err := leader.ParseCoefficient(DefaultLCActive); err == nil {
		p.Active = f
	}
	if s.LC.SlotMs != 0 {
		p.SlotMs = s.LC.SlotMs
	}
	if s.LC.Active.Den != 0 {
		p.Active = s.LC.Active
	}
	if s.LC.K != 0 {
		p.K = s.LC.K
	}
	if s.LC.TieSlots != 0 {
		p.TieSlots = s.LC.TieSlots
	}
	if s.LC.MaxProofLag != 0 {
		p.MaxProofLag = s.LC.MaxProofLag
	} else if p.MaxProofLag <= p.K {
		p.MaxProofLag = 2 * p.K
	}
	p.EpochSlots = s.LC.EpochSlots
	if p.EpochSlots == 0 && p.Active.Check() == nil {
		p.EpochSlots = p.MinEpochSlots()
	}
	return p
}

// Prover market settings of a testnet: validators ask validatorProverPrice
// per job, idle provers less, so that jobs reach an idle prover first.
const (
	validatorProverPrice = 1000
	idleProverPrice      = 0
	// ProverBond is what every testnet prover bonds at genesis.
	ProverBond = 10_000_000
	// proverThroughput is the claimed Poseidon2 permutations/s of
	// testnet provers (a profile field; assignment does not use it).
	proverThroughput  = 100_000
	idleProverBalance = 1_000_000_000
)

// IdleProverAddress is idle prover i of a chain (no key is kept: it never signs).
func IdleProverAddress(chainID string, i int) account.Address {
	return LoadAddress(chainID+"/idle-prover", i)
}

func (s Spec) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrTestnet, fmt.Sprintf(format, args...))
	}
	switch {
	case s.Nodes < 1 || s.Nodes > maxTestnetNodes:
		return bad("-n %d: want 1 to %d nodes", s.Nodes, maxTestnetNodes)
	case s.Consensus != ConsensusBFT && s.Consensus != ConsensusSolo && s.Consensus != ConsensusLC:
		return bad("-consensus %q: want %q, %q or %q", s.Consensus, ConsensusBFT, ConsensusSolo, ConsensusLC)
	case s.BasePort < 1024 || s.BasePort+relayPortOffset+s.Nodes-1 > 65535:
		return bad("-base-port %d: want 1024 to %d for %d nodes (ports base+i, base+%d+i, base+%d+i, base+%d+i)",
			s.BasePort, 65535-relayPortOffset-s.Nodes+1, s.Nodes, rpcPortOffset, metricsPortOffset, relayPortOffset)
	case s.Link != nil && (s.Link.Delay < 0 || s.Link.Jitter < 0 || s.Link.Jitter > s.Link.Delay || s.Link.Loss < 0 || s.Link.Loss >= 1):
		return bad("link %s: want delay ≥ jitter ≥ 0 and loss in [0, 1)", s.Link)
	case s.BlockInterval < time.Millisecond:
		return bad("-block-interval %s: want at least 1ms", s.BlockInterval)
	case s.EmptyBlockInterval < 0 || s.EmptyBlockInterval > time.Hour:
		return bad("-empty-block-interval %s: want 0 to 1h", s.EmptyBlockInterval)
	case s.LoadAccounts < 0 || s.LoadAccounts > 100_000:
		return bad("-load-accounts %d: want 0 to 100000", s.LoadAccounts)
	case s.IdleProvers < 0 || s.IdleProvers > 100:
		return bad("-idle-provers %d: want 0 to 100", s.IdleProvers)
	case s.Prover == "" && (s.IdleProvers > 0 || s.JobDeadline > 0):
		return bad("-idle-provers and -job-deadline need -prover")
	case s.JobDeadline > account.MaxJobDeadline:
		return bad("-job-deadline %d: want at most %d blocks", s.JobDeadline, account.MaxJobDeadline)
	}
	if s.Consensus == ConsensusLC {
		if err := s.lcParams().Check(); err != nil {
			return bad("longest-chain parameters: %v", err)
		}
	}
	if !chainIDRe.MatchString(s.ChainID) {
		return bad("-chain-id %q: want 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit (the rule of node.chain_id)", s.ChainID)
	}
	return nil
}

// chainIDRe is the rule config applies to node.chain_id.
var chainIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// LoadKey is load account i of a chain: deterministic, so `testnet load`
// rebuilds the keys from the chain id alone.
func LoadKey(chainID string, i int) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("trellis-testnet-load/" + chainID + "/" + strconv.Itoa(i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func LoadAddress(chainID string, i int) account.Address {
	return account.FromPublicKey(LoadKey(chainID, i).Public().(ed25519.PublicKey))
}

// peerIDOf is the libp2p peer id of a node key.
func peerIDOf(key ed25519.PrivateKey) (string, error) {
	pk, err := p2pcrypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("node key as a libp2p key: %w", err)
	}
	id, err := peer.IDFromPublicKey(pk.GetPublic())
	if err != nil {
		return "", fmt.Errorf("peer id of the node key: %w", err)
	}
	return id.String(), nil
}

// Node is one node of testnet.json.
type Node struct {
	Index     int      `json:"index"`
	Name      string   `json:"name"`
	Dir       string   `json:"dir"`
	Config    string   `json:"config"`
	Log       string   `json:"log"`
	PID       int      `json:"pid"`
	PeerID    string   `json:"peer_id"`
	Validator string   `json:"validator"`
	P2P       []string `json:"p2p"`
	RPC       string   `json:"rpc"`
	Metrics   string   `json:"metrics"`
	// Relay is the QUIC multiaddr of the link relay in front of the node,
	// the only address it announces, with Spec.Link.
	Relay string `json:"relay,omitempty"`
	// Sequencer is set on the node that runs the consensus plugin of a
	// solo testnet (node 0); every node of a BFT testnet runs it.
	Sequencer bool `json:"sequencer"`
}

// State is DIR/testnet.json: what the other commands act on.
type State struct {
	ChainID      string     `json:"chain_id"`
	Consensus    string     `json:"consensus"`
	BasePort     int        `json:"base_port"`
	LoadAccounts int        `json:"load_accounts"`
	Binary       string     `json:"binary"`
	Created      time.Time  `json:"created"`
	Partition    [][]int    `json:"partition,omitempty"`
	Link         *LinkShape `json:"link,omitempty"`
	Nodes        []Node     `json:"nodes"`
}

// nodeKeys are one node's generated keys.
type nodeKeys struct {
	node   ed25519.PrivateKey
	blsPub []byte
	pop    []byte
}

// testnetPlan lays out the nodes of spec in dir: names, ports, peer ids.
func testnetPlan(spec Spec, dir string, keys []nodeKeys) ([]Node, error) {
	nodes := make([]Node, spec.Nodes)
	for i := range nodes {
		pid, err := peerIDOf(keys[i].node)
		if err != nil {
			return nil, fmt.Errorf("node%d: %w", i, err)
		}
		p := spec.BasePort + i
		nd := filepath.Join(dir, "node"+strconv.Itoa(i))
		nodes[i] = Node{
			Index: i, Name: "node" + strconv.Itoa(i), Dir: nd,
			Config: filepath.Join(nd, "node.hcl"), Log: filepath.Join(nd, "node.log"),
			PeerID:    pid,
			Validator: account.FromPublicKey(keys[i].node.Public().(ed25519.PublicKey)).String(),
			P2P:       []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", p)},
			RPC:       fmt.Sprintf("http://127.0.0.1:%d", spec.BasePort+rpcPortOffset+i),
			Metrics:   fmt.Sprintf("http://127.0.0.1:%d", spec.BasePort+metricsPortOffset+i),
			Sequencer: spec.Consensus != ConsensusSolo || i == 0,
		}
		if spec.Link != nil {
			nodes[i].Relay = fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", spec.BasePort+relayPortOffset+i)
		}
	}
	return nodes, nil
}

// testnetGenesis funds and bonds every validator equally and funds the
// load accounts.
func testnetGenesis(spec Spec, nodes []Node, keys []nodeKeys, now time.Time) (*genesis.Genesis, error) {
	g := &genesis.Genesis{
		ChainID: spec.ChainID, GenesisTime: now.UTC().Truncate(time.Second),
		Fee:            genesis.Fee{InitialBaseFee: genesis.DefaultBaseFee, BlockGasLimit: genesis.DefaultGasLimit},
		UnbondingDelay: genesis.DefaultUnbondingDelay,
		HeaderVersion:  block.VersionTxCommitment,
	}
	if spec.Consensus == ConsensusLC {
		g.LongestChain = genesis.NewLongestChain(spec.lcParams())
	}
	for i, n := range nodes {
		addr, err := account.ParseAddress(n.Validator)
		if err != nil {
			return nil, fmt.Errorf("node%d validator: %w", i, err)
		}
		g.Accounts = append(g.Accounts, genesis.Account{Address: addr, Balance: genesis.DevValidatorBalance})
		g.Validators = append(g.Validators, genesis.Validator{Address: addr, BLSPublicKey: keys[i].blsPub, ProofOfPossession: keys[i].pop, Stake: genesis.DevValidatorStake})
	}
	for i := range spec.LoadAccounts {
		g.Accounts = append(g.Accounts, genesis.Account{Address: LoadAddress(spec.ChainID, i), Balance: loadAccountBalance})
	}
	if spec.Prover != "" {
		for _, v := range g.Validators {
			g.Provers = append(g.Provers, genesis.Prover{Address: v.Address, Kind: spec.Prover, Throughput: proverThroughput, Price: validatorProverPrice, Bond: ProverBond})
		}
		for i := range spec.IdleProvers {
			a := IdleProverAddress(spec.ChainID, i)
			g.Accounts = append(g.Accounts, genesis.Account{Address: a, Balance: idleProverBalance})
			g.Provers = append(g.Provers, genesis.Prover{Address: a, Kind: "idle", Throughput: proverThroughput, Price: idleProverPrice, Bond: ProverBond})
		}
		if spec.JobDeadline > 0 {
			d := spec.JobDeadline
			g.ProverMarket = &genesis.Market{JobDeadline: &d}
		}
		if spec.Consensus == ConsensusLC { // volunteer provers: the first proof on the chain is paid
			if g.ProverMarket == nil {
				g.ProverMarket = &genesis.Market{}
			}
			g.ProverMarket.Volunteer = true
		}
	}
	return g, g.Check()
}

// pinnedPlugin is a plugin binary with its checksum.
type pinnedPlugin struct{ kind, name, sum string }

// testnetPlugins pins the fee plugin (if built) and the chosen consensus
// plugin (required) from the plugin directory.
func testnetPlugins(spec Spec) ([]pinnedPlugin, error) {
	var out []pinnedPlugin
	for _, p := range []struct {
		kind, name string
		required   bool
	}{{config.KindFee, config.DefaultPlugins[config.KindFee], false}, {config.KindConsensus, spec.Consensus, true}, {config.KindProver, spec.Prover, true}} {
		if p.name == "" {
			continue
		}
		bin := filepath.Join(spec.PluginDir, config.BinaryPrefix+p.kind+"-"+p.name)
		sum, err := plugin.FileSHA256(bin)
		if errors.Is(err, os.ErrNotExist) && !p.required {
			continue
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: the %s plugin %s is not built (run `make build`, or pass -plugin-dir)", ErrTestnet, p.kind, bin)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pinnedPlugin{p.kind, p.name, sum})
	}
	return out, nil
}

// testnetConfig writes node i's node.hcl: config.Template's file with the
// testnet's network, RPC and metrics settings and the plugins.
func testnetConfig(spec Spec, nodes []Node, i int, pins []pinnedPlugin) ([]byte, error) {
	n := nodes[i]
	var tps []config.TemplatePlugin
	for _, p := range pins {
		tp := config.TemplatePlugin{Kind: p.kind, Name: p.name, SHA256: p.sum}
		switch p.kind { // the fee plugin runs on the defaults it declares
		case config.KindConsensus:
			// A solo testnet's followers run the plugin in follow mode:
			// the host syncs node0's blocks and the plugin checks node0's
			// signature on each.
			tp.Config = consensusConfig(spec, n, nodes[0])
		case config.KindProver:
			if !n.Sequencer {
				continue // only validators hold an account key to submit proofs with
			}
		}
		tps = append(tps, tp)
	}
	src := config.Template(config.TemplateNode{Name: n.Name, ChainID: spec.ChainID, PluginDir: spec.PluginDir}, tps...)
	f, diags := hclwrite.ParseConfig(src, n.Config, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("node%d config template: %s", i, diags.Error())
	}
	root := f.Body()
	block := func(name string) (*hclwrite.Body, error) {
		b := root.FirstMatchingBlock(name, nil)
		if b == nil {
			return nil, fmt.Errorf("node%d config template has no %s block", i, name)
		}
		return b.Body(), nil
	}
	nb, err := block("network")
	if err != nil {
		return nil, err
	}
	var boot []cty.Value
	for _, o := range nodes {
		switch {
		case o.Index == i:
		case o.Relay != "":
			boot = append(boot, cty.StringVal(o.Relay+"/p2p/"+o.PeerID))
		default:
			boot = append(boot, cty.StringVal(o.P2P[0]+"/p2p/"+o.PeerID))
		}
	}
	if n.Relay != "" {
		nb.SetAttributeValue("announce", cty.ListVal([]cty.Value{cty.StringVal(n.Relay)}))
	}
	nb.SetAttributeValue("enabled", cty.BoolVal(true))
	nb.SetAttributeValue("listen", cty.ListVal([]cty.Value{cty.StringVal(n.P2P[0]), cty.StringVal(n.P2P[1])}))
	if len(boot) == 0 {
		nb.SetAttributeValue("bootstrap", cty.ListValEmpty(cty.String))
	} else {
		nb.SetAttributeValue("bootstrap", cty.ListVal(boot))
	}
	nb.SetAttributeValue("dht", cty.BoolVal(true))
	rb, err := block("rpc")
	if err != nil {
		return nil, err
	}
	rb.SetAttributeValue("listen", cty.StringVal(hostPort(n.RPC)))
	rb.SetAttributeValue("admin", cty.BoolVal(true))
	mb, err := block("metrics")
	if err != nil {
		return nil, err
	}
	mb.SetAttributeValue("listen", cty.StringVal(hostPort(n.Metrics)))

	role := "a BFT validator"
	if spec.Consensus == ConsensusLC {
		role = "a longest-chain validator (slots, f and k are in genesis.json)"
	}
	if spec.Consensus == ConsensusSolo {
		role = "a follower: it syncs node0's blocks and checks node0's signature on each"
		if n.Sequencer {
			role = "the solo sequencer"
		}
	}
	header := fmt.Sprintf("# %s of testnet %q, written by `trellis testnet up`: %s.\n"+
		"# Reference: docs/testnet.md and docs/configuration.md.\n\n", n.Name, spec.ChainID, role)
	return append([]byte(header), f.Bytes()...), nil
}

// consensusConfig writes the consensus plugin's settings: block_interval,
// for solo the sequencer's fee address (and, on followers, follow mode
// and the sequencer whose signature they check), then the -plugin-config
// overrides in name order.
func consensusConfig(spec Spec, n, sequencer Node) func(*hclwrite.Body) {
	return func(b *hclwrite.Body) {
		if spec.Consensus != ConsensusLC { // its timing is in genesis
			b.SetAttributeValue("block_interval", cty.StringVal(spec.BlockInterval.String()))
		}
		if spec.Consensus == ConsensusBFT && spec.EmptyBlockInterval > 0 {
			b.SetAttributeValue("empty_block_interval", cty.StringVal(spec.EmptyBlockInterval.String()))
		}
		if spec.Consensus == ConsensusSolo {
			b.SetAttributeValue("proposer", cty.StringVal(sequencer.Validator))
			if !n.Sequencer {
				b.SetAttributeValue("follow", cty.True)
				b.SetAttributeValue("sequencer", cty.StringVal(sequencer.Validator))
			}
		}
		names := make([]string, 0, len(spec.PluginConfig))
		for k := range spec.PluginConfig {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			b.SetAttributeValue(k, cty.StringVal(spec.PluginConfig[k]))
		}
	}
}

// hostPort strips the scheme of an http:// URL.
func hostPort(u string) string {
	const p = "http://"
	if len(u) > len(p) && u[:len(p)] == p {
		return u[len(p):]
	}
	return u
}

// Generate writes every node directory under dir (which must exist
// and be empty of nodes) and returns the testnet's state, without PIDs.
func Generate(spec Spec, dir, binary string, stdout io.Writer) (*State, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	pins, err := testnetPlugins(spec)
	if err != nil {
		return nil, err
	}
	keys := make([]nodeKeys, spec.Nodes)
	for i := range keys {
		kd := filepath.Join(dir, "node"+strconv.Itoa(i), "keys")
		if err := os.MkdirAll(kd, 0o700); err != nil {
			return nil, err
		}
		if keys[i].node, err = signer.NewNodeKeyFile(filepath.Join(kd, "node_key.json")); err != nil {
			return nil, err
		}
		if keys[i].blsPub, keys[i].pop, err = signer.NewBLSKeyFile(filepath.Join(kd, "validator_bls_key.json")); err != nil {
			return nil, err
		}
	}
	nodes, err := testnetPlan(spec, dir, keys)
	if err != nil {
		return nil, err
	}
	g, err := testnetGenesis(spec, nodes, keys, time.Now())
	if err != nil {
		return nil, err
	}
	for i, n := range nodes {
		if err := g.Save(filepath.Join(n.Dir, config.DefaultGenesis)); err != nil {
			return nil, fmt.Errorf("node%d genesis: %w", i, err)
		}
		src, err := testnetConfig(spec, nodes, i, pins)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(n.Config, src, 0o644); err != nil {
			return nil, err
		}
	}
	for _, p := range pins {
		fmt.Fprintf(stdout, "pinned plugin %s.%s sha256 %s\n", p.kind, p.name, p.sum)
	}
	return &State{ChainID: spec.ChainID, Consensus: spec.Consensus, BasePort: spec.BasePort,
		LoadAccounts: spec.LoadAccounts, Binary: binary, Created: time.Now().UTC().Truncate(time.Second), Nodes: nodes, Link: spec.Link}, nil
}
