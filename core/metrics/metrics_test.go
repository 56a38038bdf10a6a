package metrics

import (
	"errors"
	"strings"
	"testing"
)

func TestRecordAndText(t *testing.T) {
	r := New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Record("blocks_total", Counter, 2, map[string]string{"plugin": "fee.eip1559"}, "Blocks priced."))
	must(r.Record("blocks_total", Counter, 3, map[string]string{"plugin": "fee.eip1559"}, ""))
	must(r.Record("height", Gauge, 7, nil, ""))
	must(r.Record("height", Gauge, 9, nil, ""))
	must(r.Record("latency_seconds", Histogram, 0.003, nil, ""))
	must(r.Record("latency_seconds", Histogram, 20, nil, ""))
	var b strings.Builder
	must(r.WriteText(&b))
	want := []string{
		"# HELP blocks_total Blocks priced.",
		"# TYPE blocks_total counter",
		`blocks_total{plugin="fee.eip1559"} 5`,
		"height 9",
		`latency_seconds_bucket{le="0.0025"} 0`,
		`latency_seconds_bucket{le="0.005"} 1`,
		`latency_seconds_bucket{le="10"} 1`,
		`latency_seconds_bucket{le="+Inf"} 2`,
		"latency_seconds_sum 20.003",
		"latency_seconds_count 2",
	}
	for _, w := range want {
		if !strings.Contains(b.String(), w+"\n") {
			t.Errorf("missing line %q in\n%s", w, b.String())
		}
	}
}

func TestRecordRejects(t *testing.T) {
	r := New()
	if err := r.Record("x", Gauge, 1, nil, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		typ    Type
		v      float64
		labels map[string]string
		want   error
	}{
		{"bad name", Counter, 1, nil, ErrInvalid},
		{"ok", 9, 1, nil, ErrInvalid},
		{"neg", Counter, -1, nil, ErrInvalid},
		{"lbl", Counter, 1, map[string]string{"__x": "y"}, ErrInvalid},
		{"lbl", Counter, 1, map[string]string{"a-b": "y"}, ErrInvalid},
		{"x", Counter, 1, nil, ErrConflict},
	} {
		if err := r.Record(tc.name, tc.typ, tc.v, tc.labels, ""); !errors.Is(err, tc.want) {
			t.Errorf("Record(%q, %v, %v, %v) = %v, want %v", tc.name, tc.typ, tc.v, tc.labels, err, tc.want)
		}
	}
}

func TestSeriesLimit(t *testing.T) {
	r := New()
	var err error
	for i := 0; i <= MaxSeriesPerName && err == nil; i++ {
		err = r.Record("s", Counter, 1, map[string]string{"i": strings.Repeat("x", i%200) + string(rune('a'+i%26)) + string(rune('a'+i/26%26))}, "")
	}
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("want ErrLimit after %d series, got %v", MaxSeriesPerName, err)
	}
}
