package bft

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// metricSink records metrics in the host off the consensus loop: a full
// queue drops a sample rather than delay a vote.
type metricSink struct {
	c  hostv1.MetricsClient
	ch chan *hostv1.Metric
}

var metricHelp = map[string]string{
	"bft_rounds_per_height": "Rounds a height took to decide.",
	"bft_timeouts_total":    "Round timeouts, by step.",
	"bft_decision_seconds":  "Time from the start of a height to its decision.",
	"bft_final_height":      "Last height this node decided.",
	"bft_proposals_total":   "Proposals this node signed.",
	"bft_resent_total":      "Own proposals and votes sent again because their height stayed undecided past the round's vote timeout.",
}

func newMetricSink(c hostv1.MetricsClient) *metricSink {
	return &metricSink{c: c, ch: make(chan *hostv1.Metric, 256)}
}

func (s *metricSink) start(wg *sync.WaitGroup, ctx context.Context) {
	if s.c == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var m *hostv1.Metric
			select {
			case m = <-s.ch:
			case <-ctx.Done():
				return
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := s.c.Record(cctx, &hostv1.RecordRequest{Metrics: []*hostv1.Metric{m}})
			cancel()
			if status.Code(err) == codes.Unimplemented {
				return // the host keeps no metrics
			}
		}
	}()
}

func (s *metricSink) put(m *hostv1.Metric) {
	if s.c == nil {
		return
	}
	m.Help = metricHelp[m.Name]
	select {
	case s.ch <- m:
	default:
	}
}

func (s *metricSink) observe(name string, v float64) {
	s.put(&hostv1.Metric{Name: name, Type: hostv1.Metric_TYPE_HISTOGRAM, Value: v})
}

func (s *metricSink) set(name string, v float64) {
	s.put(&hostv1.Metric{Name: name, Type: hostv1.Metric_TYPE_GAUGE, Value: v})
}

func (s *metricSink) count(name, stepName string) {
	s.put(&hostv1.Metric{Name: name, Type: hostv1.Metric_TYPE_COUNTER, Value: 1, Labels: map[string]string{"step": stepName}})
}

func (s *metricSink) add(name string, v float64) {
	s.put(&hostv1.Metric{Name: name, Type: hostv1.Metric_TYPE_COUNTER, Value: v})
}
