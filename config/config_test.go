package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

const sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func environ(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func parse(t *testing.T, src string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = environ(nil)
	}
	c, diags := Parse([]byte(src), "test.hcl", opts)
	if c == nil {
		t.Fatal("Parse returned a nil *Config")
	}
	return c, diags
}

func mustParse(t *testing.T, src string, opts LoadOptions) *Config {
	t.Helper()
	c, diags := parse(t, src, opts)
	if diags.HasErrors() {
		var buf bytes.Buffer
		_ = c.WriteDiagnostics(&buf, diags)
		t.Fatalf("unexpected errors:\n%s", buf.String())
	}
	return c
}

// fee is a minimal valid plugin block.
var fee = `plugin "fee" "eip1559" { sha256 = "` + sum + `" }`

func TestOnlyPluginsUsesDefaults(t *testing.T) {
	c := mustParse(t, fee, LoadOptions{})
	dir, _ := filepath.Abs(".")
	want := Node{Name: DefaultNodeName, ChainID: DefaultChainID, DataDir: filepath.Join(dir, "data"), PluginDir: filepath.Join(dir, "bin"), Genesis: filepath.Join(dir, "genesis.json"), LogLevel: "info", LogFormat: "text", KeyDir: filepath.Join(dir, "keys")}
	if c.Node != want {
		t.Errorf("Node = %+v\nwant %+v", c.Node, want)
	}
	if !slices.Equal(c.Network.Listen, []string{DefaultListen, DefaultListenQUIC}) || len(c.Network.Bootstrap) != 0 || c.Network.MaxPeers != DefaultMaxPeers {
		t.Errorf("Network = %+v", c.Network)
	}
	if c.Storage.Path != filepath.Join(dir, "data", "trellis.db") {
		t.Errorf("Storage.Path = %s", c.Storage.Path)
	}
	if c.RPC.Enabled != DefaultRPCEnabled || c.RPC.Listen != DefaultRPCListen || c.Metrics.Enabled != DefaultMetricsEnabled || c.Metrics.Listen != DefaultMetricsListen {
		t.Errorf("RPC = %+v, Metrics = %+v", c.RPC, c.Metrics)
	}
	p := c.Primary("fee")
	if p == nil || p != c.Plugin("fee", "eip1559") {
		t.Fatalf("Primary(fee) = %v", p)
	}
	wantP := RestartPolicy{MaxRestarts: 5, Window: 5 * time.Minute, InitialBackoff: 200 * time.Millisecond, MaxBackoff: 30 * time.Second}
	if p.Restart != wantP || p.StartTimeout != 10*time.Second || p.Fallback != "" || len(p.Args) != 0 || len(p.Env) != 0 {
		t.Errorf("plugin defaults = %+v", p)
	}
	if p.Source != filepath.Join(dir, "bin", "trellis-fee-eip1559") || len(p.SearchedPaths) != 1 {
		t.Errorf("Source = %s, searched %v", p.Source, p.SearchedPaths)
	}
	if attrs, _ := p.Body.JustAttributes(); len(attrs) != 0 {
		t.Errorf("absent config block gave attributes %v", attrs)
	}
	if c.Primary("prover") != nil || c.Plugin("fee", "nope") != nil {
		t.Error("found a plugin that is not declared")
	}
}

