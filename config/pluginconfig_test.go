package config

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/sdk/schema"
)

var daSchema = schema.New(
	schema.String("endpoint").Require(),
	schema.Number("samples").DefaultTo(cty.NumberIntVal(16)),
	schema.String("token").Secret(),
	schema.Single("retry",
		schema.Number("attempts").DefaultTo(cty.NumberIntVal(3)),
		schema.String("backoff").DefaultTo(cty.StringVal("1s")),
	),
	schema.List("mirror", schema.String("url").Require()),
	schema.Map("shard", schema.Number("weight").DefaultTo(cty.NumberIntVal(1))),
)

func TestDecodePluginConfig(t *testing.T) {
	tests := []struct {
		name   string
		config string // lines of the config block; "-" for no block
		want   string // JSON, or "ERR:" summary "@" file:line:col
	}{
		{
			name:   "defaults and nested blocks",
			config: "config {\n    endpoint = \"http://${var.host}:26658\"\n    token    = env(\"DA_TOKEN\")\n    mirror { url = \"m1\" }\n    shard \"a\" {}\n  }",
			want:   `{"endpoint":"http://da.local:26658","mirror":[{"url":"m1"}],"retry":{"attempts":3,"backoff":"1s"},"samples":16,"shard":{"a":{"weight":1}},"token":"t0k"}`,
		},
		{
			name:   "all set",
			config: "config {\n    endpoint = \"e\"\n    samples = 30\n    retry {\n      attempts = 9\n    }\n  }",
			want:   `{"endpoint":"e","mirror":[],"retry":{"attempts":9,"backoff":"1s"},"samples":30,"shard":{},"token":null}`,
		},
		{
			name:   "typo caught with its range",
			config: "config {\n    endpoint = \"e\"\n    sampels  = 30\n  }",
			want:   `ERR:plugin "da" "celestia": Unsupported argument@test.hcl:6:5`,
		},
		{
			name:   "typo in nested block",
			config: "config {\n    endpoint = \"e\"\n    retry {\n      atempts = 1\n    }\n  }",
			want:   `ERR:plugin "da" "celestia": Unsupported argument@test.hcl:7:7`,
		},
		{
			name:   "wrong type",
			config: "config {\n    endpoint = \"e\"\n    samples  = \"lots\"\n  }",
			want:   `ERR:plugin "da" "celestia": Incorrect attribute value type@test.hcl:6:16`,
		},
		{
			name:   "undeclared variable",
			config: "config {\n    endpoint = var.hots\n  }",
			want:   `ERR:plugin "da" "celestia": Reference to undeclared variable@test.hcl:5:16`,
		},
		{
			name:   "missing required in a present block",
			config: "config {\n    samples = 1\n  }",
			want:   `ERR:plugin "da" "celestia": Missing required argument@test.hcl:4:10`,
		},
		{
			name:   "missing required with no block",
			config: "-",
			want:   `ERR:plugin "da" "celestia": Missing required argument@test.hcl:2:1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block := ""
			if tt.config != "-" {
				block = "  " + tt.config + "\n"
			}
			src := "variable \"host\" { default = \"da.local\" }\nplugin \"da\" \"celestia\" {\n  sha256 = \"" + sum + "\"\n" + block + "}\n"
			c := mustParse(t, src, LoadOptions{Environ: environ(map[string]string{"DA_TOKEN": "t0k"})})
			out, diags := c.DecodePluginConfig(c.Primary("da"), daSchema)
			want, isErr := strings.CutPrefix(tt.want, "ERR:")
			if !isErr {
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				if string(out) != want {
					t.Errorf("got  %s\nwant %s", out, want)
				}
				var cfg struct {
					Endpoint string `json:"endpoint"`
					Samples  int    `json:"samples"`
					Token    string `json:"token"`
					Retry    struct {
						Attempts int    `json:"attempts"`
						Backoff  string `json:"backoff"`
					} `json:"retry"`
					Mirror []struct {
						URL string `json:"url"`
					} `json:"mirror"`
					Shard map[string]struct {
						Weight int `json:"weight"`
					} `json:"shard"`
				}
				if err := schema.DecodeJSON(out, &cfg); err != nil {
					t.Fatalf("plugin side cannot decode: %v", err)
				}
				if cfg.Retry.Attempts == 0 || cfg.Samples == 0 {
					t.Errorf("decoded %+v", cfg)
				}
				return
			}
			summary, pos, _ := strings.Cut(want, "@")
			if out != nil {
				t.Errorf("output %s alongside errors", out)
			}
			for _, d := range diags {
				if d.Summary == summary && d.Subject != nil && at(*d.Subject) == pos {
					var buf bytes.Buffer
					if err := c.WriteDiagnostics(&buf, diags); err != nil || !strings.Contains(buf.String(), "on "+pos) {
						t.Errorf("rendering (%v):\n%s", err, buf.String())
					}
					return
				}
			}
			t.Fatalf("want %q at %s, got %v", summary, pos, diags)
		})
	}
}

func TestDecodePluginConfigInvalidSchemas(t *testing.T) {
	c := mustParse(t, "plugin \"fee\" \"x\" {\n  sha256 = \""+sum+"\"\n  config {\n    a = 1\n  }\n}\n", LoadOptions{})
	p := c.Primary("fee")
	schemas := map[string]*schema.Schema{
		"nil":              nil,
		"duplicate":        schema.New(schema.Number("a"), schema.String("a")),
		"bad name":         schema.New(schema.Number("a b")),
		"default mismatch": schema.New(schema.Number("a").DefaultTo(cty.StringVal("x"))),
		"map of any":       schema.New(schema.Map("m", schema.Any("v"))),
		"no nesting":       {Blocks: []schema.Block{{TypeName: "b"}}},
		"no type":          {Attributes: []schema.Attribute{{Name: "a"}}},
	}
	for name, s := range schemas {
		t.Run(name, func(t *testing.T) {
			out, diags := c.DecodePluginConfig(p, s)
			if out != nil || len(diags) != 1 {
				t.Fatalf("out=%s diags=%v", out, diags)
			}
			d := diags[0]
			if d.Summary != `Invalid configuration schema from plugin "fee" "x"` || d.Subject == nil || at(*d.Subject) != "test.hcl:1:1" ||
				!strings.Contains(d.Detail, "fault of the plugin") {
				t.Errorf("diagnostic = %+v", d)
			}
		})
	}
	if _, diags := c.DecodePluginConfig(nil, schema.New()); !diags.HasErrors() {
		t.Error("nil plugin accepted")
	}
	// An empty schema rejects any setting.
	if _, diags := c.DecodePluginConfig(p, schema.New()); !diags.HasErrors() || at(*diags[0].Subject) != "test.hcl:4:5" {
		t.Errorf("empty schema: %v", diags)
	}
}

func TestWriteDiagnostics(t *testing.T) {
	src := "node {\n  log_levle = \"info\"\n}\n" + fee
	c, diags := parse(t, src, LoadOptions{})
	var buf bytes.Buffer
	if err := c.WriteDiagnostics(&buf, diags); err != nil {
		t.Fatal(err)
	}
	want := `Error: Unsupported argument

  on test.hcl:2:3, in node:
   2:   log_levle = "info"

An argument named "log_levle" is not expected here. Did you mean "log_level"?

`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	// Without a subject, or without the source, it still renders.
	buf.Reset()
	err := WriteDiagnostics(&buf, nil, hcl.Diagnostics{
		{Severity: hcl.DiagWarning, Summary: "No subject", Detail: "d"},
		{Severity: hcl.DiagError, Summary: "No source", Subject: &hcl.Range{Filename: "gone.hcl", Start: hcl.Pos{Line: 3, Column: 4}}},
	})
	if err != nil || !strings.Contains(buf.String(), "Warning: No subject") || !strings.Contains(buf.String(), "on gone.hcl:3:4:\n  (source code not available)") {
		t.Errorf("err=%v\n%s", err, buf.String())
	}
}

func TestDecodePluginConfigHidesSensitiveValues(t *testing.T) {
	src := "variable \"tok\" {\n  type    = number\n  default = 42\n}\nvariable \"n\" {\n  default = \"seven\"\n}\n" +
		"plugin \"da\" \"x\" {\n  sha256 = \"" + sum + "\"\n  config {\n    token = [var.tok]\n    samples = var.n\n  }\n}\n"
	c := mustParse(t, src, LoadOptions{})
	s := schema.New(schema.String("token").Secret(), schema.Number("samples"))
	_, diags := c.DecodePluginConfig(c.Primary("da"), s)
	var buf bytes.Buffer
	if err := c.WriteDiagnostics(&buf, diags); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if len(diags) != 2 || strings.Contains(out, "var.tok is 42") || strings.Contains(out, "42") {
		t.Errorf("sensitive value shown:\n%s", out)
	}
	if !strings.Contains(out, `var.n as "seven"`) {
		t.Errorf("non-sensitive context missing:\n%s", out)
	}
}

func TestWriteDiagnosticsCapsOutput(t *testing.T) {
	// Thousands of syntax errors must render quickly and briefly.
	src := bytes.Repeat([]byte("node { name = \x00\xff }\n"), 2000)
	c, diags := Parse(src, "junk.hcl", LoadOptions{Environ: environ(nil)})
	if len(diags) <= MaxRenderedDiagnostics {
		t.Fatalf("only %d diagnostics", len(diags))
	}
	var buf bytes.Buffer
	if err := c.WriteDiagnostics(&buf, diags); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "Error: "); n != MaxRenderedDiagnostics {
		t.Errorf("%d diagnostics rendered", n)
	}
	if !strings.Contains(buf.String(), fmt.Sprintf("... and %d more diagnostics", len(diags)-MaxRenderedDiagnostics)) {
		t.Errorf("missing closing line:\n%s", buf.String()[buf.Len()-200:])
	}
	if _, diags := Parse(make([]byte, MaxFileSize+1), "big.hcl", LoadOptions{}); !diags.HasErrors() || diags[0].Summary != "Configuration file too large" {
		t.Errorf("oversized file: %v", diags)
	}
}
