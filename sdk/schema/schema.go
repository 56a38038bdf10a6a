package schema

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// Schema describes the body of a plugin's `config {}` block: its attributes
// (name = value) and its nested blocks.
type Schema struct {
	Attributes []Attribute
	Blocks     []Block
}

// Attribute describes one `name = value` argument.
type Attribute struct {
	Name string
	// Type is the type the value is converted to; cty.DynamicPseudoType
	// accepts any value (not allowed inside NestingMap blocks).
	Type        cty.Type
	Required    bool
	Description string
	// Default is used when the attribute is absent or null; cty.NilVal means
	// no default (the value is then null). It must conform to Type and must
	// not be set together with Required.
	Default cty.Value
	// Sensitive marks a secret: hosts never print or log its value.
	Sensitive bool
}

// Nesting says how many blocks of a type may appear and how they decode.
type Nesting int

const (
	// NestingSingle: at most one block, decoded to an object (or null when
	// absent and it cannot be decoded as empty, see Decode).
	NestingSingle Nesting = iota + 1
	// NestingList: any number of blocks (MinItems..MaxItems), decoded to a
	// list of objects in source order.
	NestingList
	// NestingMap: blocks carrying one label, decoded to a map of objects keyed
	// by that label; labels must be unique.
	NestingMap
)

func (n Nesting) String() string {
	switch n {
	case NestingSingle:
		return "single"
	case NestingList:
		return "list"
	case NestingMap:
		return "map"
	}
	return fmt.Sprintf("Nesting(%d)", int(n))
}

// Block describes a nested block type.
type Block struct {
	TypeName string
	Nesting  Nesting
	// MinItems and MaxItems bound the number of blocks; MaxItems 0 means no
	// upper bound. For NestingSingle, MinItems 1 makes the block required.
	// NestingMap supports neither (both must be 0).
	MinItems, MaxItems int
	Description        string
	Body               Schema
}

// Member is an Attribute or a Block; it lets New take both.
type Member interface{ member() }

func (Attribute) member() {}
func (Block) member()     {}

// New builds a schema from attributes and blocks, in order:
//
//	schema.New(
//		schema.String("endpoint").Require().Describe("RPC endpoint of the DA layer"),
//		schema.Number("samples").DefaultTo(cty.NumberIntVal(16)),
//		schema.String("token").Secret(),
//		schema.Single("retry",
//			schema.Number("attempts").DefaultTo(cty.NumberIntVal(3)),
//		),
//	)
func New(members ...Member) *Schema {
	s := &Schema{}
	for _, m := range members {
		switch m := m.(type) {
		case Attribute:
			s.Attributes = append(s.Attributes, m)
		case Block:
			s.Blocks = append(s.Blocks, m)
		}
	}
	return s
}

// Attr declares an optional attribute of any cty type.
func Attr(name string, ty cty.Type) Attribute { return Attribute{Name: name, Type: ty} }

// String declares an optional string attribute.
func String(name string) Attribute { return Attr(name, cty.String) }

// Number declares an optional number attribute.
func Number(name string) Attribute { return Attr(name, cty.Number) }

// Bool declares an optional bool attribute.
func Bool(name string) Attribute { return Attr(name, cty.Bool) }

// StringList declares an optional list(string) attribute.
func StringList(name string) Attribute { return Attr(name, cty.List(cty.String)) }

// StringMap declares an optional map(string) attribute.
func StringMap(name string) Attribute { return Attr(name, cty.Map(cty.String)) }

// Any declares an optional attribute that accepts a value of any type.
func Any(name string) Attribute { return Attr(name, cty.DynamicPseudoType) }

// Require makes the attribute required.
func (a Attribute) Require() Attribute { a.Required = true; return a }

// DefaultTo sets the value used when the attribute is absent or null.
func (a Attribute) DefaultTo(v cty.Value) Attribute { a.Default = v; return a }

// Describe sets the attribute's documentation.
func (a Attribute) Describe(text string) Attribute { a.Description = text; return a }

// Secret marks the attribute sensitive.
func (a Attribute) Secret() Attribute { a.Sensitive = true; return a }

// Single declares an optional block that may appear at most once.
func Single(typeName string, members ...Member) Block {
	return Block{TypeName: typeName, Nesting: NestingSingle, Body: *New(members...)}
}

// List declares a block type that may be repeated; it decodes to a list.
func List(typeName string, members ...Member) Block {
	return Block{TypeName: typeName, Nesting: NestingList, Body: *New(members...)}
}

// Map declares a block type with one label, e.g. `peer "alice" { ... }`; it
// decodes to a map keyed by the label.
func Map(typeName string, members ...Member) Block {
	return Block{TypeName: typeName, Nesting: NestingMap, Body: *New(members...)}
}

// Require makes at least one block of this type mandatory.
func (b Block) Require() Block {
	if b.MinItems < 1 {
		b.MinItems = 1
	}
	return b
}

// Limit bounds the number of blocks of a NestingList type (max 0: unbounded).
func (b Block) Limit(minItems, maxItems int) Block {
	b.MinItems, b.MaxItems = minItems, maxItems
	return b
}

// Describe sets the block's documentation.
func (b Block) Describe(text string) Block { b.Description = text; return b }
