package hostsvc

import (
	"context"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/core/metrics"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// MaxMetricsPerCall bounds one Record call.
const MaxMetricsPerCall = 1000

// Metrics records a plugin's metrics into the node's registry, prefixed
// trellis_plugin_ and labelled with the plugin.
type Metrics struct {
	hostv1.UnimplementedMetricsServer
	reg    *metrics.Registry
	plugin string
}

// NewMetrics records into reg for plugin (kind.name).
func NewMetrics(reg *metrics.Registry, plugin string) *Metrics {
	return &Metrics{reg: reg, plugin: plugin}
}

func (m *Metrics) Record(_ context.Context, req *hostv1.RecordRequest) (*hostv1.RecordResponse, error) {
	if len(req.GetMetrics()) > MaxMetricsPerCall {
		return nil, toStatus(fmt.Errorf("%w: %d metrics in one call, limit %d", errTooLarge, len(req.GetMetrics()), MaxMetricsPerCall))
	}
	var errs []error
	for _, mt := range req.GetMetrics() {
		labels := make(map[string]string, len(mt.GetLabels())+1)
		for k, v := range mt.GetLabels() {
			labels[k] = v
		}
		if _, ok := labels["plugin"]; ok {
			errs = append(errs, fmt.Errorf("%w: %s: label \"plugin\" is the host's", metrics.ErrInvalid, mt.GetName()))
			continue
		}
		labels["plugin"] = m.plugin
		if err := m.reg.Record("trellis_plugin_"+mt.GetName(), metrics.Type(mt.GetType()), mt.GetValue(), labels, mt.GetHelp()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.RecordResponse{}, nil
}
