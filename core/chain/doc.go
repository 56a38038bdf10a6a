// Package chain is the block tree and the canonical chain the consensus
// plugins drive through the Chain host service: it builds blocks from the
// mempool, validates and commits blocks into the tree, moves the head with
// exact state rollback, and marks blocks final.
//
// Storage (bbolt, one Update per step, so a crash loses nothing that was
// reported committed): block bodies by hash in store.BucketBlocks, headers
// by hash in store.BucketHeaders, receipts by block hash in
// store.BucketReceipts, and in store.BucketIndex the height index of the
// canonical chain, the transaction index, each committed block's state
// changeset and finality certificate, and the head and final pointers.
//
// Concurrency: Build, Validate, Commit, SetHead and Finalize are serialised
// by one mutex; reads (Head, Block, Tx, Account) run concurrently.
package chain