func TestFullConfig(t *testing.T) {
	src := `
variable "region" {
  type        = string
  default     = "eu"
  description = "where the node runs"
}
variable "peers" {
  type    = list(string)
  default = []
}
variable "max" {
  type    = number
  default = 10
}

node {
  name       = format("val-%s-%d", var.region, 1)
  data_dir   = "/var/lib/trellis"
  chain_id   = "trellis-${lower(upper(var.region))}"
  plugin_dir = "plugins"
  log_level  = "debug"
  log_format = "json"
}
network {
  listen    = ["/ip4/0.0.0.0/tcp/26656", "/ip6/::/udp/26656/quic-v1"]
  bootstrap = concat(["/dns4/seed.example.org/tcp/26656/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"], var.peers)
  max_peers = var.max * 2
}
storage { path = "chain.db" }
rpc {
  enabled = false
  listen  = ":8545"
}
metrics { listen = "[::1]:9464" }

plugin "prover" "gpu" {
  source        = "bin/gpu"
  sha256        = upper("` + sum + `")
  args          = ["--device", "0"]
  env           = { CUDA_VISIBLE_DEVICES = "0", TOKEN = env("TOKEN") }
  start_timeout = "30s"
  fallback      = "cpu"
  restart {
    max_restarts    = 2
    window          = "1m"
    initial_backoff = "1s"
    max_backoff     = "10s"
  }
  config {
    batch = 64
  }
}
plugin "prover" "cpu" { sha256 = "` + sum + `" }
plugin "consensus" "bft" {
  source = "/opt/trellis/bft"
  sha256 = "` + sum + `"
}
`
	c := mustParse(t, src, LoadOptions{
		Vars:    map[string]string{"max": "25", "peers": `["/ip4/10.0.0.1/tcp/1/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"]`},
		Environ: environ(map[string]string{"TOKEN": "s3cret", "TRELLIS_VAR_region": "us"}),
	})
	dir, _ := filepath.Abs(".")
	if c.Node.Name != "val-us-1" || c.Node.ChainID != "trellis-us" || c.Node.DataDir != "/var/lib/trellis" ||
		c.Node.PluginDir != filepath.Join(dir, "plugins") || c.Node.LogLevel != "debug" || c.Node.LogFormat != "json" {
		t.Errorf("Node = %+v", c.Node)
	}
	if len(c.Network.Bootstrap) != 2 || c.Network.MaxPeers != 50 || len(c.Network.Listen) != 2 {
		t.Errorf("Network = %+v", c.Network)
	}
	if c.Storage.Path != "/var/lib/trellis/chain.db" {
		t.Errorf("Storage.Path = %s", c.Storage.Path)
	}
	if c.RPC.Enabled || c.RPC.Listen != ":8545" || !c.Metrics.Enabled || c.Metrics.Listen != "[::1]:9464" {
		t.Errorf("RPC = %+v, Metrics = %+v", c.RPC, c.Metrics)
	}
	gpu := c.Primary("prover")
	if gpu == nil || gpu.Name != "gpu" {
		t.Fatalf("Primary(prover) = %+v", gpu)
	}
	if gpu.Source != filepath.Join(dir, "bin", "gpu") || gpu.SearchedPaths != nil || gpu.SHA256 != sum ||
		!slices.Equal(gpu.Args, []string{"--device", "0"}) || gpu.Env["TOKEN"] != "s3cret" || gpu.Env["CUDA_VISIBLE_DEVICES"] != "0" ||
		gpu.StartTimeout != 30*time.Second || gpu.Fallback != "cpu" ||
		gpu.Restart != (RestartPolicy{MaxRestarts: 2, Window: time.Minute, InitialBackoff: time.Second, MaxBackoff: 10 * time.Second}) {
		t.Errorf("gpu = %+v", gpu)
	}
	if c.Primary("consensus").Source != "/opt/trellis/bft" {
		t.Errorf("bft source = %s", c.Primary("consensus").Source)
	}
	if v := c.Variables["region"]; v.Value != cty.StringVal("us") || v.Source != "env" || v.Description != "where the node runs" {
		t.Errorf("var.region = %+v", v)
	}
	if v := c.Variables["max"]; !v.Value.RawEquals(cty.NumberIntVal(25)) || v.Source != "option" {
		t.Errorf("var.max = %#v", v.Value)
	}
	r, ok := c.Range("plugin.prover.gpu.restart.window")
	if !ok || r.Start.Line != 45 || r.Start.Column != 23 {
		t.Errorf("Range(window) = %v, %v", r, ok)
	}
	if r, ok := c.Range("node"); !ok || r.Start.Line != 16 {
		t.Errorf("Range(node) = %v, %v", r, ok)
	}
	if _, ok := c.Range("metrics.enabled"); ok {
		t.Error("Range of an attribute that was not set")
	}
}

func TestSearchPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "trellis-fee-eip1559")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, fee, LoadOptions{SearchPath: []string{"", dir}})
	p := c.Primary("fee")
	if p.Source != bin || len(p.SearchedPaths) != 2 {
		t.Errorf("Source = %s, searched %v", p.Source, p.SearchedPaths)
	}
	// plugin_dir wins over the search path.
	pdir := t.TempDir()
	pbin := filepath.Join(pdir, "trellis-fee-eip1559")
	if err := os.WriteFile(pbin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	c = mustParse(t, fmt.Sprintf("node { plugin_dir = %q }\n%s", pdir, fee), LoadOptions{SearchPath: []string{dir}})
	if p := c.Primary("fee"); p.Source != pbin {
		t.Errorf("Source = %s, want %s", p.Source, pbin)
	}
}

func TestLoadFileResolvesAgainstItsDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.hcl")
	src := "node { data_dir = \"d\" }\nplugin \"fee\" \"x\" {\n  source = \"p/fee\"\n  sha256 = \"" + sum + "\"\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, diags := LoadFile(path, LoadOptions{Environ: environ(nil)})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c.Node.DataDir != filepath.Join(dir, "d") || c.Storage.Path != filepath.Join(dir, "d", "trellis.db") || c.Primary("fee").Source != filepath.Join(dir, "p", "fee") {
		t.Errorf("paths: %s %s %s", c.Node.DataDir, c.Storage.Path, c.Primary("fee").Source)
	}
	c, diags = LoadFile(filepath.Join(dir, "missing.hcl"), LoadOptions{})
	if c == nil || !diags.HasErrors() || diags[0].Summary != "Failed to read configuration file" {
		t.Errorf("missing file: %v", diags)
	}
}

func TestJSONSyntax(t *testing.T) {
	src := `{"node": {"name": "j"}, "plugin": {"fee": {"eip1559": {"sha256": "` + sum + `", "config": {"x": 1}}}}}`
	c, diags := Parse([]byte(src), "node.hcl.json", LoadOptions{Environ: environ(nil)})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c.Node.Name != "j" || c.Primary("fee") == nil {
		t.Errorf("decoded %+v", c)
	}
}

