package rpc

import (
	"context"
	"errors"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Backend is what the server needs from a node. The node implements it; the
// server never sees the chain, the state or the mempool directly.
type Backend interface {
	ChainID() string
	// SubmitTx decodes, checks and admits a raw transaction into the mempool.
	// The error wraps the sentinel of protocol/tx (ErrMalformed, ErrSignature,
	// ErrChainID, ...) or of core/mempool (nonce too low or gap, insufficient
	// funds, underpriced, pool full) and says why in its text.
	SubmitTx(ctx context.Context, raw []byte) (tx.Hash, error)
	// Tx returns a transaction with its status; ErrNotFound if unknown.
	Tx(ctx context.Context, h tx.Hash) (*TxResult, error)
	// Account returns an account at the head. An unknown address gives
	// Exists=false and zero values, not an error.
	Account(ctx context.Context, addr account.Address) (*AccountResult, error)
	// Block returns a block of the canonical chain (by height or tag) or of
	// the block tree (by hash); ErrNotFound if there is none.
	Block(ctx context.Context, ref BlockRef) (*BlockResult, error)
	// FeeQuote suggests fees for inclusion within withinBlocks blocks (>= 1).
	FeeQuote(ctx context.Context, withinBlocks uint32) (*FeeQuote, error)
	// Subscribe delivers chain events until ctx ends; the channel is closed
	// then. A slow reader may miss events: the backend drops rather than
	// blocks, and counts what it dropped in the next event's Missed.
	Subscribe(ctx context.Context) (<-chan Event, error)
}

// ErrNotFound is returned by a Backend for an unknown transaction or block.
var ErrNotFound = errors.New("not found")

// Block tags for BlockRef.Tag.
const (
	TagHead      = "head"
	TagFinalized = "finalized"
)

// BlockRef names a block: exactly one of Height, Hash or Tag is set.
type BlockRef struct {
	Height *uint64
	Hash   *block.Hash
	Tag    string // TagHead or TagFinalized
}

// Finality says how settled a block is.
type Finality string

// Finality levels, weakest first.
const (
	// FinalityPending: the block is known but not (or no longer) on the
	// canonical chain, e.g. a side branch of a longest-chain fork.
	FinalityPending Finality = "pending"
	// FinalityCanonical: on the canonical chain, may still be reorganised.
	FinalityCanonical Finality = "canonical"
	// FinalityFinal: final by consensus (a BFT commit).
	FinalityFinal Finality = "final"
	// FinalityKDeep: on a longest-chain network, k blocks under the head:
	// this node never reverts it (maxvalid), with the probability of an
	// honest majority's chain being overtaken that docs/consensus-lc.md
	// gives; the level that network calls final.
	FinalityKDeep Finality = "k-deep"
	// FinalityProven: final and its validity proof is on chain.
	FinalityProven Finality = "proven"
)

// TxStatus is where a transaction stands.
type TxStatus string

// Transaction statuses.
const (
	TxPending  TxStatus = "pending"  // in the mempool
	TxIncluded TxStatus = "included" // in a canonical block that is not final yet
	TxFinal    TxStatus = "final"    // in a final block
	TxKDeep    TxStatus = "k-deep"   // in a k-deep block (longest chain)
	TxProven   TxStatus = "proven"   // in a proven block
	TxDropped  TxStatus = "dropped"  // evicted or replaced; never included
)

// TxResult is a transaction with where it stands. BlockHash, Height, Index
// and Receipt are set once it is in a block.
type TxResult struct {
	Tx        *tx.Tx
	Status    TxStatus
	BlockHash *block.Hash
	Height    uint64
	Index     int
	Receipt   *block.Receipt
}

// AccountResult is an account at the head (Height).
type AccountResult struct {
	Address account.Address
	Exists  bool
	Index   uint32
	Account account.Account
	// PendingNonce is the nonce the sender's next transaction should carry,
	// counting its transactions waiting in the mempool.
	PendingNonce uint64
	Height       uint64
	// DelegationValues is what each of Account.Delegations is worth in
	// tokens at Height.
	DelegationValues []uint64
}

// BlockResult is a block with its hash, finality and receipts (in
// transaction order; nil if the backend did not load them).
type BlockResult struct {
	Block    *block.Block
	Hash     block.Hash
	Finality Finality
	Receipts []*block.Receipt
}

// FeeQuote suggests fees per gas for a transaction.
// It is also the JSON result of trellis_feeQuote.
type FeeQuote struct {
	BaseFee              uint64 `json:"baseFee,string"`
	MaxFeePerGas         uint64 `json:"maxFeePerGas,string"`
	MaxPriorityFeePerGas uint64 `json:"maxPriorityFeePerGas,string"`
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	EventNewHead   EventKind = iota + 1 // a new canonical head (Block set)
	EventFinalized                      // a block became final (Block set)
	EventTxStatus                       // a transaction changed status (Tx set)
)

func (k EventKind) String() string {
	switch k {
	case EventNewHead:
		return "newHead"
	case EventFinalized:
		return "finalized"
	case EventTxStatus:
		return "txStatus"
	}
	return "unknown"
}

// Event is a chain event from Backend.Subscribe.
type Event struct {
	Kind  EventKind
	Block *BlockResult
	Tx    *TxEvent
	// Reverted lists, for a new head that is a reorg, the blocks rolled
	// back (newest first).
	Reverted []block.Hash
	// Missed counts events the backend dropped for this subscriber, because
	// it read too slowly, since the event before this one.
	Missed uint64
}

// TxEvent is a transaction's new status.
type TxEvent struct {
	Hash      tx.Hash
	Status    TxStatus
	Height    uint64
	BlockHash *block.Hash
	Reason    string // why it was dropped, or why its execution failed
}
