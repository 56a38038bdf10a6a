// Package provercpu is the CPU prover plugin (binary trellis-prover-cpu):
// it proves block statements (batch/v1, core/batch) with core/stark's
// pure-Go backend on all cores, or on the number of workers configured.
//
// The plugin is a thin shell around batch.Prove, because what matters about
// a prover is decided elsewhere: the statement by core/batch, the proof
// system by core/stark, and acceptance by the host, which verifies every
// proof itself. What the plugin adds is what an operator and a scheduler
// need from a separate process: a job refused with a precise reason
// (unknown statement or parameters, bytes that do not decode) instead of a
// crash, progress streamed a few times a second, a proof checked with
// batch.Verify before it leaves (a prover must not hand out garbage), a
// throughput figure measured on the machine it runs on rather than
// declared, and a bounded queue: core/stark cannot stop a proof midway, so
// a cancelled job keeps its core until it finishes in the background, and
// jobs beyond one running and MaxQueued waiting are refused at once.
//
// docs/prover.md is the operator's and plugin author's guide.
package provercpu
