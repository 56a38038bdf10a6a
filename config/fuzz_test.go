package config

import (
	"io"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/sdk/schema"
)

var fuzzSchema = schema.New(
	schema.String("s"),
	schema.Number("n").DefaultTo(cty.NumberIntVal(1)),
	schema.Single("b", schema.Bool("x").DefaultTo(cty.True)),
	schema.List("l", schema.String("u")),
	schema.Map("m", schema.Number("w")),
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		fee,
		"",
		"node {\n  name = \"a\"\n}\n",
		`variable "x" { default = "y" }` + "\nnode { name = var.x }\n" + fee,
		`variable "l" { type = list(string) }`,
		"network {\n  listen = [\"/ip4/0.0.0.0/tcp/1\"]\n  bootstrap = [\"/dns4/a.b/tcp/1/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N\"]\n}\n",
		p("prover", "gpu", `fallback = "cpu"`, `restart {`, `  window = "1m"`, `}`, `config {`, `  s = format("%s-%d", "a", 1)`, `  b {}`, `  m "k" { w = 2 }`, `}`) + p("prover", "cpu"),
		p("fee", "x", `env = { A = env("B", "c") }`, `args = concat(["a"], ["b"])`),
		"plugin \"fee\" \"x\" {\n  config {\n    n = \"${1 + 2}\"\n  }\n}",
		"rpc { listen = \"[::1]:1\" }\nmetrics { enabled = false }\nstorage { path = \"/x\" }",
		"node {",
		"node { name = env() }",
		"x = 1\n",
		"node { name = [for i in [1,2,3]: i] }",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		opts := LoadOptions{Environ: environ(map[string]string{"B": "b", "TRELLIS_VAR_x": "z"}), Vars: map[string]string{}}
		c, diags := Parse(src, "fuzz.hcl", opts)
		if c == nil {
			t.Fatal("nil *Config")
		}
		if err := c.WriteDiagnostics(io.Discard, diags); err != nil {
			t.Fatalf("WriteDiagnostics: %v", err)
		}
		if diags.HasErrors() {
			return
		}
		for _, p := range c.Plugins {
			if c.Primary(p.Kind) == nil {
				t.Fatalf("valid config without a primary %s plugin", p.Kind)
			}
			_, pdiags := c.DecodePluginConfig(p, fuzzSchema)
			if err := c.WriteDiagnostics(io.Discard, pdiags); err != nil {
				t.Fatalf("WriteDiagnostics: %v", err)
			}
		}
	})
}
