package lc

import (
	"bytes"

	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/leader"
)

// meta is what fork choice needs of a block.
type meta struct {
	Hash, Parent block.Hash
	Height, Slot uint64
	Output       leader.Output
}

// better reports whether chain tip c is preferred to the current tip cur:
// longer wins; at equal length, a tip within tieSlots slots of cur's wins
// when its VRF output is lower (so every node breaks a tie between two
// near-simultaneous leaders the same way, and a leader cannot pick the
// winner); otherwise the chain already held stays.
func better(c, cur meta, tieSlots uint32) bool {
	switch {
	case c.Hash == cur.Hash:
		return false
	case c.Height != cur.Height:
		return c.Height > cur.Height
	}
	d := c.Slot - cur.Slot
	if cur.Slot > c.Slot {
		d = cur.Slot - c.Slot
	}
	return d <= uint64(tieSlots) && bytes.Compare(c.Output[:], cur.Output[:]) < 0
}

// lookup finds a block's meta by hash; ok is false when unknown.
type lookup func(block.Hash) (meta, bool)

// forkDepth walks back from the tips a and b to their common ancestor and
// returns how many blocks of a lie above it (what switching from a to b
// reverts). It gives up (ok false) when a block is unknown or a would
// lose more than limit blocks.
func forkDepth(a, b meta, get lookup, limit uint64) (depth uint64, ok bool) {
	for a.Hash != b.Hash {
		var step *meta
		if a.Height >= b.Height {
			if depth == limit {
				return depth, false
			}
			step, depth = &a, depth+1
		} else {
			step = &b
		}
		if step.Height == 0 {
			return depth, false // two different genesis blocks
		}
		p, found := get(step.Parent)
		if !found {
			return depth, false
		}
		*step = p
	}
	return depth, true
}
