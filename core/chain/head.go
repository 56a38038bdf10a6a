package chain

import (
	"context"
	"fmt"
	"time"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Commit validates a block (unless this node already did) and adds it to
// the block tree with its receipts and changeset. It does not move the
// head. Committing a block twice is not an error.
func (c *Chain) Commit(ctx context.Context, encoded []byte) (*block.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.validate(ctx, encoded)
	if err != nil {
		return nil, err
	}
	h := e.blk.Hash()
	if _, err := c.Header(h); err == nil {
		return e.blk, nil
	}
	if err := c.db.Update(func(t *store.Tx) error { return putBlock(t, e.blk, e.receipts, e.cs, e.stmt) }); err != nil {
		return nil, err
	}
	c.recent.add(e.blk)
	c.subs.publish(Event{Kind: EventCommitted, Block: e.blk})
	return e.blk, nil
}

// SetHead makes a committed block the canonical head, reverting and
// applying changesets so the head state is exactly the block's. It returns
// the hashes reverted, newest first. It refuses to revert a final block.
func (c *Chain) SetHead(ctx context.Context, h block.Hash) (reverted []block.Hash, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	target, err := c.blockByHash(h)
	if err != nil {
		return nil, err
	}
	head, _ := c.Head()
	if h == head.Hash() {
		return nil, nil
	}
	revert, apply, err := c.route(&head.Header, &target.Header, false)
	if err != nil {
		return nil, err
	}
	css, err := c.changesets(revert, apply)
	if err != nil {
		return nil, err
	}
	var ov *state.Overlay
	if e := c.cache.get(h); e != nil && e.headAt == head.Hash() && e.gen == c.st.Generation() {
		ov = e.ov // already holds exactly this route's leaf updates
	}
	// Blocks along the route, for the indexes and the mempool.
	var revBlocks, appBlocks []*block.Block
	for _, hd := range revert {
		b, err := c.blockByHash(hd.Hash())
		if err != nil {
			return nil, err
		}
		revBlocks = append(revBlocks, b)
	}
	for _, hd := range apply {
		b, err := c.blockByHash(hd.Hash())
		if err != nil {
			return nil, err
		}
		appBlocks = append(appBlocks, b)
	}
	err = c.st.Commit(func(t *store.Tx) error {
		ix := t.Bucket(store.BucketIndex)
		heights := ix.Bucket(bucketHeight)
		for _, b := range revBlocks {
			if err := heights.Delete(u64(b.Header.Height)); err != nil {
				return err
			}
		}
		for _, b := range appBlocks {
			bh := b.Hash()
			if err := heights.Put(u64(b.Header.Height), bh[:]); err != nil {
				return err
			}
		}
		return ix.Bucket(bucketPtrs).Put(keyHead, h[:])
	}, ov, css...)
	if err != nil {
		return nil, err
	}
	for _, b := range revBlocks {
		c.txs.remove(b)
	}
	for _, b := range appBlocks {
		c.txs.add(b)
	}
	if root := c.st.Root(); root != target.Header.StateRoot {
		// Cannot happen unless stored changesets are damaged; the tree is
		// rebuilt from the records at the next start.
		return nil, fmt.Errorf("%w: head %s has state root %s but the state gives %s", ErrCorrupt, h, target.Header.StateRoot, root)
	}
	c.rmu.Lock()
	c.head = target
	c.rmu.Unlock()
	for _, b := range revBlocks {
		reverted = append(reverted, b.Hash())
	}
	if p := c.cfg.Pool; p != nil {
		var back []*tx.Tx
		for i := len(revBlocks) - 1; i >= 0; i-- {
			back = append(back, revBlocks[i].Txs...)
		}
		p.HeadChanged()
		if len(back) > 0 {
			p.Reinject(back)
		}
	}
	c.subs.publish(Event{Kind: EventHead, Block: target, Reverted: reverted, Applied: appBlocks})
	if len(revBlocks) > 0 {
		c.log.Warn("reorg", "reverted", len(revBlocks), "applied", len(appBlocks), "height", target.Header.Height, "hash", shortHash(h))
	} else {
		c.blockLog(target)("head", "height", target.Header.Height, "hash", shortHash(h), "txs", len(target.Txs),
			"interval", time.Duration(target.Header.TimestampMs-head.Header.TimestampMs)*time.Millisecond)
	}
	return reverted, nil
}

// blockLog is how a block's head and final lines are logged: at info for
// live blocks, at debug for blocks more than a minute old (a sync catching
// up, which reports its progress itself).
func (c *Chain) blockLog(b *block.Block) func(msg string, args ...any) {
	if time.Since(time.UnixMilli(b.Header.TimestampMs)) > time.Minute {
		return c.log.Debug
	}
	return c.log.Info
}

// shortHash is a hash prefix for log lines, as explorers print it.
func shortHash(h block.Hash) string { return h.String()[:12] + "…" }

// Finalize marks a canonical block, and so its ancestors, final, keeping
// the certificate with it. Finalizing an already final block is a no-op.
func (c *Chain) Finalize(ctx context.Context, h block.Hash, cert []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	hd, err := c.Header(h)
	if err != nil {
		return err
	}
	ch, err := c.CanonicalHash(hd.Height)
	if err != nil || ch != h {
		return fmt.Errorf("%w: %s at height %d", ErrNotCanonical, h, hd.Height)
	}
	_, final := c.Head()
	if hd.Height <= final.Header.Height {
		return nil
	}
	b, err := c.blockByHash(h)
	if err != nil {
		return err
	}
	newly, err := c.proofCarriers(b, final.Header.Height)
	if err != nil {
		return err
	}
	index := c.txs.due(hd.Height)
	err = c.db.Update(func(t *store.Tx) error {
		if err := indexProofs(t, newly); err != nil {
			return err
		}
		if index {
			if err := c.txs.write(t, hd.Height); err != nil {
				return err
			}
		}
		ix := t.Bucket(store.BucketIndex)
		if len(cert) > 0 {
			if err := ix.Bucket(bucketCerts).Put(h[:], cert); err != nil {
				return err
			}
		}
		return ix.Bucket(bucketPtrs).Put(keyFinal, h[:])
	})
	if err != nil {
		return err
	}
	if index {
		c.txs.written(hd.Height)
	}
	c.rmu.Lock()
	c.final = b
	c.rmu.Unlock()
	c.subs.publish(Event{Kind: EventFinal, Block: b})
	c.blockLog(b)("final", "height", hd.Height, "hash", shortHash(h), "txs", len(b.Txs), "blocks", hd.Height-final.Header.Height)
	return nil
}
