package mempool

import "errors"

// Sentinel errors. Every rejection wraps exactly one of these (pool full
// and underpriced wraps both ErrUnderpriced and ErrPoolFull), or a
// stateless tx sentinel (tx.ErrSignature, tx.ErrChainID, ...), with the
// concrete numbers in the text.
var (
	// ErrKnown: the pool already holds a transaction with this hash.
	ErrKnown = errors.New("already known")
	// ErrNonceTooLow: the nonce is below the sender's state nonce, i.e. a
	// replay of an executed nonce.
	ErrNonceTooLow = errors.New("nonce too low")
	// ErrNonceGap: the nonce is above the sender's next expected nonce.
	ErrNonceGap = errors.New("nonce gap")
	// ErrInsufficientFunds: the sender's balance is below the summed max
	// cost of its pending transactions with this one included.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrUnderpriced: a replacement did not raise both fees by the price
	// bump, or the pool is full and this transaction's tip is not above the
	// cheapest evictable one.
	ErrUnderpriced = errors.New("underpriced")
	// ErrSenderLimit: the sender already has Config.MaxPerSender pending.
	ErrSenderLimit = errors.New("sender limit reached")
	// ErrPoolFull: the pool is at its count or byte limit and nothing can
	// be evicted for this transaction.
	ErrPoolFull = errors.New("pool full")
	// ErrProofRefused: a proof transaction that could not settle a job at
	// the head (Config.ProofCheck says why).
	ErrProofRefused = errors.New("proof refused")
)
