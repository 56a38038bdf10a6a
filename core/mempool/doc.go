// Package mempool holds the transactions a node has accepted but not yet
// seen executed, and hands block builders the ones that can run next.
//
// Why it is shaped this way:
//
//   - Ordering per sender. A transaction can only execute at its sender's
//     next nonce, so the pool keeps each sender's transactions as a sorted
//     nonce list and rejects a nonce gap at admission (next expected = state
//     nonce + contiguous pending count). A pool that parked future nonces
//     would let anyone fill it with transactions that may never run.
//   - Replacement. A sender may replace a pending nonce with a transaction
//     that raises both the max fee and the max priority fee (tip) by at least
//     Config.PriceBump percent (and strictly), so a stuck transaction can be
//     unstuck while nobody can churn the pool for free.
//   - Limits and eviction. The pool is bounded by count, encoded bytes and a
//     per-sender count. When full, a newcomer that pays a higher tip evicts
//     the lowest-paying evictable transaction. Only a sender's highest nonce
//     is evictable, so eviction never opens a gap; an index of every sender's
//     last transaction, ordered by tip, finds the victim in O(log n).
//   - Affordability. Every sender's pending transactions together must cost
//     (tx.MaxCost: amount plus gas limit × max fee) no more than its balance
//     in the pool's state view, so whatever Select returns can be paid for.
//     Update re-establishes this after each new head.
//   - Cost of checks. Signature verification (23 µs alone, 13 µs in a
//     batch) dominates admission;
//     AddBatch verifies on all cores (tx.CheckAll) before taking the pool's
//     lock, hashes in parallel too, and skips verifying what it already holds.
//
// Admission, in this order (each rejection names the numbers involved):
//
//  1. ErrKnown: the pool holds a transaction with the same hash (checked
//     first, so a re-broadcast costs no signature check).
//  2. stateless: tx.CheckStateless (chain id, gas, fees, amount, overflow,
//     signature) and the encoded size; the tx sentinels pass through.
//  3. ErrNonceTooLow: nonce below the sender's state nonce.
//  4. Same nonce as a pending transaction: a replacement. It must raise the
//     max fee and the tip each by PriceBump percent, rounded up, and by at
//     least 1, else ErrUnderpriced. It replaces in place.
//  5. Otherwise the nonce must be the next expected one (state nonce plus
//     contiguous pending count), else ErrNonceGap; and the sender must have
//     fewer than MaxPerSender pending, else ErrSenderLimit.
//  6. ErrInsufficientFunds: the balance is below the summed tx.MaxCost of
//     the sender's pending transactions with this one included. For the
//     usual new nonce, appended last, those are the pending ones up to and
//     including it; a replacement (or a nonce restored below later ones
//     after a reorg) also counts the later nonces, so admission never makes
//     a pending transaction unaffordable.
//  7. Capacity: if MaxTxs or MaxBytes would be exceeded, the lowest-tip last
//     transaction of another sender is evicted while the newcomer's tip
//     (MaxPriorityFeePerGas) is strictly higher; among equal tips the latest
//     arrival goes first. If the newcomer does not pay more, the error wraps
//     ErrUnderpriced and ErrPoolFull and nothing is evicted; if nothing can
//     be evicted (only the newcomer's own sender is pooled, or the
//     transaction alone exceeds MaxBytes), ErrPoolFull.
//
// Every rejection wraps one of this package's sentinels (or a tx sentinel
// for stateless failures) and says the concrete numbers. Subscribers see
// added, replaced, evicted and dropped transactions; a subscriber that falls
// behind loses events rather than stalling the pool (see Subscribe).
//
// Reorgs: call Update with the new head's state, then Reinject the
// transactions of the abandoned blocks; those the new branch already
// executed fall out as nonce too low.
//
// Beside the pool, its reactor (reactor.go) gossips transactions between
// nodes: user transactions are batched into gossip messages (txbatch.go,
// fuzzed), peers' batches are admitted with the peer scored on what no
// honest node would relay, and transactions that arrive ahead of an earlier
// nonce of their sender wait briefly in a bounded gap buffer (gaps.go)
// instead of being dropped. HeadState and ChainPool (chainview.go) are the
// pool's views of the state DB and the chain's view of the pool.
package mempool
