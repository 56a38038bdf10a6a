package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

var sectionSchemas = map[string]*hcl.BodySchema{
	"node": {Attributes: []hcl.AttributeSchema{
		{Name: "name"}, {Name: "data_dir"}, {Name: "chain_id"}, {Name: "plugin_dir"}, {Name: "genesis"}, {Name: "key_dir"}, {Name: "log_level"}, {Name: "log_format"},
	}},
	"network": {Attributes: []hcl.AttributeSchema{
		{Name: "enabled"}, {Name: "listen"}, {Name: "bootstrap"}, {Name: "announce"}, {Name: "max_peers"}, {Name: "dht"}, {Name: "max_streams"}, {Name: "max_memory_mb"}, {Name: "queue_size"},
	}},
	"storage": {Attributes: []hcl.AttributeSchema{
		{Name: "path"},
	}},
	"rpc": {Attributes: []hcl.AttributeSchema{
		{Name: "enabled"}, {Name: "admin"}, {Name: "listen"},
	}},
	"metrics": {Attributes: []hcl.AttributeSchema{
		{Name: "enabled"}, {Name: "listen"}, {Name: "pprof"},
	}},
}

// Log levels and formats accepted by node.log_level / node.log_format.
var (
	LogLevels  = []string{"trace", "debug", "info", "warn", "error"}
	LogFormats = []string{"text", "json"}
)

// MaxPeersLimit is the largest accepted network.max_peers.
const MaxPeersLimit = 10000

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkName(what string) func(string) error {
	return func(s string) error {
		if !nameRe.MatchString(s) {
			return fmt.Errorf("%q is not a valid %s: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", s, what)
		}
		return nil
	}
}

func checkOneOf(what string, allowed []string) func(string) error {
	return func(s string) error {
		if slices.Contains(allowed, s) {
			return nil
		}
		msg := fmt.Sprintf("%q is not a valid %s; use one of %s", s, what, strings.Join(allowed, ", "))
		if sug := suggest(s, allowed); sug != "" {
			msg += fmt.Sprintf(". Did you mean %q?", sug)
		}
		return errors.New(msg)
	}
}

func checkPath(s string) error {
	if s == "" {
		return errors.New("path must not be empty")
	}
	if strings.ContainsRune(s, 0) {
		return errors.New("path contains a NUL byte")
	}
	return nil
}

// resolve makes p absolute against base.
func resolve(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// sectionBlocks returns the single block of each host section type,
// reporting duplicates.
func (d *decoder) sectionBlocks(blocks hcl.Blocks) map[string]*hcl.Block {
	found := map[string]*hcl.Block{}
	for _, blk := range blocks {
		if _, isSection := sectionSchemas[blk.Type]; !isSection {
			continue
		}
		if prev, dup := found[blk.Type]; dup {
			d.errorf(blk.DefRange.Ptr(), fmt.Sprintf("Duplicate %s block", blk.Type),
				"Only one %s block is allowed; the first was at %s.", blk.Type, at(prev.DefRange))
			continue
		}
		found[blk.Type] = blk
	}
	return found
}

// sectionBody decodes a section block's content; an absent block yields an
// empty body so that every default applies.
func (d *decoder) sectionBody(blocks map[string]*hcl.Block, typ string, declRange *hcl.Range) *body {
	blk, ok := blocks[typ]
	if !ok {
		return d.body(typ, nil)
	}
	*declRange = blk.DefRange
	d.cfg.ranges[typ] = blk.DefRange
	content, diags := blk.Body.Content(sectionSchemas[typ])
	d.add(diags...)
	return d.body(typ, content.Attributes)
}

func (d *decoder) decodeSections(blocks hcl.Blocks) {
	c := d.cfg
	sections := d.sectionBlocks(blocks)

	n := &c.Node
	n.Name, n.ChainID, n.LogLevel, n.LogFormat = DefaultNodeName, DefaultChainID, DefaultLogLevel, DefaultLogFormat
	dataDir, pluginDir := DefaultDataDir, DefaultPluginDir
	b := d.sectionBody(sections, "node", &n.DeclRange)
	b.str("name", &n.Name, checkName("node name"))
	b.str("chain_id", &n.ChainID, checkName("chain id"))
	b.str("data_dir", &dataDir, checkPath)
	b.str("plugin_dir", &pluginDir, checkPath)
	genesisPath := DefaultGenesis
	b.str("genesis", &genesisPath, checkPath)
	_, n.GenesisSet = c.ranges["node.genesis"]
	b.str("log_level", &n.LogLevel, checkOneOf("log level", LogLevels))
	b.str("log_format", &n.LogFormat, checkOneOf("log format", LogFormats))
	keyDir := DefaultKeyDir
	b.str("key_dir", &keyDir, checkPath)
	n.KeyDir = resolve(c.Dir, keyDir)
	n.DataDir = resolve(c.Dir, dataDir)
	n.PluginDir = resolve(c.Dir, pluginDir)
	n.Genesis = resolve(c.Dir, genesisPath)

	net := &c.Network
	net.Enabled, net.Listen, net.Bootstrap, net.MaxPeers = DefaultNetworkEnabled, []string{DefaultListen, DefaultListenQUIC}, []string{}, DefaultMaxPeers
	net.DHT, net.MaxStreams, net.MaxMemoryMB, net.QueueSize = DefaultDHT, DefaultMaxStreams, DefaultMaxMemoryMB, DefaultQueueSize
	b = d.sectionBody(sections, "network", &net.DeclRange)
	b.boolean("enabled", &net.Enabled)
	b.boolean("dht", &net.DHT)
	b.integer("max_streams", &net.MaxStreams, 16, 1<<20)
	b.integer("max_memory_mb", &net.MaxMemoryMB, 16, 1<<20)
	b.integer("queue_size", &net.QueueSize, 32, 1<<16)
	b.strList("listen", &net.Listen, func(s string) error { return checkMultiaddr(s, false) })
	b.strList("bootstrap", &net.Bootstrap, func(s string) error { return checkMultiaddr(s, true) })
	b.strList("announce", &net.Announce, func(s string) error { return checkMultiaddr(s, false) })
	b.integer("max_peers", &net.MaxPeers, 1, MaxPeersLimit)

	storagePath := DefaultStoragePath
	b = d.sectionBody(sections, "storage", &c.Storage.DeclRange)
	b.str("path", &storagePath, checkPath)
	c.Storage.Path = resolve(n.DataDir, storagePath)

	c.RPC.Enabled, c.RPC.Listen = DefaultRPCEnabled, DefaultRPCListen
	b = d.sectionBody(sections, "rpc", &c.RPC.DeclRange)
	b.boolean("enabled", &c.RPC.Enabled)
	b.boolean("admin", &c.RPC.Admin)
	b.str("listen", &c.RPC.Listen, checkHostPort)

	c.Metrics.Enabled, c.Metrics.Listen, c.Metrics.Pprof = DefaultMetricsEnabled, DefaultMetricsListen, DefaultMetricsPprof
	b = d.sectionBody(sections, "metrics", &c.Metrics.DeclRange)
	b.boolean("enabled", &c.Metrics.Enabled)
	b.str("listen", &c.Metrics.Listen, checkHostPort)
	b.boolean("pprof", &c.Metrics.Pprof)
}
