// Package batch is the block statement batch/v1: a STARK (protocol/stark) that the
// ordered state-tree leaf updates committed to by a batch hash take the state
// root from R0 to R1, with the ledger's own tree (protocol/state) and hash
// (protocol/hash), so a proof is about the real chain's roots. Besides the root
// chain the AIR checks what makes a block valid from its leaves alone: limbs
// stay 16-bit, account kinds and addresses do not change, nonces only move
// forward, and the value in all changed accounts moves with the supply, which
// moves against the burned counter.
//
// The host computes the public inputs from a committed block (Build, or
// HashChanges for the batch hash alone) and checks a prover's proof with
// Verify; provers turn the changeset into a witness with Build and prove it
// with Prove. docs/stark.md ("The block statement") states exactly what is
// and is not proven.
package batch
