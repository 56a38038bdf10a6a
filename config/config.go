package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/core/p2p"

	"github.com/trellis-chain/trellis/sdk"
)

// Defaults of every optional setting. Relative paths are resolved as the
// corresponding attribute would be: DefaultDataDir and DefaultPluginDir
// against the directory of the configuration file, DefaultStoragePath against
// the data directory.
const (
	DefaultNodeName       = "trellis"
	DefaultDataDir        = "data"
	DefaultChainID        = "trellis-dev"
	DefaultPluginDir      = "bin"
	DefaultGenesis        = "genesis.json"
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"
	DefaultListen         = "/ip4/127.0.0.1/tcp/26656"
	DefaultListenQUIC     = "/ip4/127.0.0.1/udp/26656/quic-v1"
	DefaultKeyDir         = "keys"
	DefaultNetworkEnabled = true
	DefaultDHT            = true
	DefaultMaxStreams     = p2p.DefaultMaxStreams
	DefaultMaxMemoryMB    = p2p.DefaultMaxMemoryMB
	DefaultQueueSize      = p2p.DefaultQueueSize
	DefaultMaxPeers       = p2p.DefaultMaxPeers
	DefaultStoragePath    = "trellis.db"
	DefaultRPCEnabled     = true
	DefaultRPCListen      = "127.0.0.1:8545"
	DefaultMetricsEnabled = true
	DefaultMetricsListen  = "127.0.0.1:9464"
	DefaultMetricsPprof   = false

	DefaultStartTimeout   = 10 * time.Second
	DefaultMaxRestarts    = 5
	DefaultRestartWindow  = 5 * time.Minute
	DefaultInitialBackoff = 200 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second

	// EnvVarPrefix + a variable's name is the environment variable that sets
	// it (TRELLIS_VAR_name); LoadOptions.Vars still wins over it.
	EnvVarPrefix = "TRELLIS_VAR_"
	// MaxFileSize bounds a configuration file.
	MaxFileSize = 4 << 20

	// BinaryPrefix + kind + "-" + name is a plugin's default file name.
	BinaryPrefix = "trellis-"
)

// Plugin kinds, as the protocol defines them in package sdk.
const (
	KindConsensus = sdk.KindConsensus
	KindProver    = sdk.KindProver
	KindDA        = sdk.KindDA
	KindFee       = sdk.KindFee
)

// Kinds returns the plugin kinds a configuration may name, in a fixed order.
func Kinds() []string { return slices.Clone(sdk.Kinds) }

// LoadOptions carry what the command line adds to the file.
type LoadOptions struct {
	// Vars sets variables (-var name=value). A value for a variable of a
	// primitive type, or with no type, is taken as a string and converted;
	// for collection and structural types it is parsed as an HCL expression,
	// e.g. -var 'peers=["a","b"]'. Naming an undeclared variable is an error.
	Vars map[string]string
	// SearchPath lists directories searched, after node.plugin_dir, for a
	// plugin that has no source attribute.
	SearchPath []string
	// Environ looks up environment variables for env() and TRELLIS_VAR_*;
	// nil means os.LookupEnv.
	Environ func(string) (string, bool)
}

// Config is a decoded configuration file.
type Config struct {
	// Filename is the path the configuration was loaded from, as given; Dir
	// is the absolute directory relative paths are resolved against.
	Filename string
	Dir      string
	// Files holds the parsed sources by name (the file itself and any
	// -var values), for rendering diagnostics with snippets.
	Files map[string]*hcl.File

	Variables map[string]*Variable
	Node      Node
	Network   Network
	Storage   Storage
	RPC       RPC
	Metrics   Metrics
	// Plugins are in source order.
	Plugins []*Plugin

	evalCtx *hcl.EvalContext
	ranges  map[string]hcl.Range
}

