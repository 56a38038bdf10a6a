package config

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/sdk/schema"
)

var benchSrc = []byte(`
variable "region" { default = "eu" }
node {
  name     = "val-${var.region}"
  chain_id = "trellis-dev"
}
network {
  listen    = ["/ip4/0.0.0.0/tcp/26656"]
  bootstrap = ["/dns4/seed.example.org/tcp/26656/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"]
}
` + p("consensus", "bft") + p("prover", "gpu", `fallback = "cpu"`, `config {`, `  batch = 64`, `  retry { attempts = 5 }`, `}`) +
	p("prover", "cpu") + p("da", "kzg") + p("fee", "eip1559"))

// BenchmarkParse loads a typical five-plugin node configuration.
func BenchmarkParse(b *testing.B) {
	opts := LoadOptions{Environ: environ(nil)}
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Parse(benchSrc, "bench.hcl", opts); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// BenchmarkDecodePluginConfig decodes one plugin's config block to JSON.
func BenchmarkDecodePluginConfig(b *testing.B) {
	c, diags := Parse(benchSrc, "bench.hcl", LoadOptions{Environ: environ(nil)})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	s := schema.New(
		schema.Number("batch").DefaultTo(cty.NumberIntVal(16)),
		schema.Single("retry", schema.Number("attempts").DefaultTo(cty.NumberIntVal(3))),
	)
	gpu := c.Plugin("prover", "gpu")
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := c.DecodePluginConfig(gpu, s); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
