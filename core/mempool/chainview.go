package mempool

import (
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// HeadState is the pool's view of the head (State): nonces and balances
// from the node's state DB.
type HeadState struct{ DB *statedb.DB }

// Account implements State.
func (h HeadState) Account(addr account.Address) (nonce, balance uint64) {
	_, a, err := statedb.AccountAt(h.DB, addr)
	if err != nil {
		return 0, 0
	}
	return a.Nonce, a.Balance
}

// ChainPool is the pool as the chain calls it (chain.Pool): blocks take
// transactions from it, and a new head re-reads the state.
type ChainPool struct {
	Pool *Mempool
	DB   *statedb.DB
}

// Select returns executable transactions for a block.
func (p ChainPool) Select(baseFee, maxGas uint64, maxTxs int) []*tx.Tx {
	return p.Pool.Select(baseFee, maxGas, maxTxs)
}

// Remove drops included transactions.
func (p ChainPool) Remove(h []tx.Hash) { p.Pool.Remove(h) }

// Reinject returns the transactions of abandoned blocks.
func (p ChainPool) Reinject(txs []*tx.Tx) { p.Pool.Reinject(txs) }

// HeadChanged re-reads nonces and balances at the new head.
func (p ChainPool) HeadChanged() { p.Pool.Update(HeadState{p.DB}) }

// Has reports whether the pool holds h: chain validation then skips its
// signature check, done at admission.
func (p ChainPool) Has(h tx.Hash) bool { _, ok := p.Pool.Get(h); return ok }
