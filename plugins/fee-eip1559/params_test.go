package fee

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDefaultParamsValid(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Params)
		fields []string // the fields the error must name
	}{
		{"elasticity", func(p *Params) { p.ElasticityMultiplier = 0 }, []string{"elasticity_multiplier"}},
		{"denominator", func(p *Params) { p.BaseFeeMaxChangeDenominator = 0 }, []string{"base_fee_max_change_denominator"}},
		{"floor above ceiling", func(p *Params) { p.MinBaseFee, p.MaxBaseFee = 10, 9 }, []string{"min_base_fee"}},
		{"base split sum", func(p *Params) { p.BaseFeeSplit.Burn = 6_000 }, []string{"base_fee_split"}},
		{"tip split sum", func(p *Params) { p.TipSplit = Split{} }, []string{"tip_split"}},
		{"percentile zero", func(p *Params) { p.QuoteTipPercentile = 0 }, []string{"quote_tip_percentile"}},
		{"percentile 101", func(p *Params) { p.QuoteTipPercentile = 101 }, []string{"quote_tip_percentile"}},
		{"all at once", func(p *Params) { *p = Params{MinBaseFee: 2, MaxBaseFee: 1} }, []string{
			"elasticity_multiplier", "base_fee_max_change_denominator", "min_base_fee",
			"base_fee_split", "tip_split", "quote_tip_percentile"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			tc.mutate(&p)
			err := p.Validate()
			if !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Validate() = %v, want ErrInvalidParams", err)
			}
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("Validate() = %v, want a *ParamError", err)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f+":") {
					t.Errorf("Validate() = %q does not name %s", err, f)
				}
			}
		})
	}
	// Edge values that are valid.
	p := DefaultParams()
	p.ElasticityMultiplier, p.BaseFeeMaxChangeDenominator = 1, 1
	p.MinBaseFee, p.MaxBaseFee = 7, 7
	p.QuoteTipPercentile = 100
	if err := p.Validate(); err != nil {
		t.Fatalf("edge params: %v", err)
	}
}

func TestSplitValidateMessage(t *testing.T) {
	err := Split{Burn: 5_000, Treasury: 1_000, Prover: 3_000}.Validate()
	want := "fee: invalid params: split: burn 5000 + treasury 1000 + sequencer 0 + prover 3000 = 9000 bps, must be exactly 10000"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %q", err, want)
	}
}

func TestParseParams(t *testing.T) {
	def := DefaultParams()
	tests := []struct {
		name string
		in   string
		want func(*Params)
	}{
		{"empty", ``, func(*Params) {}},
		{"blank", " \n\t", func(*Params) {}},
		{"null", `null`, func(*Params) {}},
		{"empty object", `{}`, func(*Params) {}},
		{"scalars", `{"elasticity_multiplier": 4, "base_fee_max_change_denominator": 16, "min_base_fee": 100, "max_base_fee": 1000000}`,
			func(p *Params) {
				p.ElasticityMultiplier, p.BaseFeeMaxChangeDenominator, p.MinBaseFee, p.MaxBaseFee = 4, 16, 100, 1_000_000
			}},
		{"split replaced whole", `{"base_fee_split": {"burn": 10000}}`,
			func(p *Params) { p.BaseFeeSplit = Split{Burn: BasisPoints} }},
		{"tip split", `{"tip_split": {"sequencer": 8000, "prover": 2000}}`,
			func(p *Params) { p.TipSplit = Split{Sequencer: 8_000, Prover: 2_000} }},
		{"null split keeps default", `{"tip_split": null}`, func(*Params) {}},
		{"quote", `{"quote_tip_percentile": 90, "quote_min_tip": 0}`,
			func(p *Params) { p.QuoteTipPercentile, p.QuoteMinTip = 90, 0 }},
		{"max uint64", `{"max_base_fee": 18446744073709551615}`, func(p *Params) { p.MaxBaseFee = 1<<64 - 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseParams([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			want := def
			tc.want(&want)
			if got != want {
				t.Fatalf("ParseParams(%s) = %+v, want %+v", tc.in, got, want)
			}
		})
	}
}

func TestParseParamsErrors(t *testing.T) {
	tests := []struct{ name, in, mention string }{
		{"unknown field", `{"elasticity": 2}`, `unknown field "elasticity"`},
		{"unknown split field", `{"tip_split": {"validator": 10000}}`, `unknown field "validator"`},
		{"negative", `{"min_base_fee": -1}`, "min_base_fee"},
		{"fraction", `{"min_base_fee": 1.5}`, "min_base_fee"},
		{"too big", `{"min_base_fee": 18446744073709551616}`, "min_base_fee"},
		{"string", `{"min_base_fee": "1"}`, "min_base_fee"},
		{"not an object", `[1]`, "decoding JSON config"},
		{"trailing", `{} {}`, "trailing data"},
		{"truncated", `{"min_base_fee": 1`, "decoding JSON config"},
		{"invalid value", `{"elasticity_multiplier": 0}`, "elasticity_multiplier: must be at least 1, got 0"},
		{"split partial sum", `{"base_fee_split": {"burn": 5000, "prover": 4000}}`, "base_fee_split: burn 5000 + treasury 0 + sequencer 0 + prover 4000 = 9000 bps"},
		{"floor above ceiling", `{"min_base_fee": 10, "max_base_fee": 5}`, "min_base_fee: floor 10 is above the ceiling max_base_fee 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseParams([]byte(tc.in))
			if !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("ParseParams(%s) error = %v, want ErrInvalidParams", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("ParseParams(%s) error = %q, want it to mention %q", tc.in, err, tc.mention)
			}
		})
	}
}

func TestParamsJSONRoundTrip(t *testing.T) {
	p := DefaultParams()
	p.MaxBaseFee = 1 << 63
	p.TipSplit = Split{1, 2, 3, 9994}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseParams(data)
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Fatalf("round trip: %+v, want %+v", got, p)
	}
	want := `{"elasticity_multiplier":2,"base_fee_max_change_denominator":8,"min_base_fee":1,"max_base_fee":9223372036854775808,` +
		`"base_fee_split":{"burn":5000,"treasury":1000,"sequencer":0,"prover":4000},` +
		`"tip_split":{"burn":1,"treasury":2,"sequencer":3,"prover":9994},"quote_tip_percentile":60,"quote_min_tip":1}`
	if string(data) != want {
		t.Fatalf("JSON = %s\nwant   %s", data, want)
	}
}
