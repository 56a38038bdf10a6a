// Package testnet runs local testnets of real node processes: it generates
// the node directories (keys, genesis, node.hcl with pinned plugins), starts
// and stops the nodes as process groups, injects faults (kill, pause,
// partition through the nodes' admin RPC), reads their status, and loads
// them with signed transfers while measuring finality, latency and per-node
// cost. `trellis testnet` is its command line; the end-to-end tests, trials
// and the robustness suite use it as a library. docs/testnet.md is the
// guide. Linux only: process groups are tracked through /proc.
package testnet
