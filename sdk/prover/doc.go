// Package prover is the job handling every prover plugin shares
// (trellis.prover.v1): a job refused with a precise reason (unknown
// statement or parameters, bytes that do not decode) instead of a crash,
// progress streamed a few times a second, a proof checked with
// batch.Verify before it leaves, a throughput figure measured on the
// machine it runs on rather than declared, and a bounded queue: a STARK
// proof cannot stop midway, so a cancelled job keeps its slot until it
// finishes in the background, and jobs beyond one running and MaxQueued
// waiting are refused at once.
//
// A plugin supplies a Backend: its name and the stark.Backend that runs
// the heavy kernels (plugins/prover-cpu: the pure-Go one). Every backend
// must give byte-identical proofs for the same job, so the host and the
// market never need to know which one proved.
//
// docs/prover.md is the operator's and plugin author's guide.
package prover
