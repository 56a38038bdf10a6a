package node

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/core/chain"
)

// stallAfter is the least time without a new head before the node warns
// that its chain has stopped; the warning waits longer on a chain whose
// blocks come further apart (stallIntervals × the last interval).
const (
	stallAfter     = time.Minute
	stallIntervals = 6
)

// logBlocks logs the chain's blocks until ctx ends (watchBlocks).
func (n *Node) logBlocks(ctx context.Context) {
	if n.chain == nil {
		return
	}
	ev, stop := n.chain.Subscribe()
	defer stop()
	watchBlocks(ctx, ev, n.log, stallAfter, 15*time.Second)
}

// watchBlocks writes one info line per new head and per final block, so an
// operator sees from the log alone that the node is alive and keeping up:
// height, hash prefix, transactions and the time since the previous block
// (header timestamps); a head change that reverted blocks says how many.
// When no head comes for max(stall, stallIntervals × the last interval),
// checked every check, it warns once, and says when blocks resume.
func watchBlocks(ctx context.Context, ev <-chan chain.Event, log hclog.Logger, stall, check time.Duration) {
	var lastHeadMs int64
	var lastHeight uint64
	var interval time.Duration
	lastHead, stalled := time.Now(), false
	tick := time.NewTicker(check)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			wait := max(stall, stallIntervals*interval)
			if since := time.Since(lastHead); !stalled && since > wait {
				stalled = true
				log.Warn("no new block", "since", since.Round(time.Second).String(), "head", lastHeight)
			}
		case e, ok := <-ev:
			if !ok {
				return
			}
			b := e.Block
			if b == nil {
				continue
			}
			h := b.Header
			hash := b.Hash().String()
			if len(hash) > 10 {
				hash = hash[:10]
			}
			switch e.Kind {
			case chain.EventHead:
				args := []any{"height", h.Height, "hash", hash, "txs", len(b.Txs)}
				if lastHeadMs > 0 && h.TimestampMs > lastHeadMs {
					interval = time.Duration(h.TimestampMs-lastHeadMs) * time.Millisecond
					args = append(args, "interval", interval.String())
				}
				if len(e.Reverted) > 0 {
					args = append(args, "reverted", len(e.Reverted))
				}
				if stalled {
					log.Info("blocks resumed", "after", time.Since(lastHead).Round(time.Second).String())
					stalled = false
				}
				lastHeadMs, lastHead, lastHeight = h.TimestampMs, time.Now(), h.Height
				log.Info("new head", args...)
			case chain.EventFinal:
				log.Info("final", "height", h.Height, "hash", hash, "txs", len(b.Txs))
			}
		}
	}
}