func TestFallbackChain(t *testing.T) {
	src := `
plugin "prover" "a" {
  sha256   = "` + sum + `"
  fallback = "b"
}
plugin "prover" "b" {
  sha256   = "` + sum + `"
  fallback = "c"
}
plugin "prover" "c" { sha256 = "` + sum + `" }
`
	c := mustParse(t, src, LoadOptions{})
	if p := c.Primary("prover"); p == nil || p.Name != "a" {
		t.Errorf("Primary = %v", p)
	}
}

func TestVariables(t *testing.T) {
	decl := `
variable "name" { default = "dflt" }
variable "n" {
  type    = number
  default = 1
}
variable "list" {
  type    = list(string)
  default = ["x"]
}
variable "req" {}
variable "raw" { default = "" }
node { name = var.name }
` + fee
	tests := []struct {
		name string
		vars map[string]string
		env  map[string]string
		want map[string]cty.Value
	}{
		{"defaults", map[string]string{"req": "r"}, nil, map[string]cty.Value{
			"name": cty.StringVal("dflt"), "n": cty.NumberIntVal(1), "list": cty.ListVal([]cty.Value{cty.StringVal("x")}), "req": cty.StringVal("r"),
		}},
		{"env", nil, map[string]string{"TRELLIS_VAR_req": "e", "TRELLIS_VAR_n": "7", "TRELLIS_VAR_list": `["a", "b"]`}, map[string]cty.Value{
			"req": cty.StringVal("e"), "n": cty.NumberIntVal(7), "list": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		}},
		{"option beats env", map[string]string{"req": "opt", "raw": `["a"]`}, map[string]string{"TRELLIS_VAR_req": "e"}, map[string]cty.Value{
			"req": cty.StringVal("opt"), "raw": cty.StringVal(`["a"]`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, decl, LoadOptions{Vars: tt.vars, Environ: environ(tt.env)})
			for name, want := range tt.want {
				if got := c.Variables[name].Value; !got.RawEquals(want) {
					t.Errorf("var.%s = %#v, want %#v", name, got, want)
				}
			}
			if c.Node.Name != c.Variables["name"].Value.AsString() {
				t.Errorf("node.name = %q", c.Node.Name)
			}
		})
	}
}

func TestEnvFunction(t *testing.T) {
	src := `node {
  name     = env("NODE_NAME")
  chain_id = env("CHAIN", "fallback-chain")
}
` + fee
	c := mustParse(t, src, LoadOptions{Environ: environ(map[string]string{"NODE_NAME": "from-env"})})
	if c.Node.Name != "from-env" || c.Node.ChainID != "fallback-chain" {
		t.Errorf("node = %+v", c.Node)
	}
}

func TestFunctionNames(t *testing.T) {
	names := FunctionNames()
	for _, want := range []string{"env", "upper", "lower", "format", "concat", "tostring", "tonumber"} {
		if !slices.Contains(names, want) {
			t.Errorf("function %s missing from %v", want, names)
		}
	}
}

func TestTemplate(t *testing.T) {
	src := Template(TemplateNode{}, TemplatePlugin{Kind: "prover", Name: "gpu", SHA256: strings.ToUpper(sum), Fallback: "cpu"},
		TemplatePlugin{Kind: "prover", Name: "cpu", Source: "bin/cpu", SHA256: sum})
	fromTemplate := mustParse(t, string(src), LoadOptions{})
	minimal := mustParse(t, p("prover", "gpu", `fallback = "cpu"`)+p("prover", "cpu", `source = "bin/cpu"`), LoadOptions{})
	if fromTemplate.Node != (Node{Name: DefaultNodeName, ChainID: minimal.Node.ChainID, DataDir: minimal.Node.DataDir, PluginDir: minimal.Node.PluginDir,
		Genesis: minimal.Node.Genesis, LogLevel: minimal.Node.LogLevel, LogFormat: minimal.Node.LogFormat, KeyDir: minimal.Node.KeyDir, DeclRange: fromTemplate.Node.DeclRange}) {
		t.Errorf("node %+v differs from defaults %+v", fromTemplate.Node, minimal.Node)
	}
	if fromTemplate.Storage.Path != minimal.Storage.Path || fromTemplate.RPC.Listen != minimal.RPC.Listen ||
		fromTemplate.Network.MaxPeers != minimal.Network.MaxPeers || !slices.Equal(fromTemplate.Network.Listen, minimal.Network.Listen) {
		t.Errorf("template settings differ from defaults")
	}
	for _, name := range []string{"gpu", "cpu"} {
		a, b := fromTemplate.Plugin("prover", name), minimal.Plugin("prover", name)
		if a.Restart != b.Restart || a.Source != b.Source || a.SHA256 != b.SHA256 || a.Fallback != b.Fallback {
			t.Errorf("plugin %s: %+v vs %+v", name, a, b)
		}
	}
	if !strings.Contains(string(src), "plugin \"prover\" \"gpu\" {\n  sha256   = \""+sum+"\"") {
		t.Errorf("unexpected layout:\n%s", src)
	}
}
