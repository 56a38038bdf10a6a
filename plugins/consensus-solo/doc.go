// Package solo is the single-sequencer consensus plugin: one node builds a
// block every interval through the host's Chain service, makes it the head
// and finalizes it at once. It has no votes and no fault tolerance; it is
// the consensus of a local development network and of the ledger's
// end-to-end tests, where the block production of a real network is not
// the thing under test. The BFT and longest-chain plugins replace it by
// editing one block of node.hcl.
package solo
