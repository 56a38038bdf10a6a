package schema

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/zclconf/go-cty/cty"
)

func TestTypeRoundTrip(t *testing.T) {
	types := []cty.Type{
		cty.String, cty.Number, cty.Bool, cty.DynamicPseudoType,
		cty.List(cty.String), cty.Set(cty.Number), cty.Map(cty.Bool),
		cty.Object(map[string]cty.Type{"a": cty.String, "b": cty.List(cty.Number)}),
		cty.ObjectWithOptionalAttrs(map[string]cty.Type{"a": cty.String, "b": cty.Number}, []string{"b"}),
		cty.Tuple([]cty.Type{cty.String, cty.Bool}),
	}
	for _, ty := range types {
		b, err := MarshalType(ty)
		if err != nil {
			t.Fatalf("MarshalType(%s): %v", TypeString(ty), err)
		}
		got, err := UnmarshalType(b)
		if err != nil {
			t.Fatalf("UnmarshalType(%s): %v", b, err)
		}
		if !got.Equals(ty) {
			t.Errorf("round trip of %s gave %s", TypeString(ty), TypeString(got))
		}
	}
}

func TestUnmarshalTypeErrors(t *testing.T) {
	deep := strings.Repeat(`["list",`, 40) + `"string"` + strings.Repeat(`]`, 40)
	tests := []struct{ name, in, want string }{
		{"empty", ``, "EOF"},
		{"garbage", `{{`, "invalid"},
		{"unknown prim", `"float"`, "invalid"},
		{"bad list", `["list"]`, "invalid"},
		{"deep", deep, "nested more than"},
		{"huge", `"` + strings.Repeat("a", MaxTypeJSON) + `"`, "limit"},
		{"trailing", `"string" "number"`, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := UnmarshalType([]byte(tt.in))
			if !errors.Is(err, ErrType) {
				t.Fatalf("err = %v, want ErrType", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		v  cty.Value
		ty cty.Type
	}{
		{cty.StringVal("x"), cty.String},
		{cty.NumberIntVal(42), cty.Number},
		{cty.ListVal([]cty.Value{cty.StringVal("a")}), cty.List(cty.String)},
		{cty.StringVal("dyn"), cty.DynamicPseudoType},
		{cty.ObjectVal(map[string]cty.Value{"a": cty.True}), cty.Object(map[string]cty.Type{"a": cty.Bool})},
	}
	for _, tt := range tests {
		b, err := MarshalValue(tt.v, tt.ty)
		if err != nil {
			t.Fatalf("MarshalValue(%#v): %v", tt.v, err)
		}
		got, err := UnmarshalValue(b, tt.ty)
		if err != nil {
			t.Fatalf("UnmarshalValue(%s): %v", b, err)
		}
		if !got.RawEquals(tt.v) {
			t.Errorf("round trip of %#v gave %#v", tt.v, got)
		}
	}
	// No default travels as no bytes.
	if b, err := MarshalValue(cty.NilVal, cty.String); err != nil || b != nil {
		t.Errorf("MarshalValue(NilVal) = %q, %v", b, err)
	}
	if v, err := UnmarshalValue(nil, cty.String); err != nil || v != cty.NilVal {
		t.Errorf("UnmarshalValue(nil) = %#v, %v", v, err)
	}
	if _, err := MarshalValue(cty.StringVal("x"), cty.Bool); !errors.Is(err, ErrValue) {
		t.Errorf("MarshalValue(string as bool) = %v, want ErrValue", err)
	}
}

func TestUnmarshalValueErrors(t *testing.T) {
	tests := []struct {
		name, in string
		ty       cty.Type
	}{
		{"garbage", `{{`, cty.String},
		{"wrong type", `{"a":1}`, cty.List(cty.String)},
		{"bad number", `"1x"`, cty.Number},
		{"no type", `"x"`, cty.NilType},
		{"capsule", `"x"`, cty.Capsule("c", nil)},
		{"dynamic bad", `{"value":1,"type":"nonsense"}`, cty.DynamicPseudoType},
		{"deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), cty.DynamicPseudoType},
		{"huge", `"` + strings.Repeat("a", MaxValueJSON) + `"`, cty.String},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnmarshalValue([]byte(tt.in), tt.ty); !errors.Is(err, ErrValue) {
				t.Fatalf("err = %v, want ErrValue", err)
			}
		})
	}
}

func FuzzUnmarshalType(f *testing.F) {
	for _, s := range []string{`"string"`, `["list","number"]`, `["object",{"a":"string"},["a"]]`, `["tuple",["bool","dynamic"]]`, `["map",["set","string"]]`, `{`, `["capsule"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ty, err := UnmarshalType(data)
		if err != nil {
			return
		}
		b, err := MarshalType(ty)
		if err != nil {
			t.Fatalf("accepted type %s does not re-encode: %v", TypeString(ty), err)
		}
		ty2, err := UnmarshalType(b)
		if err != nil || !ty2.Equals(ty) {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
	})
}

func FuzzUnmarshalValue(f *testing.F) {
	f.Add([]byte(`"number"`), []byte(`12.5`))
	f.Add([]byte(`["list","string"]`), []byte(`["a","b"]`))
	f.Add([]byte(`"dynamic"`), []byte(`{"value":["x"],"type":["list","string"]}`))
	f.Add([]byte(`["object",{"a":"bool"}]`), []byte(`{"a":true}`))
	f.Add([]byte(`["map","number"]`), []byte(`{"k":1e400}`))
	f.Fuzz(func(t *testing.T, typeData, valueData []byte) {
		ty, err := UnmarshalType(typeData)
		if err != nil {
			return
		}
		v, err := UnmarshalValue(valueData, ty)
		if err != nil || v == cty.NilVal || v.IsNull() {
			return
		}
		// Whatever decodes must be usable as a default of that type.
		if _, err := MarshalValue(v, ty); err != nil {
			t.Fatalf("decoded value %#v does not re-encode: %v", v, err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"endpoint":"x","samples":3}`))
	f.Add([]byte(`{"retry":{"attempts":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c struct {
			Endpoint string         `json:"endpoint"`
			Samples  int            `json:"samples"`
			Retry    map[string]any `json:"retry"`
		}
		_ = DecodeJSON(data, &c)
	})
}

// FuzzSchemaDecode checks the promise Validate makes: a schema it accepts,
// whatever its types, defaults and nesting, decodes any HCL body without
// panicking, and what decodes without errors encodes as plain JSON.
func FuzzSchemaDecode(f *testing.F) {
	f.Add([]byte(`"string"`), []byte(`"x"`), uint8(1), uint8(0), []byte("a = \"y\"\nb { c = \"z\" }\n"))
	f.Add([]byte(`"dynamic"`), []byte(``), uint8(3), uint8(0), []byte("b \"k\" { c = 1 }\n"))
	f.Add([]byte(`["list","number"]`), []byte(`[1,2]`), uint8(2), uint8(2), []byte("b { c = [1] }\nb { c = [2] }\nb { c = [3] }\n"))
	f.Add([]byte(`["object",{"p":"number"},["p"]]`), []byte(`{"p":1}`), uint8(1), uint8(1), []byte("a = {}\n"))
	f.Add([]byte(`"number"`), []byte(`1`), uint8(0), uint8(0), []byte("a = 1/0\n"))
	f.Fuzz(func(t *testing.T, typeData, defData []byte, nesting, maxItems uint8, src []byte) {
		ty, err := UnmarshalType(typeData)
		if err != nil {
			return
		}
		def, err := UnmarshalValue(defData, ty)
		if err != nil {
			return
		}
		s := New(
			Attr("a", ty).DefaultTo(def),
			Block{TypeName: "b", Nesting: Nesting(nesting % 4), MaxItems: int(maxItems % 4), Body: *New(Attr("c", ty))},
		)
		if s.Validate() != nil {
			return
		}
		file, diags := hclsyntax.ParseConfig(src, "fuzz.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			return
		}
		val, diags := s.Decode(file.Body, nil)
		if diags.HasErrors() {
			return
		}
		_, _ = MarshalConfig(val) // may fail (e.g. infinity), must not panic
	})
}
