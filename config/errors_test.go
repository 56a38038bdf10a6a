package config

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// p writes a plugin block with a valid checksum and extra body lines.
func p(kind, name string, lines ...string) string {
	return fmt.Sprintf("plugin %q %q {\n  sha256 = %q\n%s}\n", kind, name, sum, indent(lines))
}

func indent(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		opts    LoadOptions
		summary string
		at      string // file:line:column of the subject's start
		detail  string // substring of the detail
	}{
		{
			name:    "malformed HCL",
			src:     "node {\n  name = \"x\"\n",
			summary: "Unclosed configuration block", at: "test.hcl:1:6",
		},
		{
			name:    "malformed expression",
			src:     "node {\n  name = \n}\n",
			summary: "Invalid expression", at: "test.hcl:2:10",
		},
		{
			name:    "unknown top-level block",
			src:     "netwrok {}\n" + fee,
			summary: "Unsupported block type", at: "test.hcl:1:1", detail: `Did you mean "network"?`,
		},
		{
			name:    "unknown attribute with suggestion",
			src:     "node {\n  chainid = \"x\"\n}\n" + fee,
			summary: "Unsupported argument", at: "test.hcl:2:3", detail: `Did you mean "chain_id"?`,
		},
		{
			name:    "unknown attribute in plugin",
			src:     p("fee", "x", `sorce = "a"`),
			summary: "Unsupported argument", at: "test.hcl:3:3", detail: `Did you mean "source"?`,
		},
		{
			name:    "unknown block in plugin",
			src:     p("fee", "x", `restrat {}`),
			summary: "Unsupported block type", at: "test.hcl:3:3", detail: `Did you mean "restart"?`,
		},
		{
			name:    "unknown attribute in restart",
			src:     p("fee", "x", `restart {`, `  max_restart = 1`, `}`),
			summary: "Unsupported argument", at: "test.hcl:4:5", detail: `Did you mean "max_restarts"?`,
		},
		{
			name:    "wrong type",
			src:     "network {\n  max_peers = \"many\"\n}\n" + fee,
			summary: "Incorrect attribute value type", at: "test.hcl:2:15", detail: "a number is required",
		},
		{
			name:    "wrong type list",
			src:     "network {\n  listen = \"/ip4/1.2.3.4/tcp/1\"\n}\n" + fee,
			summary: "Incorrect attribute value type", at: "test.hcl:2:12", detail: "list of string required",
		},
		{
			name:    "not an integer",
			src:     "network {\n  max_peers = 1.5\n}\n" + fee,
			summary: `Invalid value for "max_peers"`, at: "test.hcl:2:15", detail: "whole number",
		},
		{
			name:    "integer out of range",
			src:     "network {\n  max_peers = 0\n}\n" + fee,
			summary: `Invalid value for "max_peers"`, at: "test.hcl:2:15", detail: "between 1 and 10000",
		},
		{
			name:    "duplicate section",
			src:     "node {}\nnode {}\n" + fee,
			summary: "Duplicate node block", at: "test.hcl:2:1", detail: "the first was at test.hcl:1:1",
		},
		{
			name:    "bad log level",
			src:     "node {\n  log_level = \"warning\"\n}\n" + fee,
			summary: `Invalid value for "log_level"`, at: "test.hcl:2:15", detail: `Did you mean "warn"?`,
		},
		{
			name:    "bad chain id",
			src:     "node {\n  chain_id = \"a b\"\n}\n" + fee,
			summary: `Invalid value for "chain_id"`, at: "test.hcl:2:14",
		},
		{
			name:    "bad listen multiaddr element",
			src:     "network {\n  listen = [\n    \"/ip4/127.0.0.1/tcp/1\",\n    \"/ip4/127.0.0.1/tcp/99999\",\n  ]\n}\n" + fee,
			summary: `Invalid value for "listen"`, at: "test.hcl:4:5", detail: "not a port number",
		},
		{
			name:    "listen not a multiaddr",
			src:     "network {\n  listen = [\"127.0.0.1:26656\"]\n}\n" + fee,
			summary: `Invalid value for "listen"`, at: "test.hcl:2:13", detail: "must start with '/'",
		},
		{
			name:    "bootstrap without peer id",
			src:     "network {\n  bootstrap = [\"/ip4/10.0.0.1/tcp/26656\"]\n}\n" + fee,
			summary: `Invalid value for "bootstrap"`, at: "test.hcl:2:16", detail: "/p2p/<peer id>",
		},
		{
			name:    "announce not a multiaddr",
			src:     "network {\n  announce = [\"10.0.0.1:26656\"]\n}\n" + fee,
			summary: `Invalid value for "announce"`, at: "test.hcl:2:15", detail: "must start with '/'",
		},
		{
			name:    "bad rpc listen",
			src:     "rpc {\n  listen = \"localhost\"\n}\n" + fee,
			summary: `Invalid value for "listen"`, at: "test.hcl:2:12", detail: "not host:port",
		},
		{
			name:    "bad metrics port",
			src:     "metrics {\n  listen = \"127.0.0.1:http\"\n}\n" + fee,
			summary: `Invalid value for "listen"`, at: "test.hcl:2:12", detail: "not a port number",
		},
		{
			name:    "bad duration",
			src:     p("fee", "x", `start_timeout = "10 seconds"`),
			summary: `Invalid value for "start_timeout"`, at: "test.hcl:3:19", detail: "not a duration",
		},
		{
			name:    "negative duration",
			src:     p("fee", "x", `restart {`, `  window = "-1m"`, `}`),
			summary: `Invalid value for "window"`, at: "test.hcl:4:14", detail: "must be positive",
		},
		{
			name:    "backoff order",
			src:     p("fee", "x", `restart {`, `  initial_backoff = "1m"`, `  max_backoff = "1s"`, `}`),
			summary: "Invalid restart backoff", at: "test.hcl:4:23",
		},
		{
			name:    "duplicate restart",
			src:     p("fee", "x", `restart {}`, `restart {}`),
			summary: "Duplicate restart block", at: "test.hcl:4:3",
		},
		{
			name:    "duplicate config",
			src:     p("fee", "x", `config {}`, `config {}`),
			summary: "Duplicate config block", at: "test.hcl:4:3",
		},
		{
			name:    "bad sha256 length",
			src:     "plugin \"fee\" \"x\" {\n  sha256 = \"abc\"\n}\n",
			summary: `Invalid value for "sha256"`, at: "test.hcl:2:12", detail: "trellis plugin verify",
		},
		{
			name:    "bad sha256 digits",
			src:     "plugin \"fee\" \"x\" {\n  sha256 = \"" + strings.Repeat("g", 64) + "\"\n}\n",
			summary: `Invalid value for "sha256"`, at: "test.hcl:2:12", detail: "hexadecimal",
		},
		{
			name:    "missing sha256",
			src:     "\nplugin \"fee\" \"x\" {\n}\n",
			summary: "Missing plugin checksum", at: "test.hcl:2:1", detail: "sha256sum",
		},
		{
			name:    "unknown kind",
			src:     p("prove", "cpu"),
			summary: "Unknown plugin kind", at: "test.hcl:1:8", detail: `Did you mean "prover"?`,
		},
		{
			name:    "bad plugin name",
			src:     p("fee", "a/b"),
			summary: "Invalid plugin name", at: "test.hcl:1:14",
		},
		{
			name:    "missing plugin label",
			src:     "plugin \"fee\" {}\n",
			summary: "Missing name for plugin", at: "test.hcl:1:14",
		},
		{
			name:    "duplicate plugin",
			src:     p("fee", "x") + p("fee", "x"),
			summary: "Duplicate plugin block", at: "test.hcl:4:1", detail: "already declared at test.hcl:1:1",
		},
		{
			name:    "fallback to missing",
			src:     p("prover", "gpu", `fallback = "cpuu"`) + p("prover", "cpu"),
			summary: "Unknown fallback plugin", at: "test.hcl:3:14", detail: `Did you mean "cpu"?`,
		},
		{
			name:    "fallback to other kind",
			src:     p("prover", "gpu", `fallback = "cpu"`) + p("da", "cpu"),
			summary: "Unknown fallback plugin", at: "test.hcl:3:14", detail: `plugin "da" "cpu" at test.hcl:5:1 is of another kind`,
		},
		{
			name:    "fallback to self",
			src:     p("prover", "gpu", `fallback = "gpu"`),
			summary: "Plugin falls back to itself", at: "test.hcl:3:14",
		},
		{
			name:    "fallback cycle",
			src:     p("prover", "a", `fallback = "b"`) + p("prover", "b", `fallback = "c"`) + p("prover", "c", `fallback = "a"`),
			summary: "Fallback cycle", at: "test.hcl:3:14", detail: "a → b → c → a",
		},
		{
			name:    "cycle behind a primary",
			src:     p("prover", "p", `fallback = "a"`) + p("prover", "a", `fallback = "b"`) + p("prover", "b", `fallback = "a"`),
			summary: "Fallback cycle", at: "test.hcl:7:14", detail: "a → b → a",
		},
		{
			name:    "two primaries",
			src:     p("prover", "gpu") + p("prover", "cpu"),
			summary: "More than one primary prover plugin", at: "test.hcl:4:1", detail: `"gpu" (test.hcl:1:1), "cpu" (test.hcl:4:1)`,
		},
		{
			name:    "two primaries sharing a fallback",
			src:     p("prover", "a", `fallback = "c"`) + p("prover", "b", `fallback = "c"`) + p("prover", "c"),
			summary: "More than one primary prover plugin", at: "test.hcl:5:1",
		},
		{
			name:    "bad env key",
			src:     p("fee", "x", `env = {`, `  OK = "1"`, `  "BAD-KEY" = "2"`, `}`),
			summary: `Invalid value for "env"`, at: "test.hcl:5:5", detail: "not a valid environment variable name",
		},
		{
			name:    "undeclared variable",
			src:     "variable \"region\" { default = \"eu\" }\nnode {\n  name = var.regin\n}\n" + fee,
			summary: "Reference to undeclared variable", at: "test.hcl:3:10", detail: `Did you mean "region"?`,
		},
		{
			name:    "undeclared variable no suggestion",
			src:     "node {\n  name = \"n-${var.zzz}\"\n}\n" + fee,
			summary: "Reference to undeclared variable", at: "test.hcl:2:15", detail: `variable "zzz" {}`,
		},
		{
			name:    "unknown root variable",
			src:     "node {\n  name = foo.bar\n}\n" + fee,
			summary: "Unknown variable", at: "test.hcl:2:10",
		},
		{
			name:    "variable without value",
			src:     "variable \"token\" {}\n" + fee,
			summary: "No value for required variable", at: "test.hcl:1:1", detail: "TRELLIS_VAR_token",
		},
		{
			name:    "variable default of wrong type",
			src:     "variable \"n\" {\n  type    = number\n  default = \"x\"\n}\n" + fee,
			summary: "Incorrect attribute value type", at: "test.hcl:3:13",
		},
		{
			name:    "variable default refers to a variable",
			src:     "variable \"a\" { default = \"x\" }\nvariable \"b\" {\n  default = var.a\n}\n" + fee,
			summary: "Variables not allowed", at: "test.hcl:3:13",
		},
		{
			name:    "bad variable type",
			src:     "variable \"n\" {\n  type = strin\n}\n" + fee,
			summary: "Invalid type specification", at: "test.hcl:2:10",
		},
		{
			name:    "duplicate variable",
			src:     "variable \"a\" { default = 1 }\nvariable \"a\" { default = 2 }\n" + fee,
			summary: "Duplicate variable declaration", at: "test.hcl:2:1",
		},
		{
			name:    "undeclared -var",
			src:     "variable \"region\" { default = \"eu\" }\n" + fee,
			opts:    LoadOptions{Vars: map[string]string{"regoin": "us"}},
			summary: "Value for undeclared variable", detail: `Did you mean "region"?`,
		},
		{
			name:    "bad -var value",
			src:     "variable \"n\" {\n  type = number\n}\n" + fee,
			opts:    LoadOptions{Vars: map[string]string{"n": "ten"}},
			summary: "Invalid value for variable", at: "<value for var.n>:1:1", detail: "a number is required",
		},
		{
			name:    "bad -var expression",
			src:     "variable \"l\" {\n  type = list(string)\n}\n" + fee,
			opts:    LoadOptions{Vars: map[string]string{"l": `["a",`}},
			summary: "Missing expression", at: "<value for var.l>:1:6",
		},
		{
			name:    "env() unset",
			src:     "node {\n  name = env(\"NODE_NAME\")\n}\n" + fee,
			summary: "Invalid function argument", at: "test.hcl:2:15", detail: "environment variable NODE_NAME is not set",
		},
		{
			name:    "env() too many arguments",
			src:     "node {\n  name = env(\"A\", \"b\", \"c\")\n}\n" + fee,
			summary: "Invalid function argument", at: "test.hcl:2:25", detail: "at most one default",
		},
		{
			name:    "unknown function",
			src:     "node {\n  name = uper(\"x\")\n}\n" + fee,
			summary: "Call to unknown function", at: "test.hcl:2:10", detail: `Did you mean "upper"?`,
		},
		{
			name:    "format width bomb",
			src:     "node {\n  name = format(\"%999999999d\", 1)\n}\n" + fee,
			summary: "Invalid function argument", at: "test.hcl:2:18", detail: "width or precision above",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, diags := parse(t, tt.src, tt.opts)
			if !diags.HasErrors() {
				t.Fatalf("no errors; want %q at %s", tt.summary, tt.at)
			}
			var found *hcl.Diagnostic
			for _, d := range diags {
				if d.Summary == tt.summary && (tt.at == "" || (d.Subject != nil && at(*d.Subject) == tt.at)) {
					found = d
					break
				}
			}
			if found == nil {
				var buf bytes.Buffer
				_ = c.WriteDiagnostics(&buf, diags)
				t.Fatalf("want %q at %s; got:\n%s", tt.summary, tt.at, buf.String())
			}
			if tt.at == "" && found.Subject != nil {
				t.Errorf("want no subject, got %s", at(*found.Subject))
			}
			if !strings.Contains(found.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", found.Detail, tt.detail)
			}
			// Every diagnostic renders, with its snippet.
			var buf bytes.Buffer
			if err := c.WriteDiagnostics(&buf, diags); err != nil {
				t.Fatal(err)
			}
			if tt.at != "" && !strings.Contains(buf.String(), "  on "+tt.at) {
				t.Errorf("rendering lacks %q:\n%s", "on "+tt.at, buf.String())
			}
		})
	}
}
