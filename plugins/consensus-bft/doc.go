// Package bft is the Tendermint-style BFT consensus plugin: validators
// weighted by stake agree on each block in rounds of propose, prevote and
// precommit, and a block is final as soon as validators holding more than
// two thirds of the stake precommit it. Their BLS signatures on the
// precommit aggregate into one commit certificate, which the next block
// carries in its consensus data and which Finalize keeps with the block, so
// a node that syncs checks finality with one aggregate verification.
//
// The plugin drives the host through the Chain, Network, Signer and Store
// host services; the host never sees votes. It keeps a write-ahead log in
// its Store so that a restarted process resumes its round with its lock and
// never signs two messages for one height, round and step (the host's
// Signer refuses that as well). docs/consensus-bft.md describes the message
// and certificate formats, proposer selection, timeouts and evidence flow.
package bft
