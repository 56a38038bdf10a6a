package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"

	"github.com/trellis-chain/trellis/sdk/schema"
)

// DecodePluginConfig decodes plugin p's `config {}` block against the schema
// the plugin declared, and returns the result as the plain JSON the plugin
// receives in Configure (its schema.DecodeJSON reads it).
//
// The schema comes from the plugin process and is validated first; a bad one
// is reported at the plugin block as the plugin's fault. Problems in the
// block itself (unknown or misspelled settings, wrong types, missing required
// settings) point into the config block, or at the plugin block when it has
// none, and their summary starts with the plugin: `plugin "da" "kzg": ...`.
// Absent optional single blocks take their defaults (see schema.Decode).
func (c *Config) DecodePluginConfig(p *Plugin, s *schema.Schema) ([]byte, hcl.Diagnostics) {
	if p == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No plugin to configure", Detail: "DecodePluginConfig was called without a plugin."}}
	}
	label := fmt.Sprintf("plugin %q %q", p.Kind, p.Name)
	if err := s.Validate(); err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid configuration schema from " + label,
			Detail: fmt.Sprintf("The plugin binary %s declared a configuration schema the host cannot use: %v. "+
				"This is a fault of the plugin, not of your configuration: report it to the plugin's author, or use another version.", p.Source, err),
			Subject: p.DeclRange.Ptr(),
		}}
	}
	body := p.Body
	if body == nil {
		body = hcl.EmptyBody()
	}

	d := &decoder{cfg: c}
	d.checkRefs(hcldec.Variables(body, s.Spec()))
	diags := d.diags
	if !diags.HasErrors() {
		var val, decodeDiags = s.Decode(body, c.evalCtx)
		diags = append(diags, decodeDiags...)
		if !diags.HasErrors() {
			out, err := schema.MarshalConfig(val)
			if err == nil && len(out) > schema.MaxValueJSON {
				err = fmt.Errorf("%d bytes of JSON, limit %d", len(out), schema.MaxValueJSON)
			}
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Cannot encode plugin configuration",
					Detail:   fmt.Sprintf("The decoded configuration cannot be sent to the plugin: %v.", err),
					Subject:  p.ConfigRange.Ptr(),
				})
			} else {
				return out, annotate(diags, label, p.ConfigRange, nil)
			}
		}
	}
	return nil, annotate(diags, label, p.ConfigRange, sensitiveRanges(body, s, 0))
}

// sensitiveRanges returns the ranges of the attributes in body that s marks
// Sensitive, so that diagnostics about them do not print the values of the
// variables they use.
func sensitiveRanges(body hcl.Body, s *schema.Schema, depth int) []hcl.Range {
	if depth > schema.MaxBlockDepth {
		return nil
	}
	bs := &hcl.BodySchema{}
	for _, a := range s.Attributes {
		bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name})
	}
	for _, b := range s.Blocks {
		h := hcl.BlockHeaderSchema{Type: b.TypeName}
		if b.Nesting == schema.NestingMap {
			h.LabelNames = []string{schema.MapLabel}
		}
		bs.Blocks = append(bs.Blocks, h)
	}
	content, _, _ := body.PartialContent(bs)
	if content == nil {
		return nil
	}
	var out []hcl.Range
	for _, a := range s.Attributes {
		if attr, ok := content.Attributes[a.Name]; ok && a.Sensitive {
			out = append(out, attr.Range)
		}
	}
	for _, blk := range content.Blocks {
		for i := range s.Blocks {
			if s.Blocks[i].TypeName == blk.Type {
				out = append(out, sensitiveRanges(blk.Body, &s.Blocks[i].Body, depth+1)...)
			}
		}
	}
	return out
}

// annotate prefixes each summary with the plugin, gives diagnostics that
// have no place in the file (a required setting missing from an absent
// config block) the fallback range, and keeps the values of variables out of
// diagnostics about sensitive attributes.
func annotate(diags hcl.Diagnostics, label string, fallback hcl.Range, sensitive []hcl.Range) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	for _, diag := range diags {
		cp := *diag
		cp.Summary = label + ": " + diag.Summary
		if cp.Subject == nil || cp.Subject.Filename == "" {
			cp.Subject = fallback.Ptr()
		}
		for _, r := range sensitive {
			if r.Overlaps(*cp.Subject) {
				cp.Expression, cp.EvalContext = nil, nil
			}
		}
		out = append(out, &cp)
	}
	return out
}
