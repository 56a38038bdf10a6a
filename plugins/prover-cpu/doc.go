// Package provercpu is the CPU prover plugin (binary trellis-prover-cpu):
// it proves block statements (batch/v1, protocol/batch) with
// protocol/stark's pure-Go backend on all cores, or on the number of
// workers configured. The job handling (admission, progress,
// self-verification, measured throughput) is sdk/prover's, shared with
// any other prover backend; this package only names the backend.
//
// docs/prover.md is the operator's and plugin author's guide.
package provercpu
