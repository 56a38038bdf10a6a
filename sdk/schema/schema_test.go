package schema

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func testSchema() *Schema {
	return New(
		String("endpoint").Require().Describe("where to send blobs"),
		Number("samples").DefaultTo(cty.NumberIntVal(16)),
		String("token").Secret(),
		StringList("peers"),
		StringMap("labels").DefaultTo(cty.MapValEmpty(cty.String)),
		Bool("strict").DefaultTo(cty.False),
		Single("retry",
			Number("attempts").DefaultTo(cty.NumberIntVal(3)),
			String("backoff").DefaultTo(cty.StringVal("1s")),
		),
		List("mirror", String("url").Require()).Limit(0, 2),
		Map("shard", Number("weight").DefaultTo(cty.NumberIntVal(1))),
	)
}

func TestValidate(t *testing.T) {
	deep := Schema{}
	cur := &deep
	for range MaxBlockDepth + 1 {
		cur.Blocks = []Block{Single("b")}
		cur = &cur.Blocks[0].Body
	}
	var many []Member
	for i := range MaxMembers + 1 {
		many = append(many, Number("a"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+strings.Repeat("y", i/26)))
	}
	deepType := cty.String
	for range MaxTypeDepth + 1 {
		deepType = cty.List(deepType)
	}
	tests := []struct {
		name   string
		schema *Schema
		want   string // substring of the error; "" = valid
	}{
		{"ok", testSchema(), ""},
		{"empty", New(), ""},
		{"nil", nil, "schema is nil"},
		{"bad ident", New(String("1abc")), `"1abc": attribute name is not a valid HCL identifier`},
		{"empty name", New(String("")), "attribute with an empty name"},
		{"long name", New(String(strings.Repeat("a", MaxNameLen+1))), "longer than 64 bytes"},
		{"dup attr", New(String("a"), Number("a")), `a: attribute name "a" is already used by an attribute`},
		{"attr vs block", New(String("a"), Single("a")), `a: block name "a" is already used by an attribute`},
		{"nested path", New(Single("retry", Single("inner", Number("x y")))), `retry.inner."x y": attribute name is not a valid`},
		{"required+default", New(Number("n").Require().DefaultTo(cty.NumberIntVal(1))), "n: is required and also has a default"},
		{"default type", New(Number("n").DefaultTo(cty.StringVal("abc"))), "n: default: value of type string does not conform to type number"},
		{"default convertible", New(Number("n").DefaultTo(cty.StringVal("12"))), ""},
		{"default null", New(Number("n").DefaultTo(cty.NullVal(cty.Number))), "value is null"},
		{"default unknown", New(Number("n").DefaultTo(cty.UnknownVal(cty.Number))), "not known"},
		{"no type", &Schema{Attributes: []Attribute{{Name: "x"}}}, "x: type is not set"},
		{"capsule", New(Attr("c", cty.Capsule("thing", nil))), "capsule type"},
		{"deep type", New(Attr("d", deepType)), "nested more than 16 levels"},
		{"no nesting", &Schema{Blocks: []Block{{TypeName: "b"}}}, "b: unknown nesting mode 0"},
		{"min>max", New(List("b").Limit(3, 2)), "min_items 3 is greater than max_items 2"},
		{"negative", New(List("b").Limit(-1, 0)), "cannot be negative"},
		{"huge", New(List("b").Limit(0, MaxBlockItems+1)), "not supported"},
		{"single max", New(Single("b").Limit(0, 2)), "single nesting takes"},
		{"map limits", New(Map("b").Limit(1, 0)), "map nesting does not support"},
		{"map dynamic", New(Map("b", Any("x"))), "b.x: type any is not allowed inside a block with map nesting"},
		{"deep blocks", &deep, "nested more than 8 levels deep"},
		{"too many", New(many...), "more than 512 attributes"},
		{"long description", New(String("a").Describe(strings.Repeat("d", MaxDescriptionLen+1))), "description longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.schema.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want %q", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateCapsProblems(t *testing.T) {
	var members []Member
	for range 50 {
		members = append(members, String("-bad"))
	}
	err := New(members...).Validate()
	if err == nil {
		t.Fatal("no error")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != maxProblems+1 {
		t.Errorf("%d lines of problems, want %d", n, maxProblems+1)
	}
	if !strings.Contains(err.Error(), "more problems not shown") {
		t.Errorf("missing overflow note: %v", err)
	}
}

func parseBody(t *testing.T, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	return f.Body
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // JSON from MarshalConfig, or error substring after "ERR:"
	}{
		{
			name: "defaults and absent single block filled",
			src:  `endpoint = "http://da"`,
			want: `{"endpoint":"http://da","labels":{},"mirror":[],"peers":null,"retry":{"attempts":3,"backoff":"1s"},"samples":16,"shard":{},"strict":false,"token":null}`,
		},
		{
			name: "nested blocks",
			src: `
endpoint = "x"
samples  = "32"
peers    = ["a", "b"]
retry { attempts = 5 }
mirror { url = "m1" }
mirror { url = "m2" }
shard "s1" { weight = 2 }
shard "s2" {}
`,
			want: `{"endpoint":"x","labels":{},"mirror":[{"url":"m1"},{"url":"m2"}],"peers":["a","b"],"retry":{"attempts":5,"backoff":"1s"},"samples":32,"shard":{"s1":{"weight":2},"s2":{"weight":1}},"strict":false,"token":null}`,
		},
		{name: "typo", src: "endpoint = \"x\"\nsampels = 3\n", want: `ERR:test.hcl:2,1-8: Unsupported argument; An argument named "sampels" is not expected here. Did you mean "samples"?`},
		{name: "missing required", src: ``, want: `ERR:Missing required argument`},
		{name: "wrong type", src: "endpoint = \"x\"\nsamples = \"many\"\n", want: `ERR:test.hcl:2,11-17: Incorrect attribute value type`},
		{name: "too many blocks", src: "endpoint = \"x\"\nmirror {\n url = \"a\"\n}\nmirror {\n url = \"b\"\n}\nmirror {\n url = \"c\"\n}\n", want: `ERR:Too many mirror blocks`},
		{name: "unknown block", src: "endpoint = \"x\"\nretyr {}\n", want: `ERR:test.hcl:2,1-6: Unsupported block type; Blocks of type "retyr" are not expected here. Did you mean "retry"?`},
	}
	s := testSchema()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			val, diags := s.Decode(parseBody(t, tt.src), nil)
			if want, isErr := strings.CutPrefix(tt.want, "ERR:"); isErr {
				if !diags.HasErrors() {
					t.Fatalf("no error, want %q", want)
				}
				if !strings.Contains(diags.Error(), want) {
					t.Fatalf("error %q does not contain %q", diags.Error(), want)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("Decode: %v", diags)
			}
			got, err := MarshalConfig(val)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDecodeRequiredSingleBlockStaysNull(t *testing.T) {
	s := New(Single("tls", String("cert").Require()))
	val, diags := s.Decode(hcl.EmptyBody(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if !val.GetAttr("tls").IsNull() {
		t.Errorf("tls = %#v, want null", val.GetAttr("tls"))
	}
}

func TestDecodeInvalidSchema(t *testing.T) {
	s := New(Map("m", Any("x"))) // would make hcldec panic
	_, diags := s.Decode(parseBody(t, `m "a" { x = 1 }`), nil)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "type any is not allowed") {
		t.Fatalf("diags = %v", diags)
	}
}

func TestDecodeJSON(t *testing.T) {
	type retry struct {
		Attempts int    `json:"attempts"`
		Backoff  string `json:"backoff"`
	}
	type cfg struct {
		Endpoint string   `json:"endpoint"`
		Samples  int      `json:"samples"`
		Retry    retry    `json:"retry"`
		Peers    []string `json:"peers"`
	}
	var c cfg
	if err := DecodeJSON([]byte(`{"endpoint":"x","samples":16,"retry":{"attempts":3,"backoff":"1s"},"peers":null}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != "x" || c.Samples != 16 || c.Retry.Attempts != 3 || c.Peers != nil {
		t.Errorf("decoded %+v", c)
	}
	for _, bad := range []string{`{"endpoint":"x","extra":1}`, `{"samples":"many"}`, `{} {}`, `{`, ``} {
		if err := DecodeJSON([]byte(bad), &c); !errors.Is(err, ErrConfig) {
			t.Errorf("DecodeJSON(%q) = %v, want ErrConfig", bad, err)
		}
	}
}
