package schema

import (
	"fmt"

	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
)

// ToProto converts s to its protocol form.
func ToProto(s *Schema) (*pluginv1.Schema, error) {
	return toProto(s, 0)
}

func toProto(s *Schema, depth int) (*pluginv1.Schema, error) {
	if depth > MaxBlockDepth {
		return nil, fmt.Errorf("%w: blocks nested deeper than %d", ErrInvalid, MaxBlockDepth)
	}
	out := &pluginv1.Schema{}
	for _, a := range s.Attributes {
		ty, err := MarshalType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
		def, err := MarshalValue(a.Default, a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %q default: %w", a.Name, err)
		}
		out.Attributes = append(out.Attributes, &pluginv1.Attribute{Name: a.Name, Type: ty, Required: a.Required,
			Description: a.Description, Default: def, Sensitive: a.Sensitive})
	}
	for _, b := range s.Blocks {
		body, err := toProto(&b.Body, depth+1)
		if err != nil {
			return nil, fmt.Errorf("block %q: %w", b.TypeName, err)
		}
		if b.MinItems < 0 || b.MaxItems < 0 {
			return nil, fmt.Errorf("%w: block %q: negative item bounds", ErrInvalid, b.TypeName)
		}
		out.Blocks = append(out.Blocks, &pluginv1.Block{TypeName: b.TypeName, Nesting: pluginv1.Block_Nesting(b.Nesting),
			MinItems: uint32(b.MinItems), MaxItems: uint32(b.MaxItems), Description: b.Description, Body: body})
	}
	return out, nil
}

// FromProto converts a schema received from a plugin. The input is not
// trusted: sizes and depth are bounded and bad encodings are errors. Call
// Validate on the result before using it.
func FromProto(p *pluginv1.Schema) (*Schema, error) {
	if p == nil {
		return &Schema{}, nil
	}
	members := 0
	return fromProto(p, 0, &members)
}

func fromProto(p *pluginv1.Schema, depth int, members *int) (*Schema, error) {
	if depth > MaxBlockDepth {
		return nil, fmt.Errorf("%w: blocks nested deeper than %d", ErrInvalid, MaxBlockDepth)
	}
	*members += len(p.GetAttributes()) + len(p.GetBlocks())
	if *members > MaxMembers {
		return nil, fmt.Errorf("%w: more than %d attributes and blocks", ErrInvalid, MaxMembers)
	}
	out := &Schema{}
	for _, a := range p.GetAttributes() {
		if len(a.GetType()) > MaxTypeJSON {
			return nil, fmt.Errorf("%w: attribute %q: type encoding too large", ErrInvalid, a.GetName())
		}
		ty, err := UnmarshalType(a.GetType())
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.GetName(), err)
		}
		def, err := UnmarshalValue(a.GetDefault(), ty)
		if err != nil {
			return nil, fmt.Errorf("attribute %q default: %w", a.GetName(), err)
		}
		out.Attributes = append(out.Attributes, Attribute{Name: a.GetName(), Type: ty, Required: a.GetRequired(),
			Description: a.GetDescription(), Default: def, Sensitive: a.GetSensitive()})
	}
	for _, b := range p.GetBlocks() {
		body, err := fromProto(b.GetBody(), depth+1, members)
		if err != nil {
			return nil, fmt.Errorf("block %q: %w", b.GetTypeName(), err)
		}
		if b.GetMinItems() > MaxBlockItems || b.GetMaxItems() > MaxBlockItems {
			return nil, fmt.Errorf("%w: block %q: item bounds above %d", ErrInvalid, b.GetTypeName(), MaxBlockItems)
		}
		out.Blocks = append(out.Blocks, Block{TypeName: b.GetTypeName(), Nesting: Nesting(b.GetNesting()),
			MinItems: int(b.GetMinItems()), MaxItems: int(b.GetMaxItems()), Description: b.GetDescription(), Body: *body})
	}
	return out, nil
}
