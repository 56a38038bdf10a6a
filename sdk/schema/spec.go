package schema

import (
	"iter"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// MapLabel is the name given to the single label of a NestingMap block (it
// appears in hcldec's "Missing name for ..." diagnostics).
const MapLabel = "name"

// Spec returns the hcldec spec for s: an ObjectSpec of AttrSpec (wrapped in a
// DefaultSpec when the attribute has a default), BlockSpec, BlockListSpec and
// BlockMapSpec. Decoding a body against it rejects unknown attributes and
// blocks with "Did you mean" suggestions.
//
// Call Validate first: hcldec panics on some invalid specs (for example a
// dynamically typed attribute inside a map block). Spec itself never panics;
// a nil schema gives an empty ObjectSpec.
func (s *Schema) Spec() hcldec.Spec {
	if s == nil {
		return hcldec.ObjectSpec{}
	}
	return s.objectSpec()
}

func (s *Schema) objectSpec() hcldec.ObjectSpec {
	spec := make(hcldec.ObjectSpec, len(s.Attributes)+len(s.Blocks))
	for _, a := range s.Attributes {
		ty := a.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		var as hcldec.Spec = &hcldec.AttrSpec{Name: a.Name, Type: ty, Required: a.Required}
		if a.Default != cty.NilVal && !a.Required {
			if def, err := convert.Convert(a.Default, ty); err == nil && def.IsWhollyKnown() && !def.IsNull() {
				as = &hcldec.DefaultSpec{Primary: as, Default: &hcldec.LiteralSpec{Value: def}}
			}
		}
		spec[a.Name] = as
	}
	for _, b := range s.Blocks {
		nested := b.Body.objectSpec()
		switch b.Nesting {
		case NestingList:
			spec[b.TypeName] = &hcldec.BlockListSpec{TypeName: b.TypeName, Nested: nested, MinItems: b.MinItems, MaxItems: b.MaxItems}
		case NestingMap:
			spec[b.TypeName] = &hcldec.BlockMapSpec{TypeName: b.TypeName, LabelNames: []string{MapLabel}, Nested: nested}
		default:
			spec[b.TypeName] = &hcldec.BlockSpec{TypeName: b.TypeName, Nested: nested, Required: b.MinItems > 0}
		}
	}
	return spec
}

// Decode validates s and decodes body against it with ctx (which supplies
// variables and functions to expressions; nil allows only literals).
//
// On top of plain hcldec decoding it fills absent optional single blocks: a
// NestingSingle block that does not appear decodes as if it had been written
// empty, so its attributes take their defaults, provided that is valid (none
// of its contents is required); otherwise it is null. The result is an object
// with one attribute per member of s.
func (s *Schema) Decode(body hcl.Body, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if err := s.Validate(); err != nil {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid configuration schema",
			Detail:   err.Error(),
		}}
	}
	if body == nil {
		body = hcl.EmptyBody()
	}
	val, diags := hcldec.Decode(body, s.Spec(), ctx)
	if diags.HasErrors() {
		return val, diags
	}
	return s.fillAbsent(val, ctx), diags
}

// fillAbsent replaces null optional single blocks in val (an object decoded
// against s) with the decoding of an empty body, recursively.
func (s *Schema) fillAbsent(val cty.Value, ctx *hcl.EvalContext) cty.Value {
	if len(s.Blocks) == 0 || val.IsNull() || !val.IsKnown() || !val.Type().IsObjectType() {
		return val
	}
	attrs := val.AsValueMap()
	changed := false
	for i := range s.Blocks {
		b := &s.Blocks[i]
		cur, ok := attrs[b.TypeName]
		if !ok {
			continue
		}
		var next cty.Value
		switch b.Nesting {
		case NestingSingle:
			if cur.IsNull() {
				empty, diags := hcldec.Decode(hcl.EmptyBody(), b.Body.Spec(), ctx)
				if diags.HasErrors() {
					continue
				}
				next = b.Body.fillAbsent(empty, ctx)
			} else {
				next = b.Body.fillAbsent(cur, ctx)
			}
		case NestingList, NestingMap:
			next = mapElements(cur, func(v cty.Value) cty.Value { return b.Body.fillAbsent(v, ctx) })
		default:
			continue
		}
		if !next.RawEquals(cur) {
			attrs[b.TypeName] = next
			changed = true
		}
	}
	if !changed {
		return val
	}
	return cty.ObjectVal(attrs)
}

// mapElements applies f to each element of a list, tuple or map value. When
// the results of a list or map would no longer share one type (possible with
// dynamically typed attributes) the original value is returned unchanged.
func mapElements(coll cty.Value, f func(cty.Value) cty.Value) cty.Value {
	if coll.IsNull() || !coll.IsWhollyKnown() || coll.LengthInt() == 0 {
		return coll
	}
	ty := coll.Type()
	switch {
	case ty.IsListType(), ty.IsTupleType():
		elems := make([]cty.Value, 0, coll.LengthInt())
		for it := coll.ElementIterator(); it.Next(); {
			_, v := it.Element()
			elems = append(elems, f(v))
		}
		if ty.IsTupleType() {
			return cty.TupleVal(elems)
		}
		if !sameTypes(elems) {
			return coll
		}
		return cty.ListVal(elems)
	case ty.IsMapType():
		elems := make(map[string]cty.Value, coll.LengthInt())
		all := make([]cty.Value, 0, coll.LengthInt())
		for it := coll.ElementIterator(); it.Next(); {
			k, v := it.Element()
			nv := f(v)
			elems[k.AsString()] = nv
			all = append(all, nv)
		}
		if !sameTypes(all) {
			return coll
		}
		return cty.MapVal(elems)
	}
	return coll
}

func sameTypes(vals []cty.Value) bool {
	for _, v := range vals[1:] {
		if !v.Type().Equals(vals[0].Type()) {
			return false
		}
	}
	return true
}

// sortedAttrs iterates over an object type's attributes in name order.
func sortedAttrs(ty cty.Type) iter.Seq2[string, cty.Type] {
	return func(yield func(string, cty.Type) bool) {
		types := ty.AttributeTypes()
		names := make([]string, 0, len(types))
		for n := range types {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !yield(n, types[n]) {
				return
			}
		}
	}
}
