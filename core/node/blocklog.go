package node

import (
	"context"
	"time"

	"github.com/trellis-chain/trellis/core/chain"
)

// logBlocks writes one info line per new head and per final block, so an
// operator sees from the log alone that the node is alive and keeping up:
// height, hash prefix, transactions and the time since the previous block
// (header timestamps). A head change that reverted blocks says how many.
func (n *Node) logBlocks(ctx context.Context) {
	if n.chain == nil {
		return
	}
	ev, stop := n.chain.Subscribe()
	defer stop()
	var lastHeadMs int64
	for {
		select {
		case <-ctx.Done():
			return
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
					args = append(args, "interval", (time.Duration(h.TimestampMs-lastHeadMs) * time.Millisecond).String())
				}
				if len(e.Reverted) > 0 {
					args = append(args, "reverted", len(e.Reverted))
				}
				lastHeadMs = h.TimestampMs
				n.log.Info("new head", args...)
			case chain.EventFinal:
				n.log.Info("final", "height", h.Height, "hash", hash, "txs", len(b.Txs))
			}
		}
	}
}
