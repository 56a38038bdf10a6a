package chain

import (
	"sync"

	"github.com/trellis-chain/trellis/protocol/block"
)

// recentBlocks keeps the last committed blocks decoded: SetHead, Finalize
// and the RPC read the newest blocks many times, and decoding a block of
// thousands of transactions costs milliseconds each time. Blocks are
// immutable once committed, so readers share them.
type recentBlocks struct {
	mu    sync.Mutex
	byKey map[block.Hash]*block.Block
	order []block.Hash // ring, oldest at next
	next  int
}

const recentBlocksSize = 32

func newRecentBlocks() *recentBlocks {
	return &recentBlocks{byKey: make(map[block.Hash]*block.Block, recentBlocksSize), order: make([]block.Hash, 0, recentBlocksSize)}
}

func (r *recentBlocks) get(h block.Hash) *block.Block {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byKey[h]
}

func (r *recentBlocks) add(b *block.Block) {
	h := b.Hash()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byKey[h]; ok {
		return
	}
	if len(r.order) < recentBlocksSize {
		r.order = append(r.order, h)
	} else {
		delete(r.byKey, r.order[r.next])
		r.order[r.next] = h
		r.next = (r.next + 1) % recentBlocksSize
	}
	r.byKey[h] = b
}
