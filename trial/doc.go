// Package trial runs a matrix of testnets of real processes — consensus
// plugins × validator counts × repetitions, under one load — and writes the
// figures side by side (results.json, results.csv, report.md). It is the
// start of issue 16's instrument: faults, link latency, HTML plots and the
// simulator are not built yet (docs/trials.md).
package trial
