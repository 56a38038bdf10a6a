package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Size limits for values crossing the plugin boundary.
const (
	MaxTypeJSON  = 64 << 10 // bytes of one encoded type
	MaxValueJSON = 1 << 20  // bytes of one encoded default value or config
)

// Sentinel errors of the transport helpers; returned errors wrap one of them.
var (
	ErrType   = errors.New("invalid type encoding")
	ErrValue  = errors.New("invalid value encoding")
	ErrConfig = errors.New("cannot decode plugin config")
)

// MarshalType encodes ty as go-cty's JSON type notation, e.g. `"string"` or
// `["list","number"]`.
func MarshalType(ty cty.Type) ([]byte, error) {
	if err := checkType(ty); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrType, err)
	}
	b, err := ctyjson.MarshalType(ty)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrType, err)
	}
	return b, nil
}

// UnmarshalType decodes a type written by MarshalType. The input comes from
// another process: it is bounded in size, depth and component count, and bad
// input is an error wrapping ErrType.
func UnmarshalType(data []byte) (ty cty.Type, err error) {
	if len(data) > MaxTypeJSON {
		return cty.NilType, fmt.Errorf("%w: %d bytes, limit %d", ErrType, len(data), MaxTypeJSON)
	}
	if err := checkJSONDepth(data, 2*MaxTypeDepth+2); err != nil {
		return cty.NilType, fmt.Errorf("%w: %v", ErrType, err)
	}
	defer func() {
		// go-cty does not promise to be panic-free on arbitrary input;
		// the plugin boundary must be.
		if r := recover(); r != nil {
			ty, err = cty.NilType, fmt.Errorf("%w: %v", ErrType, r)
		}
	}()
	ty, err = ctyjson.UnmarshalType(data)
	if err != nil {
		return cty.NilType, fmt.Errorf("%w: %v", ErrType, err)
	}
	if err := checkType(ty); err != nil {
		return cty.NilType, fmt.Errorf("%w: %v", ErrType, err)
	}
	return ty, nil
}

// MarshalValue encodes v as go-cty JSON for type ty (dynamically typed parts
// carry their type alongside). cty.NilVal (no default) encodes as nil, so
// an absent default round-trips through an empty bytes field.
func MarshalValue(v cty.Value, ty cty.Type) ([]byte, error) {
	if v == cty.NilVal {
		return nil, nil
	}
	if err := checkType(ty); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrValue, err)
	}
	if err := checkDefault(v, ty); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrValue, err)
	}
	b, err := ctyjson.Marshal(v, ty)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrValue, err)
	}
	return b, nil
}

// UnmarshalValue decodes a value written by MarshalValue for type ty. Empty
// data decodes to cty.NilVal (no default). Bad input is an error wrapping
// ErrValue, never a panic.
func UnmarshalValue(data []byte, ty cty.Type) (v cty.Value, err error) {
	if len(data) == 0 {
		return cty.NilVal, nil
	}
	if len(data) > MaxValueJSON {
		return cty.NilVal, fmt.Errorf("%w: %d bytes, limit %d", ErrValue, len(data), MaxValueJSON)
	}
	if err := checkType(ty); err != nil {
		return cty.NilVal, fmt.Errorf("%w: %v", ErrValue, err)
	}
	// Values of dynamic type embed a type, and those nest; bound the depth.
	if err := checkJSONDepth(data, 4*MaxTypeDepth); err != nil {
		return cty.NilVal, fmt.Errorf("%w: %v", ErrValue, err)
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = cty.NilVal, fmt.Errorf("%w: %v", ErrValue, r)
		}
	}()
	v, err = ctyjson.Unmarshal(data, ty)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%w: %v", ErrValue, err)
	}
	if err := checkType(v.Type()); err != nil {
		return cty.NilVal, fmt.Errorf("%w: %v", ErrValue, err)
	}
	return v, nil
}

// checkJSONDepth rejects syntactically invalid JSON and JSON nested deeper
// than limit, before a recursive decoder sees it.
func checkJSONDepth(data []byte, limit int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			if depth > limit {
				return fmt.Errorf("nested more than %d levels deep", limit)
			}
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	return nil
}

// MarshalConfig encodes a decoded config object (the result of
// Schema.Decode) as the plain JSON a plugin reads with DecodeJSON: objects,
// arrays, strings, numbers, booleans and null, without type annotations.
func MarshalConfig(v cty.Value) ([]byte, error) {
	if v == cty.NilVal {
		return nil, fmt.Errorf("%w: no value", ErrValue)
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrValue, err)
	}
	return b, nil
}

// DecodeJSON decodes the plain-JSON config the host sends a plugin into
// target (a pointer, usually to a struct with `json` tags matching the schema
// names). Fields the struct lacks are an error: they mean the plugin's schema
// and its struct disagree. Absent optional attributes arrive as null and leave
// the field untouched.
func DecodeJSON(data []byte, target any) error {
	if len(data) > MaxValueJSON {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrConfig, len(data), MaxValueJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrConfig)
	}
	return nil
}
