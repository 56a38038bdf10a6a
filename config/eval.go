package config

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder accumulates the configuration and its diagnostics.
type decoder struct {
	cfg   *Config
	opts  LoadOptions
	diags hcl.Diagnostics
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

func (d *decoder) errorf(subject *hcl.Range, summary, format string, args ...any) {
	d.add(&hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
	})
}

// checkRefs reports references to undeclared variables (var.nope) with a
// suggestion, before evaluation would produce a vaguer "Unsupported
// attribute". It returns false when it reported something.
func (d *decoder) checkRefs(traversals []hcl.Traversal) bool {
	ok := true
	for _, tr := range traversals {
		if tr.RootName() != "var" {
			continue
		}
		if len(tr) < 2 {
			d.errorf(tr.SourceRange().Ptr(), "Invalid variable reference",
				"A reference to var must name a variable, as in var.name.")
			ok = false
			continue
		}
		step, isAttr := tr[1].(hcl.TraverseAttr)
		if !isAttr {
			d.errorf(tr.SourceRange().Ptr(), "Invalid variable reference",
				"A reference to var must name a variable with a dot, as in var.name.")
			ok = false
			continue
		}
		if _, declared := d.cfg.Variables[step.Name]; declared {
			continue
		}
		detail := fmt.Sprintf("A variable named %q has not been declared.", step.Name)
		if s := suggest(step.Name, sortedKeys(d.cfg.Variables)); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		} else {
			detail += fmt.Sprintf(" Declare it with a block: variable %q {}", step.Name)
		}
		d.errorf(tr.SourceRange().Ptr(), "Reference to undeclared variable", "%s", detail)
		ok = false
	}
	return ok
}

// eval evaluates expr and converts it to ty; on failure it records
// diagnostics and returns ok=false.
func (d *decoder) eval(expr hcl.Expression, ctx *hcl.EvalContext, ty cty.Type, what string, context *hcl.Range) (cty.Value, bool) {
	if !d.checkRefs(expr.Variables()) {
		return cty.NilVal, false
	}
	val, diags := expr.Value(ctx)
	d.add(diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		d.add(&hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for %s: %s.", what, err.Error()),
			Subject:     expr.Range().Ptr(),
			Context:     context,
			Expression:  expr,
			EvalContext: ctx,
		})
		return cty.NilVal, false
	}
	if !conv.IsWhollyKnown() {
		// Only a variable whose own value was invalid (and reported) is
		// unknown here: stay quiet rather than repeat that error.
		return cty.NilVal, false
	}
	return conv, true
}

// body reads the attributes of one block (or the root) whose paths in
// Config.Range start with prefix.
type body struct {
	d      *decoder
	prefix string
	attrs  hcl.Attributes
}

func (d *decoder) body(prefix string, attrs hcl.Attributes) *body {
	return &body{d: d, prefix: prefix, attrs: attrs}
}

// value evaluates attribute name as type ty. ok is false when the attribute
// is absent, null (which means "use the default") or invalid (reported).
func (b *body) value(name string, ty cty.Type) (cty.Value, *hcl.Attribute, bool) {
	attr, present := b.attrs[name]
	if !present {
		return cty.NilVal, nil, false
	}
	b.d.cfg.ranges[b.prefix+"."+name] = attr.Expr.Range()
	ctx := hcl.RangeBetween(attr.NameRange, attr.Expr.Range())
	v, ok := b.d.eval(attr.Expr, b.d.cfg.evalCtx, ty, fmt.Sprintf("attribute %q", name), &ctx)
	if !ok || v.IsNull() {
		return cty.NilVal, attr, false
	}
	return v, attr, true
}

// invalid reports a value that has the right type but is not acceptable.
func (b *body) invalid(attr *hcl.Attribute, rng hcl.Range, err error) {
	ctx := hcl.RangeBetween(attr.NameRange, attr.Expr.Range())
	b.d.add(&hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for %q", attr.Name),
		Detail:   sentence(err.Error()),
		Subject:  rng.Ptr(),
		Context:  &ctx,
	})
}

func (b *body) str(name string, dst *string, check func(string) error) {
	v, attr, ok := b.value(name, cty.String)
	if !ok {
		return
	}
	s := v.AsString()
	if check != nil {
		if err := check(s); err != nil {
			b.invalid(attr, attr.Expr.Range(), err)
			return
		}
	}
	*dst = s
}

