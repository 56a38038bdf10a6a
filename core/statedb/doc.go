// Package statedb keeps the ledger state in the node's bbolt file: the
// account records, the address index and the unbonding queue, with the head
// tree (protocol/state) rebuilt from them at start and checked against the
// head header. Delta is the state machine's working set over a Reader (the
// DB or another Delta); its Changeset is what a block stores and what the
// tree and the proof take.
package statedb
