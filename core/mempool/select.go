package mempool

import (
	"container/heap"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// minGas is the least gas any transaction uses; below it nothing fits.
var minGas = min(tx.IntrinsicGas(tx.TypeTransfer), tx.IntrinsicGas(tx.TypeBond))

// Select returns executable transactions for a block with base fee baseFee,
// best first, without removing them from the pool:
//
//   - each sender's transactions in nonce order from its state nonce, with
//     no gap, and only while MaxFeePerGas >= baseFee (a sender's run stops
//     at its first transaction below the base fee);
//   - across senders, the next transaction with the highest effective tip
//     min(MaxPriorityFeePerGas, MaxFeePerGas-baseFee) first, ties to the
//     earlier arrival;
//   - the summed tx.Gas stays within maxGas: a transaction that does not fit
//     ends its sender's run and others may still fill the block;
//   - at most maxTxs transactions (maxTxs <= 0: no count limit).
//
// The result depends only on the pool's contents, their arrival order and
// the arguments. Cost: O(s + k log s) for s senders and k selected.
func (m *Mempool) Select(baseFee, maxGas uint64, maxTxs int) []*tx.Tx {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h := make(selectHeap, 0, len(m.senders))
	for _, s := range m.senders {
		if len(s.txs) == 0 || s.txs[0].nonce != s.nonce || s.txs[0].tx.MaxFeePerGas < baseFee {
			continue
		}
		h = append(h, cursor{s: s, tip: effectiveTip(s.txs[0].tx, baseFee), seq: s.txs[0].seq})
	}
	heap.Init(&h)
	capacity := len(m.all)
	if maxTxs > 0 {
		capacity = min(capacity, maxTxs)
	}
	out := make([]*tx.Tx, 0, min(capacity, 1024))
	gasLeft := maxGas
	for len(h) > 0 && len(out) != capacity && gasLeft >= minGas {
		c := &h[0]
		e := c.s.txs[c.i]
		if g := e.tx.Gas(); g <= gasLeft {
			out = append(out, e.tx)
			gasLeft -= g
			c.i++
			if c.i < len(c.s.txs) {
				if nx := c.s.txs[c.i]; nx.nonce == e.nonce+1 && nx.tx.MaxFeePerGas >= baseFee {
					c.tip, c.seq = effectiveTip(nx.tx, baseFee), nx.seq
					heap.Fix(&h, 0)
					continue
				}
			}
		}
		heap.Pop(&h)
	}
	return out
}

// effectiveTip is what the block producer earns per gas above the base fee.
// t.MaxFeePerGas >= baseFee.
func effectiveTip(t *tx.Tx, baseFee uint64) uint64 {
	return min(t.MaxPriorityFeePerGas, t.MaxFeePerGas-baseFee)
}

// cursor is a sender's next candidate in Select.
type cursor struct {
	s   *sender
	i   int    // index in s.txs
	tip uint64 // effective tip of s.txs[i]
	seq uint64 // arrival of s.txs[i]
}

// selectHeap pops the highest effective tip first, then the earliest arrival.
type selectHeap []cursor

func (h selectHeap) Len() int { return len(h) }
func (h selectHeap) Less(i, j int) bool {
	if h[i].tip != h[j].tip {
		return h[i].tip > h[j].tip
	}
	return h[i].seq < h[j].seq
}
func (h selectHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *selectHeap) Push(x any)   { *h = append(*h, x.(cursor)) }
func (h *selectHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
