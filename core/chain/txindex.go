package chain

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// The transaction index (tx hash → block, position) has two tiers:
//
//   - the txs bucket holds the transactions of final blocks up to the
//     indexed height (keyIndexed), written in batches as blocks become final;
//   - canonical blocks above that height are indexed in memory (txIndex),
//     rebuilt from the stored blocks at Open.
//
// Why: the bucket is keyed by hash, so every insert lands on a random page
// and bbolt rewrites the whole page. Indexing each block at SetHead dirtied
// about one 4 KiB page per transaction — ~11 MB per 3,000-transfer block
// once the index held half a million entries, the largest write and a
// sixth of a loaded node's CPU, on the consensus path. Batching final
// blocks lets one page take many inserts, and a reorg never touches the
// bucket because only final blocks reach it.
const (
	// indexBatchBlocks and indexBatchTxs: a batch is written once this many
	// final blocks, or final transactions, wait in memory.
	indexBatchBlocks = 16
	indexBatchTxs    = 1 << 15
)

var keyIndexed = []byte("indexed") // in bucketPtrs: height u64 BE

// txIndex is the in-memory tier: canonical blocks above the indexed height.
type txIndex struct {
	mu      sync.RWMutex
	loc     map[tx.Hash]TxLocation
	heights map[uint64]indexedBlock
	indexed uint64 // every final block at or below it is in the bucket
}

type indexedBlock struct {
	hash block.Hash
	txs  []tx.Hash
}

func newTxIndex() *txIndex {
	return &txIndex{loc: map[tx.Hash]TxLocation{}, heights: map[uint64]indexedBlock{}}
}

// add indexes a block that became canonical.
func (ix *txIndex) add(b *block.Block) {
	bh := b.Hash()
	hs := make([]tx.Hash, len(b.Txs))
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if b.Header.Height <= ix.indexed {
		return // already in the bucket
	}
	for i, t := range b.Txs {
		hs[i] = t.Hash()
		ix.loc[hs[i]] = TxLocation{Block: bh, Index: i}
	}
	ix.heights[b.Header.Height] = indexedBlock{hash: bh, txs: hs}
}

// remove forgets a block that stopped being canonical.
func (ix *txIndex) remove(b *block.Block) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e, ok := ix.heights[b.Header.Height]
	if !ok || e.hash != b.Hash() {
		return
	}
	for _, h := range e.txs {
		delete(ix.loc, h)
	}
	delete(ix.heights, b.Header.Height)
}

func (ix *txIndex) lookup(h tx.Hash) (TxLocation, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	l, ok := ix.loc[h]
	return l, ok
}

// due reports whether the final blocks waiting in memory make a batch.
func (ix *txIndex) due(final uint64) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if final <= ix.indexed {
		return false
	}
	if final-ix.indexed >= indexBatchBlocks {
		return true
	}
	n := 0
	for h := ix.indexed + 1; h <= final; h++ {
		n += len(ix.heights[h].txs)
	}
	return n >= indexBatchTxs
}

// write puts the final blocks above the indexed height up to final into
// the bucket, in key order, and moves the pointer. The caller calls
// written(final) once the transaction commits.
func (ix *txIndex) write(t *store.Tx, final uint64) error {
	ix.mu.RLock()
	type entry struct {
		key tx.Hash
		val []byte
	}
	var es []entry
	for h := ix.indexed + 1; h <= final; h++ {
		e, ok := ix.heights[h]
		if !ok {
			ix.mu.RUnlock()
			return fmt.Errorf("%w: final block %d is not in the transaction index", ErrCorrupt, h)
		}
		for i, th := range e.txs {
			es = append(es, entry{th, binary.BigEndian.AppendUint32(append(make([]byte, 0, block.HashSize+4), e.hash[:]...), uint32(i))})
		}
	}
	ix.mu.RUnlock()
	slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.key[:], b.key[:]) })
	b := t.Bucket(store.BucketIndex)
	txs := b.Bucket(bucketTxs)
	for _, e := range es {
		if err := txs.Put(e.key[:], e.val); err != nil {
			return err
		}
	}
	return b.Bucket(bucketPtrs).Put(keyIndexed, u64(final))
}

// written drops from memory what write put in the bucket.
func (ix *txIndex) written(final uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for h := ix.indexed + 1; h <= final; h++ {
		for _, th := range ix.heights[h].txs {
			delete(ix.loc, th)
		}
		delete(ix.heights, h)
	}
	ix.indexed = final
}

// loadTxIndex reads the indexed height and indexes the canonical blocks
// above it, up to head, in memory. A data directory from before the two
// tiers has no pointer; its bucket holds every canonical block, so the
// final height is taken as indexed.
func (c *Chain) loadTxIndex(head, final *block.Block) error {
	ix := newTxIndex()
	ix.indexed = final.Header.Height
	err := c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketIndex).Bucket(bucketPtrs).Get(keyIndexed)
		switch {
		case v == nil:
		case len(v) != 8:
			return fmt.Errorf("%w: indexed-height pointer is %d bytes", ErrCorrupt, len(v))
		default:
			ix.indexed = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ix.indexed > final.Header.Height {
		return fmt.Errorf("%w: transactions indexed to height %d, above the final height %d", ErrCorrupt, ix.indexed, final.Header.Height)
	}
	for h := ix.indexed + 1; h <= head.Header.Height; h++ {
		b, err := c.BlockByHeight(h)
		if err != nil {
			return fmt.Errorf("transaction index: %w", err)
		}
		ix.add(b)
	}
	c.txs = ix
	return nil
}
