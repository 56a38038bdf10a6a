package testnet

// Pure helpers of `testnet load`: Prometheus text parsing and latency
// percentiles.

import (
	"bufio"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PromSample is one sample of the Prometheus text format.
type PromSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseProm parses the Prometheus text exposition format. Comments and
// blank lines are skipped; a line that does not parse is an error naming
// its line number.
func ParseProm(text string) ([]PromSample, error) {
	var out []PromSample
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		s, err := parsePromLine(l)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parsePromLine(l string) (PromSample, error) {
	s := PromSample{Labels: map[string]string{}}
	i := strings.IndexAny(l, "{ \t")
	if i <= 0 {
		return s, fmt.Errorf("%.80q: no value", l)
	}
	s.Name = l[:i]
	rest := l[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " \t,")
			if rest == "" {
				return s, fmt.Errorf("%.80q: unterminated labels", l)
			}
			if rest[0] == '}' {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq <= 0 || eq+1 >= len(rest) || rest[eq+1] != '"' {
				return s, fmt.Errorf("%.80q: bad label", l)
			}
			name := strings.TrimSpace(rest[:eq])
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				c := rest[j]
				if c == '\\' && j+1 < len(rest) {
					j++
					switch rest[j] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[j])
					}
					continue
				}
				if c == '"' {
					rest, closed = rest[j+1:], true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("%.80q: unterminated label value", l)
			}
			s.Labels[name] = val.String()
		}
	}
	f := strings.Fields(rest)
	if len(f) < 1 || len(f) > 2 {
		return s, fmt.Errorf("%.80q: want a value and an optional timestamp", l)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, fmt.Errorf("%.80q: value: %v", l, err)
	}
	s.Value = v
	return s, nil
}

// SumSamples adds the samples named name whose labels keep says yes to
// (nil keeps all).
func SumSamples(samples []PromSample, name string, keep func(map[string]string) bool) float64 {
	var t float64
	for _, s := range samples {
		if s.Name == name && (keep == nil || keep(s.Labels)) {
			t += s.Value
		}
	}
	return t
}

// consensusTopic keeps samples whose topic label names consensus.
func consensusTopic(l map[string]string) bool { return strings.Contains(l["topic"], "consensus") }

// Names of the p2p counters load reads.
const (
	metricSentMessages = "trellis_p2p_sent_messages_total"
	metricSentBytes    = "trellis_p2p_sent_bytes_total"
	metricRecvMessages = "trellis_p2p_received_messages_total"
	metricRecvBytes    = "trellis_p2p_received_bytes_total"
)

// latencyStats summarises latencies.
type latencyStats struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P95   time.Duration `json:"p95_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
	Mean  time.Duration `json:"mean_ns"`
}

// percentile is the nearest-rank percentile p (0 < p <= 100) of sorted
// values: the smallest value with at least p% of values at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func summarize(lat []time.Duration) latencyStats {
	if len(lat) == 0 {
		return latencyStats{}
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return latencyStats{Count: len(s), P50: percentile(s, 50), P95: percentile(s, 95), P99: percentile(s, 99), Max: s[len(s)-1], Mean: sum / time.Duration(len(s))}
}

// topReason returns the most frequent reason (ties by name) and its count.
func topReason(m map[string]int) (string, int) {
	var best string
	n := 0
	for k, v := range m {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best, n
}
