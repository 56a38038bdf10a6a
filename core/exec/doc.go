// Package exec is the deterministic state machine: it applies a block's
// transactions to a state.Delta and settles their fees.
//
// A block executes in three steps. (1) Begin: unbonding entries released at
// this height return to their owners' balances; the prover market slashes
// and reassigns jobs whose deadline passed and opens the proof job for the
// parent block (Env.ParentStatement), funded from the unallocated escrow
// (market.go, docs/market.md). (2) Each transaction, in
// order: its nonce must equal the account's, its fee cap must reach the base
// fee and the sender must hold amount + gas limit × max fee; the maximum fee
// is reserved, the nonce advances, and the body runs. A body that fails (an
// unbond above the bond, a delegation to a non-validator) leaves a failed
// receipt and no other effect; a transaction failing the checks before it
// cannot be in a block at all. (3) The fee plugin prices the whole block in
// one call; each sender gets back its reservation minus its fee, and the
// split goes to burn (lowering supply), the treasury, the proposer and the
// prover escrow. Gas is intrinsic per type, so it is known before pricing.
//
// A proof transaction is checked before admission: its job must be open,
// the sender a registered prover (the assignee, if the job is assigned) and
// the proof must verify (batch.Verify); otherwise it cannot be in a block,
// so blocks never carry useless proofs.
//
// Refunds land after every transaction ran, so a sender cannot spend a
// refund within the same block: this keeps step 3 a single batched call.
package exec