// Variable is a declared `variable "name" {}` and its final value.
type Variable struct {
	Name        string
	Type        cty.Type // cty.DynamicPseudoType when no type was given
	Default     cty.Value
	Description string
	// Value is what var.<name> evaluates to.
	Value cty.Value
	// Source says where Value came from: "default", "env" or "option".
	Source    string
	DeclRange hcl.Range
}

// Node is the `node {}` block.
type Node struct {
	Name      string
	ChainID   string
	DataDir   string // absolute
	PluginDir string // absolute
	// Genesis is the genesis file (absolute). GenesisSet says whether the
	// file set node.genesis: without it a missing default file means a
	// node with no ledger (plugins only), with it a missing file is an error.
	Genesis    string
	GenesisSet bool
	LogLevel   string // trace, debug, info, warn or error
	LogFormat  string // text or json
	// KeyDir holds node_key.json (ed25519: account and libp2p identity)
	// and validator_bls_key.json (absolute).
	KeyDir    string
	DeclRange hcl.Range
}

// Network is the `network {}` block.
type Network struct {
	// Enabled turns libp2p on; off, the node is alone.
	Enabled   bool
	Listen    []string // libp2p multiaddrs
	Bootstrap []string // multiaddrs with a /p2p/<peer id>
	// Announce, when set, are the only addresses the node tells peers
	// (behind NAT, a port forward or a relay); empty: its listen addresses.
	Announce []string
	MaxPeers int
	// DHT turns on Kademlia peer discovery.
	DHT bool
	// MaxStreams and MaxMemoryMB are the resource manager's limits for the
	// whole host: set explicitly, since autoscaling assumes one host per
	// machine.
	MaxStreams  int
	MaxMemoryMB int
	// QueueSize is the gossip outbound queue and subscription buffer.
	QueueSize int
	DeclRange hcl.Range
}

// Storage is the `storage {}` block.
type Storage struct {
	Path      string // absolute path of the bbolt file
	DeclRange hcl.Range
}

// RPC is the `rpc {}` block.
type RPC struct {
	Enabled bool
	// Admin enables the admin_* methods (peer blocking for testnets).
	Admin     bool
	Listen    string // host:port
	DeclRange hcl.Range
}

// Metrics is the `metrics {}` block.
type Metrics struct {
	Enabled bool
	Listen  string // host:port
	// Pprof serves Go's profiles under /debug/pprof/ on the metrics
	// listener. Off by default: a profile or trace is CPU time and detail
	// that only an operator who asked for it should give away.
	Pprof     bool
	DeclRange hcl.Range
}

