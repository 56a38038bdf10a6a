// Package evidence is the node's evidence path: double-sign evidence that a
// consensus plugin reports (Chain.ReportEvidence) is verified against the
// offender's registered BLS key in the head state, then turned into a
// slashing transaction signed by the node's account, queued in the mempool
// and gossiped. A validator already slashed, or one whose slashing
// transaction from this node is pending or on the chain, costs nothing more.
package evidence
