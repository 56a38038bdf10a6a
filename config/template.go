package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// TemplateNode holds the node settings Template writes; empty fields take
// their defaults.
type TemplateNode struct {
	Name, ChainID, PluginDir string
}

// TemplatePlugin is a plugin block for Template. Source and Fallback may be
// empty. Config, when set, writes the settings of the plugin's config block.
type TemplatePlugin struct {
	Kind, Name, Source, SHA256, Fallback string
	Config                               func(*hclwrite.Body)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Template returns a configuration file, for `trellis init`, with every host
// block written out (node settings from node, the rest at their defaults),
// followed by the given plugin blocks. With a zero node and no Config
// writers it parses to the same settings as a file holding only the plugin
// blocks.
func Template(node TemplateNode, plugins ...TemplatePlugin) []byte {
	f := hclwrite.NewEmptyFile()
	root := f.Body()
	strs := func(ss ...string) cty.Value {
		if len(ss) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		vals := make([]cty.Value, len(ss))
		for i, s := range ss {
			vals[i] = cty.StringVal(s)
		}
		return cty.ListVal(vals)
	}

	b := root.AppendNewBlock("node", nil).Body()
	b.SetAttributeValue("name", cty.StringVal(orDefault(node.Name, DefaultNodeName)))
	b.SetAttributeValue("chain_id", cty.StringVal(orDefault(node.ChainID, DefaultChainID)))
	b.SetAttributeValue("data_dir", cty.StringVal(DefaultDataDir))
	b.SetAttributeValue("plugin_dir", cty.StringVal(orDefault(node.PluginDir, DefaultPluginDir)))
	b.SetAttributeValue("log_level", cty.StringVal(DefaultLogLevel))
	b.SetAttributeValue("log_format", cty.StringVal(DefaultLogFormat))
	root.AppendNewline()

	b = root.AppendNewBlock("network", nil).Body()
	b.SetAttributeValue("listen", strs(DefaultListen, DefaultListenQUIC))
	b.SetAttributeValue("bootstrap", strs())
	b.SetAttributeValue("max_peers", cty.NumberIntVal(DefaultMaxPeers))
	b.SetAttributeValue("dht", cty.BoolVal(DefaultDHT))
	root.AppendNewline()

	b = root.AppendNewBlock("storage", nil).Body()
	b.SetAttributeValue("path", cty.StringVal(DefaultStoragePath))
	root.AppendNewline()

	b = root.AppendNewBlock("rpc", nil).Body()
	b.SetAttributeValue("enabled", cty.BoolVal(DefaultRPCEnabled))
	b.SetAttributeValue("listen", cty.StringVal(DefaultRPCListen))
	root.AppendNewline()

	b = root.AppendNewBlock("metrics", nil).Body()
	b.SetAttributeValue("enabled", cty.BoolVal(DefaultMetricsEnabled))
	b.SetAttributeValue("listen", cty.StringVal(DefaultMetricsListen))

	for _, p := range plugins {
		root.AppendNewline()
		b = root.AppendNewBlock("plugin", []string{p.Kind, p.Name}).Body()
		if p.Source != "" {
			b.SetAttributeValue("source", cty.StringVal(p.Source))
		}
		b.SetAttributeValue("sha256", cty.StringVal(strings.ToLower(p.SHA256)))
		if p.Fallback != "" {
			b.SetAttributeValue("fallback", cty.StringVal(p.Fallback))
		}
		b.AppendNewline()
		r := b.AppendNewBlock("restart", nil).Body()
		r.SetAttributeValue("max_restarts", cty.NumberIntVal(DefaultMaxRestarts))
		r.SetAttributeValue("window", cty.StringVal(DefaultRestartWindow.String()))
		r.SetAttributeValue("initial_backoff", cty.StringVal(DefaultInitialBackoff.String()))
		r.SetAttributeValue("max_backoff", cty.StringVal(DefaultMaxBackoff.String()))
		b.AppendNewline()
		c := b.AppendNewBlock("config", nil)
		if p.Config != nil {
			p.Config(c.Body())
		}
	}
	return f.Bytes()
}