// RestartPolicy is a plugin's `restart {}` block: after a crash the plugin is
// restarted with exponential backoff from InitialBackoff up to MaxBackoff;
// more than MaxRestarts crashes within Window stop the node (or switch to the
// fallback plugin, if one is named).
type RestartPolicy struct {
	MaxRestarts    int
	Window         time.Duration
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// Plugin is one `plugin "<kind>" "<name>" {}` block.
type Plugin struct {
	Kind string
	Name string
	// Source is the absolute path of the plugin binary.
	Source string
	// SearchedPaths lists the candidates tried when no source was given, in
	// order (Source is the first that exists, or the first candidate when
	// none does); nil when source was given.
	SearchedPaths []string
	// SHA256 is the pinned checksum of the binary, lower-case hex.
	SHA256       string
	Args         []string
	Env          map[string]string
	StartTimeout time.Duration
	// Fallback names another plugin of the same kind to switch to when this
	// one keeps failing; "" for none.
	Fallback string
	Restart  RestartPolicy
	// Body is the `config {}` block, undecoded (an empty body when absent);
	// decode it with Config.DecodePluginConfig.
	Body hcl.Body
	// ConfigRange is the `config` block's header, or DeclRange when absent.
	ConfigRange hcl.Range
	// DeclRange is the `plugin "kind" "name"` header.
	DeclRange hcl.Range
}

// ID is "kind.name", for logs and error messages.
func (p *Plugin) ID() string { return p.Kind + "." + p.Name }

// Primary returns the primary plugin of a kind (the one no other plugin of
// the kind names as its fallback), or nil when the kind has none. A
// configuration that loaded without errors has at most one per kind.
func (c *Config) Primary(kind string) *Plugin {
	referenced := make(map[string]bool)
	for _, p := range c.Plugins {
		if p.Kind == kind && p.Fallback != "" {
			referenced[p.Fallback] = true
		}
	}
	for _, p := range c.Plugins {
		if p.Kind == kind && !referenced[p.Name] {
			return p
		}
	}
	return nil
}

// Plugin returns the plugin block of a kind and name, or nil.
func (c *Config) Plugin(kind, name string) *Plugin {
	for _, p := range c.Plugins {
		if p.Kind == kind && p.Name == name {
			return p
		}
	}
	return nil
}

// EvalContext is the context expressions were evaluated in: var.* and the
// functions. Decoding a plugin's config block uses it too.
func (c *Config) EvalContext() *hcl.EvalContext { return c.evalCtx }

// Range returns the source range of a block or attribute that was set in the
// file, so that later errors (a checksum mismatch, an address in use) can
// point at it. Paths are dotted: "node", "node.data_dir", "network.listen",
// "plugin.fee.eip1559", "plugin.fee.eip1559.sha256",
// "plugin.fee.eip1559.restart.window", "variable.name".
func (c *Config) Range(path string) (hcl.Range, bool) {
	r, ok := c.ranges[path]
	return r, ok
}

// LoadFile reads and decodes the configuration file at path. It always
// returns a non-nil *Config whose Files let WriteDiagnostics render the
// diagnostics; when diags has errors its other fields must not be used.
func LoadFile(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return &Config{Filename: path, Files: map[string]*hcl.File{}}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read configuration file",
			Detail:   fmt.Sprintf("Cannot read %s: %v.", path, err),
		}}
	}
	return Parse(src, path, opts)
}

// Parse decodes configuration source; filename names it in diagnostics and
// anchors relative paths (its directory). A name ending in ".json" is parsed
// as HCL's JSON syntax. Like LoadFile, it always returns a non-nil *Config.
func Parse(src []byte, filename string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	c := &Config{
		Filename:  filename,
		Files:     map[string]*hcl.File{},
		Variables: map[string]*Variable{},
		ranges:    map[string]hcl.Range{},
	}
	if opts.Environ == nil {
		opts.Environ = os.LookupEnv
	}
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		dir = filepath.Dir(filename)
	}
	c.Dir = dir
	if len(src) > MaxFileSize {
		return c, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Configuration file too large",
			Detail:   fmt.Sprintf("%s is %d bytes; a configuration may be at most %d.", filename, len(src), MaxFileSize),
		}}
	}

	parser := hclparse.NewParser()
	var file *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(filename, ".json") {
		file, diags = parser.ParseJSON(src, filename)
	} else {
		file, diags = parser.ParseHCL(src, filename)
	}
	for name, f := range parser.Files() {
		c.Files[name] = f
	}
	if diags.HasErrors() || file == nil {
		return c, diags
	}

	content, moreDiags := file.Body.Content(rootSchema)
	diags = append(diags, moreDiags...)

	d := &decoder{cfg: c, opts: opts}
	d.decodeVariables(content.Blocks)
	c.evalCtx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": d.varObject()},
		Functions: functions(opts.Environ),
	}
	d.decodeSections(content.Blocks)
	d.decodePlugins(content.Blocks)
	d.checkFallbacks()
	diags = append(diags, d.diags...)
	return c, diags
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "node"},
		{Type: "network"},
		{Type: "storage"},
		{Type: "rpc"},
		{Type: "metrics"},
		{Type: "plugin", LabelNames: []string{"kind", "name"}},
	},
}

// DefaultPlugins names the plugin of each kind that development networks
// (`trellis init`, `trellis testnet up`) configure when it is built.
var DefaultPlugins = map[string]string{
	KindFee:       "eip1559",
	KindConsensus: "solo",
}
