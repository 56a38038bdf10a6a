package schema

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Limits on a schema. A schema comes from a plugin process, which the host
// does not trust; these keep decoding it cheap and its error messages sane.
const (
	MaxBlockDepth     = 8    // levels of nested blocks
	MaxMembers        = 512  // attributes and blocks, summed over all levels
	MaxNameLen        = 64   // bytes in an attribute or block type name
	MaxDescriptionLen = 4096 // bytes in a description
	MaxTypeDepth      = 16   // levels of nesting inside one cty.Type
	MaxTypeNodes      = 1024 // types and object/tuple members inside one cty.Type
	MaxBlockItems     = 1 << 16
	maxProblems       = 20 // problems reported by one Validate call
)

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid schema")

// ValidationError is one problem in a schema. Path names the attribute or
// block with dots through nested blocks, e.g. "retry.max_attempts"; it is
// empty for a problem with the schema as a whole.
type ValidationError struct {
	Path string
	Msg  string
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return "invalid schema: " + e.Msg
	}
	return fmt.Sprintf("invalid schema: %s: %s", e.Path, e.Msg)
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Validate checks that s is a schema the host can decode a block against:
// names are HCL identifiers and unique among the attributes and blocks of one
// body, types are supported, defaults conform to their types and are not
// combined with Required, block counts are sane, and the schema stays within
// the limits above. It reports up to 20 problems joined into one error; each
// is a *ValidationError and errors.Is(err, ErrInvalid) holds. A nil schema is
// invalid; an empty one is valid (it accepts only an empty block).
func (s *Schema) Validate() error {
	if s == nil {
		return &ValidationError{Msg: "schema is nil"}
	}
	v := &validator{}
	v.body(s, "", 1, false)
	if len(v.problems) == 0 {
		return nil
	}
	if v.overflow {
		v.problems = append(v.problems, &ValidationError{Msg: fmt.Sprintf("more problems not shown (first %d listed)", maxProblems)})
	}
	return errors.Join(v.problems...)
}

type validator struct {
	problems []error
	members  int
	overflow bool
}

