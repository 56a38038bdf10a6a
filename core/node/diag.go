package node

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/plugin"
)

// DiagnosticsError carries diagnostics about the config file, for the CLI
// to render with their source snippets (config.Config.WriteDiagnostics).
type DiagnosticsError struct {
	Diags hcl.Diagnostics
}

func (e *DiagnosticsError) Error() string { return e.Diags.Error() }

// PluginDiagnostics turns a plugin start error into diagnostics at the part
// of the plugin block it concerns: the sha256 attribute for a checksum
// mismatch, the attribute inside config {} that a plugin complained about.
func PluginDiagnostics(cfg *config.Config, p *config.Plugin, err error) hcl.Diagnostics {
	var cd *configDiags
	if errors.As(err, &cd) {
		return cd.diags
	}
	label := fmt.Sprintf("plugin %q %q", p.Kind, p.Name)
	subject := p.DeclRange
	at := func(attr string) {
		if r, ok := cfg.Range("plugin." + p.ID() + "." + attr); ok {
			subject = r
		}
	}
	var ce *plugin.ConfigError
	if errors.As(err, &ce) {
		var diags hcl.Diagnostics
		for _, d := range ce.Diagnostics {
			r := pathRange(p, d.Path)
			summary := label + ": " + d.Summary
			if len(d.Path) > 0 {
				summary = label + ": " + strings.Join(d.Path, ".") + ": " + d.Summary
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: d.Detail, Subject: r.Ptr()})
		}
		return diags
	}
	summary := label + " failed to start"
	switch {
	case errors.Is(err, plugin.ErrChecksum):
		at("sha256")
		summary = label + ": checksum mismatch"
	case errors.Is(err, plugin.ErrNotFound), errors.Is(err, plugin.ErrNotExecutable):
		at("source")
		summary = label + ": binary missing or not executable"
		if len(p.SearchedPaths) > 0 {
			err = fmt.Errorf("%w (searched %s)", err, strings.Join(p.SearchedPaths, ", "))
		}
	case errors.Is(err, plugin.ErrIdentity):
		summary = label + ": binary is another plugin"
	case errors.Is(err, plugin.ErrProtocolVersion):
		summary = label + ": incompatible protocol version"
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: err.Error(), Subject: subject.Ptr()}}
}

// pathRange finds the attribute a plugin's diagnostic names inside its
// config block, or falls back to the block.
func pathRange(p *config.Plugin, path []string) hcl.Range {
	body, ok := p.Body.(*hclsyntax.Body)
	if !ok || len(path) == 0 {
		return p.ConfigRange
	}
	for i, name := range path {
		if a, ok := body.Attributes[name]; ok {
			return a.SrcRange
		}
		var next *hclsyntax.Body
		for _, b := range body.Blocks {
			if b.Type == name {
				next = b.Body
				if i == len(path)-1 {
					return b.TypeRange
				}
				break
			}
		}
		if next == nil {
			break
		}
		body = next
	}
	return p.ConfigRange
}

// configDiags wraps the host's own decoding diagnostics so they pass
// through the supervisor unchanged and are never retried.
type configDiags struct{ diags hcl.Diagnostics }

func (e *configDiags) Error() string { return e.diags.Error() }
func (e *configDiags) Unwrap() error { return plugin.ErrConfig }
