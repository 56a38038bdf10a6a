package metrics

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Type of a metric.
type Type int

// Metric types.
const (
	Counter Type = iota + 1
	Gauge
	Histogram
)

func (t Type) String() string {
	switch t {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Histogram:
		return "histogram"
	}
	return "untyped"
}

// Limits keep a misbehaving plugin from growing the registry without bound.
const (
	MaxFamilies       = 1024
	MaxSeriesPerName  = 1024
	MaxLabels         = 16
	MaxLabelValueSize = 256
)

// Errors returned by Record.
var (
	ErrInvalid  = errors.New("invalid metric")
	ErrConflict = errors.New("metric type conflict")
	ErrLimit    = errors.New("metric limit reached")
)

// DefaultBuckets are histogram upper bounds in seconds, 100 µs to 10 s.
var DefaultBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

var nameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

type series struct {
	labels  string // rendered {k="v",...}
	value   float64
	buckets []uint64 // histogram: per bucket (not cumulative)
	count   uint64
}

type family struct {
	typ    Type
	help   string
	series map[string]*series
}

// Registry holds metric families. It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

// New returns an empty registry.
func New() *Registry { return &Registry{families: map[string]*family{}} }

// Record adds v to a counter, sets a gauge, or observes v in a histogram.
func (r *Registry) Record(name string, typ Type, v float64, labels map[string]string, help string) error {
	if !nameRE.MatchString(name) || len(name) > 200 {
		return fmt.Errorf("%w: name %q", ErrInvalid, name)
	}
	if typ < Counter || typ > Histogram {
		return fmt.Errorf("%w: %s: unknown type", ErrInvalid, name)
	}
	if math.IsNaN(v) || (typ == Counter && v < 0) {
		return fmt.Errorf("%w: %s: value %v", ErrInvalid, name, v)
	}
	if len(labels) > MaxLabels {
		return fmt.Errorf("%w: %s: %d labels, limit %d", ErrInvalid, name, len(labels), MaxLabels)
	}
	keys := make([]string, 0, len(labels))
	for k, val := range labels {
		if !labelRE.MatchString(k) || strings.HasPrefix(k, "__") || len(val) > MaxLabelValueSize {
			return fmt.Errorf("%w: %s: label %q", ErrInvalid, name, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", k, strconv.Quote(labels[k]))
	}
	key := b.String()

	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.families[name]
	if f == nil {
		if len(r.families) >= MaxFamilies {
			return fmt.Errorf("%w: %d metric names", ErrLimit, MaxFamilies)
		}
		f = &family{typ: typ, help: help, series: map[string]*series{}}
		r.families[name] = f
	}
	if f.typ != typ {
		return fmt.Errorf("%w: %s is a %s, not a %s", ErrConflict, name, f.typ, typ)
	}
	s := f.series[key]
	if s == nil {
		if len(f.series) >= MaxSeriesPerName {
			return fmt.Errorf("%w: %s has %d series", ErrLimit, name, MaxSeriesPerName)
		}
		s = &series{labels: key}
		if typ == Histogram {
			s.buckets = make([]uint64, len(DefaultBuckets))
		}
		f.series[key] = s
	}
	switch typ {
	case Counter:
		s.value += v
	case Gauge:
		s.value = v
	case Histogram:
		s.value += v
		s.count++
		for i, ub := range DefaultBuckets {
			if v <= ub {
				s.buckets[i]++
				break
			}
		}
	}
	return nil
}

// WriteText writes every metric in the Prometheus text format, sorted.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.families))
	for n := range r.families {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		f := r.families[n]
		if f.help != "" {
			fmt.Fprintf(&b, "# HELP %s %s\n", n, strings.ReplaceAll(f.help, "\n", " "))
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", n, f.typ)
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := f.series[k]
			if f.typ != Histogram {
				fmt.Fprintf(&b, "%s%s %s\n", n, braces(s.labels), fmtFloat(s.value))
				continue
			}
			var cum uint64
			for i, ub := range DefaultBuckets {
				cum += s.buckets[i]
				fmt.Fprintf(&b, "%s_bucket%s %d\n", n, braces(join(s.labels, `le="`+fmtFloat(ub)+`"`)), cum)
			}
			fmt.Fprintf(&b, "%s_bucket%s %d\n", n, braces(join(s.labels, `le="+Inf"`)), s.count)
			fmt.Fprintf(&b, "%s_sum%s %s\n", n, braces(s.labels), fmtFloat(s.value))
			fmt.Fprintf(&b, "%s_count%s %d\n", n, braces(s.labels), s.count)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Handler serves the registry at /metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = r.WriteText(w)
	})
}

func braces(s string) string {
	if s == "" {
		return ""
	}
	return "{" + s + "}"
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
