package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
	},
}

// decodeVariables declares the variables and settles their values:
// default, then TRELLIS_VAR_<name>, then LoadOptions.Vars.
func (d *decoder) decodeVariables(blocks hcl.Blocks) {
	// Defaults may call functions but not refer to other variables.
	defaultCtx := &hcl.EvalContext{Functions: functions(d.opts.Environ)}
	for _, blk := range blocks {
		if blk.Type != "variable" {
			continue
		}
		name := blk.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(blk.LabelRanges[0].Ptr(), "Invalid variable name",
				"%q is not a valid variable name: use letters, digits, underscores and dashes, starting with a letter or underscore.", name)
			continue
		}
		if prev, dup := d.cfg.Variables[name]; dup {
			d.errorf(blk.DefRange.Ptr(), "Duplicate variable declaration",
				"A variable named %q was already declared at %s. Variable names must be unique.", name, at(prev.DeclRange))
			continue
		}
		v := &Variable{Name: name, Type: cty.DynamicPseudoType, DeclRange: blk.DefRange}
		d.cfg.Variables[name] = v
		d.cfg.ranges["variable."+name] = blk.DefRange

		content, diags := blk.Body.Content(variableSchema)
		d.add(diags...)
		if attr, ok := content.Attributes["type"]; ok {
			ty, diags := typeexpr.TypeConstraint(attr.Expr)
			d.add(diags...)
			if !diags.HasErrors() {
				v.Type = ty
			}
		}
		if attr, ok := content.Attributes["description"]; ok {
			if val, ok := d.eval(attr.Expr, defaultCtx, cty.String, `attribute "description"`, nil); ok && !val.IsNull() {
				v.Description = val.AsString()
			}
		}
		if attr, ok := content.Attributes["default"]; ok {
			if val, ok := d.eval(attr.Expr, defaultCtx, v.Type, fmt.Sprintf("the default of variable %q", name), nil); ok {
				v.Default = val
				v.Value, v.Source = val, "default"
			} else {
				// Reported already; an unknown value keeps expressions that
				// use the variable from piling on more errors.
				v.Value = cty.UnknownVal(v.Type)
			}
		}
	}

	for _, name := range sortedKeys(d.cfg.Variables) {
		v := d.cfg.Variables[name]
		if raw, ok := d.opts.Environ(EnvVarPrefix + name); ok {
			if val, ok := d.parseVarValue(v, raw, fmt.Sprintf("<value for var.%s from %s%s>", name, EnvVarPrefix, name)); ok {
				v.Value, v.Source = val, "env"
			}
		}
	}
	for _, name := range sortedKeys(d.opts.Vars) {
		v, declared := d.cfg.Variables[name]
		if !declared {
			detail := fmt.Sprintf("A value was given for variable %q, but %s declares no such variable.", name, d.cfg.Filename)
			if s := suggest(name, sortedKeys(d.cfg.Variables)); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			} else {
				detail += fmt.Sprintf(" Declare it with a block: variable %q {}", name)
			}
			d.errorf(nil, "Value for undeclared variable", "%s", detail)
			continue
		}
		if val, ok := d.parseVarValue(v, d.opts.Vars[name], fmt.Sprintf("<value for var.%s>", name)); ok {
			v.Value, v.Source = val, "option"
		}
	}

	for _, name := range sortedKeys(d.cfg.Variables) {
		v := d.cfg.Variables[name]
		if v.Value == cty.NilVal {
			d.errorf(v.DeclRange.Ptr(), "No value for required variable",
				"Variable %q has no default, so it must be set: with -var %s=..., or in the environment as %s%s.", name, name, EnvVarPrefix, name)
			v.Value = cty.UnknownVal(v.Type)
		}
	}
}

// parseVarValue turns the text of a -var or TRELLIS_VAR_ value into a value
// of the variable's type. Text for primitive (or untyped) variables is taken
// literally; other types parse it as an HCL expression. The text becomes a
// pseudo-file so that diagnostics can show it.
func (d *decoder) parseVarValue(v *Variable, raw, pseudoName string) (cty.Value, bool) {
	d.cfg.Files[pseudoName] = &hcl.File{Body: hcl.EmptyBody(), Bytes: []byte(raw)}
	whole := hcl.Range{Filename: pseudoName, Start: hcl.InitialPos, End: hcl.Pos{Line: 1, Column: len(raw) + 1, Byte: len(raw)}}
	var val cty.Value
	if v.Type.IsPrimitiveType() || v.Type == cty.DynamicPseudoType {
		val = cty.StringVal(raw)
	} else {
		expr, diags := hclsyntax.ParseExpression([]byte(raw), pseudoName, hcl.InitialPos)
		d.add(diags...)
		if diags.HasErrors() {
			return cty.NilVal, false
		}
		val, diags = expr.Value(nil)
		d.add(diags...)
		if diags.HasErrors() {
			return cty.NilVal, false
		}
	}
	conv, err := convert.Convert(val, v.Type)
	if err != nil {
		d.errorf(whole.Ptr(), "Invalid value for variable",
			"The value given for variable %q is not valid: %s.", v.Name, err.Error())
		return cty.NilVal, false
	}
	return conv, true
}

// varObject is the value of `var` in expressions.
func (d *decoder) varObject() cty.Value {
	vals := make(map[string]cty.Value, len(d.cfg.Variables))
	for name, v := range d.cfg.Variables {
		vals[name] = v.Value
	}
	return cty.ObjectVal(vals)
}
