// Package metrics is the node's metrics registry: counters, gauges and
// histograms with labels, written in the Prometheus text format. Host code
// and plugins (through the Metrics host service) record into one registry.
// It is small on purpose: no client library, no global state.
package metrics
