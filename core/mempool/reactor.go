package mempool

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/p2p"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Gossip tuning.
const (
	txBatchMax   = 256 // transactions per gossip message
	txBatchDelay = 10 * time.Millisecond
	gapRetry     = 250 * time.Millisecond // retry of parked transactions (gaps.go)
)

// Publisher sends a message on a gossip topic (p2p.Host).
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte) error
}

// Reactor gossips the pool's transactions: it batches the transactions the
// node admitted from users or made itself into gossip messages, and admits
// peers' batches into the pool, holding those that arrive ahead of an
// earlier nonce of their sender (gaps.go) until it lands.
type Reactor struct {
	pool  *Mempool
	pub   Publisher
	topic string
	reg   *metrics.Registry
	log   hclog.Logger
	txq   chan *tx.Tx
	gaps  *gapBuffer
}

// NewReactor returns the reactor of pool, publishing on topic; st is the
// head state the gap buffer checks senders' balances against. Run it with
// Run, and register Validate as the topic's validator.
func NewReactor(pool *Mempool, st State, pub Publisher, topic string, reg *metrics.Registry, log hclog.Logger) *Reactor {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Reactor{pool: pool, pub: pub, topic: topic, reg: reg, log: log,
		txq: make(chan *tx.Tx, 4*txBatchMax), gaps: newGapBuffer(st)}
}

// Broadcast queues a transaction the node accepted from a user, or made,
// for gossip. Transactions from peers are not re-broadcast: gossipsub
// forwards them. A full queue drops it (peers see it in a block).
func (r *Reactor) Broadcast(t *tx.Tx) {
	select {
	case r.txq <- t:
	default:
		r.count("trellis_tx_gossip_dropped_total", 1, "Transactions not gossiped because the gossip queue was full; peers see them in a block.")
		r.log.Debug("transaction gossip queue full; peers will get it in a block", "tx", t.Hash())
	}
}

// Run publishes queued transactions in batches, so a burst costs a few
// messages rather than one per transaction, until ctx ends.
func (r *Reactor) Run(ctx context.Context) {
	var batch []*tx.Tx
	size := 3 // encoded batch size so far
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// Parked transactions may also be unblocked by a block or a user's
	// transaction; retry them all now and then.
	retry := time.NewTicker(gapRetry)
	defer retry.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := r.pub.Publish(ctx, r.topic, encodeTxBatch(batch)); err != nil && ctx.Err() == nil {
			r.log.Warn("gossiping transactions", "count", len(batch), "error", err)
		}
		batch, size = batch[:0], 3
	}
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-r.txq:
			n := 4 + t.Size()
			if size+n > txBatchMaxBytes {
				timer.Stop()
				flush() // a proof transaction would overflow the message
			}
			if len(batch) == 0 {
				timer.Reset(txBatchDelay)
			}
			batch, size = append(batch, t), size+n
			if len(batch) >= txBatchMax {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		case now := <-retry.C:
			r.unparked(r.gaps.retryAll(r.pool, now))
		}
	}
}

// Validate admits a peer's transaction batch into the pool (p2p.Validator).
// A batch that does not decode, or holds a transaction no honest node would
// relay (bad signature, other chain), is rejected and lowers the peer's
// score; state-dependent refusals (known, nonce, funds) are not the peer's
// fault.
func (r *Reactor) Validate(_ context.Context, from string, data []byte) p2p.Verdict {
	if from == "" {
		return p2p.Accept // our own batch, already in our pool
	}
	txs, err := decodeTxBatch(data)
	if err != nil {
		r.log.Debug("bad transaction batch", "peer", from, "error", err)
		return p2p.Reject
	}
	errs, added, parked, unparked := r.gaps.admit(r.pool, txs, time.Now())
	r.unparked(unparked)
	for i, err := range errs {
		if isStatelessTxError(err) {
			r.log.Debug("invalid transaction from peer", "peer", from, "tx", txs[i].Hash(), "error", err)
			return p2p.Reject
		}
	}
	if parked > 0 {
		r.count("trellis_tx_gossip_parked_total", parked,
			"Gossiped transactions that arrived before an earlier nonce of their sender and were held for a retry.")
	}
	if added+parked == 0 {
		return p2p.Ignore
	}
	return p2p.Accept
}

func (r *Reactor) unparked(n int) {
	if n > 0 {
		r.count("trellis_tx_gossip_unparked_total", n, "Held gossiped transactions admitted once their sender's earlier nonces arrived.")
	}
}

func (r *Reactor) count(name string, n int, help string) {
	if r.reg != nil {
		_ = r.reg.Record(name, metrics.Counter, float64(n), nil, help)
	}
}

// isStatelessTxError reports whether a pool refusal is the sender's fault
// rather than a matter of this node's state.
func isStatelessTxError(err error) bool {
	for _, e := range []error{tx.ErrTooLarge, tx.ErrMalformed, tx.ErrVersion, tx.ErrType, tx.ErrSignature, tx.ErrChainID,
		tx.ErrGas, tx.ErrFee, tx.ErrAmount, tx.ErrOverflow} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