func (b *body) boolean(name string, dst *bool) {
	if v, _, ok := b.value(name, cty.Bool); ok {
		*dst = v.True()
	}
}

func (b *body) integer(name string, dst *int, minimum, maximum int) {
	v, attr, ok := b.value(name, cty.Number)
	if !ok {
		return
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	switch {
	case !bf.IsInt() || acc != big.Exact:
		b.invalid(attr, attr.Expr.Range(), fmt.Errorf("%s must be a whole number", name))
	case i < int64(minimum) || i > int64(maximum):
		b.invalid(attr, attr.Expr.Range(), fmt.Errorf("%s must be between %d and %d, got %d", name, minimum, maximum, i))
	default:
		*dst = int(i)
	}
}

// duration reads a Go duration string ("200ms", "5m") that must be positive.
func (b *body) duration(name string, dst *time.Duration) {
	v, attr, ok := b.value(name, cty.String)
	if !ok {
		return
	}
	dur, err := time.ParseDuration(v.AsString())
	switch {
	case err != nil:
		b.invalid(attr, attr.Expr.Range(), fmt.Errorf("%q is not a duration; write a number with a unit, such as \"500ms\", \"10s\" or \"5m\"", v.AsString()))
	case dur <= 0:
		b.invalid(attr, attr.Expr.Range(), fmt.Errorf("%s must be positive, got %s", name, dur))
	default:
		*dst = dur
	}
}

// strList reads a list of strings; check errors point at the element.
func (b *body) strList(name string, dst *[]string, check func(string) error) {
	v, attr, ok := b.value(name, cty.List(cty.String))
	if !ok {
		return
	}
	elemExprs, _ := hcl.ExprList(attr.Expr)
	out := make([]string, 0, v.LengthInt())
	good := true
	for i, e := range v.AsValueSlice() {
		rng := attr.Expr.Range()
		if len(elemExprs) == v.LengthInt() {
			rng = elemExprs[i].Range()
		}
		if e.IsNull() {
			b.invalid(attr, rng, fmt.Errorf("element %d of %s is null", i, name))
			good = false
			continue
		}
		s := e.AsString()
		if check != nil {
			if err := check(s); err != nil {
				b.invalid(attr, rng, err)
				good = false
				continue
			}
		}
		out = append(out, s)
	}
	if good {
		*dst = out
	}
}

// strMap reads a map of strings; checkKey errors point at the key.
func (b *body) strMap(name string, dst *map[string]string, checkKey, checkValue func(string) error) {
	v, attr, ok := b.value(name, cty.Map(cty.String))
	if !ok {
		return
	}
	pairs, _ := hcl.ExprMap(attr.Expr)
	keyRange := func(k string) (hcl.Range, hcl.Range) {
		for _, p := range pairs {
			if kv, diags := p.Key.Value(nil); !diags.HasErrors() && kv.Type() == cty.String && kv.IsKnown() && !kv.IsNull() && kv.AsString() == k {
				return p.Key.Range(), p.Value.Range()
			}
		}
		return attr.Expr.Range(), attr.Expr.Range()
	}
	out := make(map[string]string, v.LengthInt())
	good := true
	m := v.AsValueMap()
	for _, k := range sortedKeys(m) {
		e := m[k]
		kr, vr := keyRange(k)
		if err := checkKey(k); err != nil {
			b.invalid(attr, kr, err)
			good = false
			continue
		}
		if e.IsNull() {
			b.invalid(attr, vr, fmt.Errorf("value of %q is null", k))
			good = false
			continue
		}
		if err := checkValue(e.AsString()); err != nil {
			b.invalid(attr, vr, err)
			good = false
			continue
		}
		out[k] = e.AsString()
	}
	if good {
		*dst = out
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sentence capitalizes s and ends it with a full stop unless it already
// ends with punctuation.
func sentence(s string) string {
	s = capitalize(s)
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// suggest returns the candidate closest to name (edit distance under 3), or
// "", in the manner of HCL's "Did you mean" suggestions; failing that, a
// candidate that is a prefix of name or has it as a prefix ("warning" →
// "warn").
func suggest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" || len(name) < 3 {
		return best
	}
	for _, c := range candidates {
		if len(c) >= 3 && (strings.HasPrefix(name, c) || strings.HasPrefix(c, name)) {
			return c
		}
	}
	return ""
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// at renders the start of a range as file:line:column.
func at(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
