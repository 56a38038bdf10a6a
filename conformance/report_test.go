package conformance

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/sdk/schema"
)

func TestWrite(t *testing.T) {
	r := &Report{Checks: []Check{
		{Name: "common/handshake", Passed: true, Duration: 103 * time.Millisecond},
		{Name: "fee/price-block-split-sums", Passed: true, Duration: 3*time.Millisecond + 400*time.Microsecond},
		{Name: "common/health", Detail: "Health is STATUS_NOT_SERVING\nlast stderr lines:\nboom", Duration: 200 * time.Microsecond},
		{Name: "fee/quote", Skipped: true, Detail: `capability "fee.quote" not declared`},
		{Name: "common/close-exits", Passed: true, Duration: 2345 * time.Millisecond},
	}}
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `PASS  common/handshake             (103ms)
PASS  fee/price-block-split-sums   (3ms)
FAIL  common/health                (<1ms): Health is STATUS_NOT_SERVING
      last stderr lines:
      boom
SKIP  fee/quote: capability "fee.quote" not declared
PASS  common/close-exits           (2.35s)
3 passed, 1 failed
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if r.Passed() {
		t.Fatal("a report with a failure passed")
	}
	if p, f, s := r.Counts(); p != 3 || f != 1 || s != 1 {
		t.Fatalf("counts %d %d %d", p, f, s)
	}
}

func TestPassed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks []Check
		want   bool
	}{
		{"empty", nil, false},
		{"only skipped", []Check{{Name: "a", Skipped: true}}, false},
		{"passed and skipped", []Check{{Name: "a", Passed: true}, {Name: "b", Skipped: true}}, true},
		{"one failure", []Check{{Name: "a", Passed: true}, {Name: "b"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&Report{Checks: tc.checks}).Passed(); got != tc.want {
				t.Fatalf("Passed() = %v, want %v", got, tc.want)
			}
		})
	}
	var nilReport *Report
	if nilReport.Passed() {
		t.Fatal("nil report passed")
	}
}

func TestValidVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"0.1.0": true, "v1.2.3": true, "1.0.0-rc.1": true, "1.0.0+build.5": true, "10.20.30-alpha.beta+exp.sha.5114f85": true,
		"": false, "1": false, "1.2": false, "01.2.3": false, "1.2.3.4": false, "1.2.3-": false, "latest": false, " 1.2.3": false,
	} {
		if got := ValidVersion(v); got != want {
			t.Errorf("ValidVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestValidCapability(t *testing.T) {
	for c, want := range map[string]bool{
		"fee.quote": true, "host.chain": true, "prover.batch_v2": true, "da.sample-rows.v2": true,
		"": false, "quote": false, "Fee.quote": false, "fee.": false, ".quote": false, "fee..quote": false, "fee.2x": false,
		"fee quote": false, strings.Repeat("a.", 100) + "b": false,
	} {
		if got := ValidCapability(c); got != want {
			t.Errorf("ValidCapability(%q) = %v, want %v", c, got, want)
		}
	}
}

// FuzzValidNames: the name checks take any string from a plugin's Info and
// never panic; an accepted capability is lowercase and dotted.
func FuzzValidNames(f *testing.F) {
	for _, s := range []string{"fee.quote", "0.1.0", "v1.2.3-rc.1+x", "", ".", "a.b.c", "1.2.3-0a.b", "\xff.\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ValidVersion(s)
		if ValidCapability(s) && (strings.ToLower(s) != s || !strings.Contains(s, ".")) {
			t.Fatalf("accepted capability %q", s)
		}
	})
}

func TestWrongTypeConfig(t *testing.T) {
	sc := schema.New(
		schema.Any("anything"),
		schema.Number("limit").DefaultTo(cty.NumberIntVal(3)),
		schema.String("greeting"),
	)
	for _, tc := range []struct {
		name     string
		config   []byte
		sc       *schema.Schema
		wantAttr string
		wantVal  string
		skip     bool
	}{
		{"first typed attribute", []byte(`{"anything":1,"limit":3,"greeting":null}`), sc, "limit", `"not a number"`, false},
		{"no config yet", nil, sc, "limit", `"not a number"`, false},
		{"string", nil, schema.New(schema.String("s")), "s", `{"not":"a string"}`, false},
		{"bool", nil, schema.New(schema.Bool("b")), "b", `"not a bool"`, false},
		{"list", nil, schema.New(schema.StringList("l")), "l", `"not a list of string"`, false},
		{"only dynamic", nil, schema.New(schema.Any("x")), "", "", true},
		{"empty schema", nil, schema.New(), "", "", true},
		{"config not an object", []byte(`[1]`), sc, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, what, err := wrongTypeConfig(tc.config, nil, tc.sc)
			if tc.skip {
				if _, ok := err.(*skipError); !ok {
					t.Fatalf("want a skip, got %s, %v", out, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			if string(m[tc.wantAttr]) != tc.wantVal || !strings.Contains(what, tc.wantAttr) {
				t.Fatalf("config %s (%s)", out, what)
			}
		})
	}
}