func (v *validator) addf(path, format string, args ...any) {
	if len(v.problems) >= maxProblems {
		v.overflow = true
		return
	}
	v.problems = append(v.problems, &ValidationError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// body validates one level; inMap says we are inside a NestingMap block,
// where hcldec cannot handle dynamically typed attributes.
func (v *validator) body(s *Schema, prefix string, depth int, inMap bool) {
	if depth > MaxBlockDepth {
		v.addf(prefix, "blocks are nested more than %d levels deep", MaxBlockDepth)
		return
	}
	v.members += len(s.Attributes) + len(s.Blocks)
	if v.members > MaxMembers {
		v.addf(prefix, "more than %d attributes and blocks in total", MaxMembers)
		return
	}
	seen := make(map[string]string, len(s.Attributes)+len(s.Blocks))
	checkName := func(kind, name string) (string, bool) {
		path := join(prefix, name)
		switch {
		case name == "":
			v.addf(prefix, "%s with an empty name", kind)
			return path, false
		case len(name) > MaxNameLen:
			v.addf(join(prefix, name[:MaxNameLen]+"..."), "%s name longer than %d bytes", kind, MaxNameLen)
			return path, false
		case !hclsyntax.ValidIdentifier(name):
			v.addf(join(prefix, fmt.Sprintf("%q", name)), "%s name is not a valid HCL identifier (letters, digits, '_' and '-', not starting with a digit or '-')", kind)
			return path, false
		}
		if prev, dup := seen[name]; dup {
			v.addf(path, "%s name %q is already used by %s", kind, name, prev)
			return path, false
		}
		seen[name] = "an " + kind
		if kind == "block" {
			seen[name] = "a " + kind
		}
		return path, true
	}

	for i := range s.Attributes {
		a := &s.Attributes[i]
		path, ok := checkName("attribute", a.Name)
		if !ok {
			continue
		}
		if len(a.Description) > MaxDescriptionLen {
			v.addf(path, "description longer than %d bytes", MaxDescriptionLen)
		}
		if err := checkType(a.Type); err != nil {
			v.addf(path, "%v", err)
			continue
		}
		if inMap && a.Type.HasDynamicTypes() {
			v.addf(path, "type %s is not allowed inside a block with map nesting (use a concrete type)", TypeString(a.Type))
		}
		if a.Default == cty.NilVal {
			continue
		}
		if a.Required {
			v.addf(path, "is required and also has a default; use one or the other")
		}
		if err := checkDefault(a.Default, a.Type); err != nil {
			v.addf(path, "default: %v", err)
		}
	}

	for i := range s.Blocks {
		b := &s.Blocks[i]
		path, ok := checkName("block", b.TypeName)
		if !ok {
			continue
		}
		if len(b.Description) > MaxDescriptionLen {
			v.addf(path, "description longer than %d bytes", MaxDescriptionLen)
		}
		switch {
		case b.MinItems < 0 || b.MaxItems < 0:
			v.addf(path, "min_items %d / max_items %d: counts cannot be negative", b.MinItems, b.MaxItems)
		case b.MinItems > MaxBlockItems || b.MaxItems > MaxBlockItems:
			v.addf(path, "min_items %d / max_items %d: counts above %d are not supported", b.MinItems, b.MaxItems, MaxBlockItems)
		case b.MaxItems != 0 && b.MinItems > b.MaxItems:
			v.addf(path, "min_items %d is greater than max_items %d", b.MinItems, b.MaxItems)
		}
		childInMap := inMap
		switch b.Nesting {
		case NestingSingle:
			if b.MinItems > 1 || b.MaxItems > 1 {
				v.addf(path, "a block with single nesting takes min_items 0 or 1 and max_items 0 or 1 (got %d, %d)", b.MinItems, b.MaxItems)
			}
		case NestingList:
		case NestingMap:
			if b.MinItems != 0 || b.MaxItems != 0 {
				v.addf(path, "a block with map nesting does not support min_items/max_items (got %d, %d)", b.MinItems, b.MaxItems)
			}
			childInMap = true
		default:
			v.addf(path, "unknown nesting mode %d (want single, list or map)", int(b.Nesting))
		}
		v.body(&b.Body, path, depth+1, childInMap)
		if v.members > MaxMembers {
			return
		}
	}
}

// checkType accepts primitive, collection and structural types (and the
// dynamic pseudo-type), bounded in depth and size; capsule types cannot cross
// a process boundary and are rejected.
func checkType(ty cty.Type) error {
	if ty == cty.NilType {
		return errors.New("type is not set")
	}
	nodes := 0
	var walk func(t cty.Type, depth int) error
	walk = func(t cty.Type, depth int) error {
		nodes++
		if nodes > MaxTypeNodes {
			return fmt.Errorf("type has more than %d components", MaxTypeNodes)
		}
		if depth > MaxTypeDepth {
			return fmt.Errorf("type is nested more than %d levels deep", MaxTypeDepth)
		}
		switch {
		case t == cty.NilType:
			return errors.New("type contains an unset type")
		case t == cty.DynamicPseudoType, t.IsPrimitiveType():
			return nil
		case t.IsListType(), t.IsSetType(), t.IsMapType():
			return walk(t.ElementType(), depth+1)
		case t.IsObjectType():
			for _, at := range t.AttributeTypes() {
				if err := walk(at, depth+1); err != nil {
					return err
				}
			}
			return nil
		case t.IsTupleType():
			for _, et := range t.TupleElementTypes() {
				if err := walk(et, depth+1); err != nil {
					return err
				}
			}
			return nil
		case t.IsCapsuleType():
			return fmt.Errorf("capsule type %s is not supported", t.FriendlyName())
		}
		return fmt.Errorf("unsupported type %s", t.FriendlyName())
	}
	return walk(ty, 1)
}

// checkDefault reports whether def is a usable default for ty.
func checkDefault(def cty.Value, ty cty.Type) error {
	switch {
	case def.IsMarked():
		return errors.New("value carries marks")
	case !def.IsWhollyKnown():
		return errors.New("value is not known")
	case def.IsNull():
		return errors.New("value is null (leave Default unset instead)")
	}
	if err := checkType(def.Type()); err != nil {
		return err
	}
	if _, err := convert.Convert(def, ty); err != nil {
		return fmt.Errorf("value of type %s does not conform to type %s: %v", TypeString(def.Type()), TypeString(ty), err)
	}
	return nil
}

// TypeString renders a type as it would be written in HCL, e.g.
// "list(string)" or "object({port=number})".
func TypeString(ty cty.Type) string {
	var b strings.Builder
	writeType(&b, ty, 0)
	return b.String()
}

func writeType(b *strings.Builder, ty cty.Type, depth int) {
	if depth > MaxTypeDepth || b.Len() > 512 {
		b.WriteString("...")
		return
	}
	switch {
	case ty == cty.NilType:
		b.WriteString("<unset>")
	case ty == cty.DynamicPseudoType:
		b.WriteString("any")
	case ty == cty.String:
		b.WriteString("string")
	case ty == cty.Number:
		b.WriteString("number")
	case ty == cty.Bool:
		b.WriteString("bool")
	case ty.IsListType(), ty.IsSetType(), ty.IsMapType():
		switch {
		case ty.IsListType():
			b.WriteString("list(")
		case ty.IsSetType():
			b.WriteString("set(")
		default:
			b.WriteString("map(")
		}
		writeType(b, ty.ElementType(), depth+1)
		b.WriteByte(')')
	case ty.IsObjectType():
		b.WriteString("object({")
		first := true
		for name, at := range sortedAttrs(ty) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(name)
			b.WriteByte('=')
			writeType(b, at, depth+1)
		}
		b.WriteString("})")
	case ty.IsTupleType():
		b.WriteString("tuple([")
		for i, et := range ty.TupleElementTypes() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeType(b, et, depth+1)
		}
		b.WriteString("])")
	default:
		b.WriteString(ty.FriendlyName())
	}
}
