package sim

import (
	"time"

	bft "github.com/trellis-chain/trellis/plugins/consensus-bft"
	"github.com/trellis-chain/trellis/plugins/consensus-lc"
)

// Cost is the modelled CPU time of what a node does, from the project's
// own benchmarks (docs/benchmarks.md): BLS12-381 sign 0.35 ms, verify
// 0.76 ms, an aggregate of up to 128 signers 0.81 ms, decoding a
// signature 58 µs; executing a transfer with its state update about 9 µs
// (111k transfers/s at 10k accounts on one core), and checking its
// ed25519 signature 23 µs.
type Cost struct {
	Sign, Verify, AggregateVerify, DecodeSig time.Duration
	TxExec, TxSigCheck                       time.Duration
	// VoteBatch is how many votes the engine checks with one aggregate
	// pairing (its worker gathers a burst, up to 64).
	VoteBatch int
	// Restart is how long a crashed validator takes to come back once
	// restarted: the node process and its plugins starting (testnet logs
	// on the 2-core machine: the BFT plugin ready 2.0 s after the node
	// starts it, the fee plugin about 1 s before that).
	Restart time.Duration
}

// DefaultCost is the benchmarks' figures.
var DefaultCost = Cost{Sign: 350 * time.Microsecond, Verify: 760 * time.Microsecond, AggregateVerify: 810 * time.Microsecond,
	DecodeSig: 58 * time.Microsecond, TxExec: 9 * time.Microsecond, TxSigCheck: 23 * time.Microsecond, VoteBatch: 64,
	Restart: 3 * time.Second}

// receive is the cost of taking in one message: a vote is a share of one
// aggregate check (a burst of min(n, VoteBatch) votes checked together);
// a proposal one signature (its block's validation is charged by the
// chain); anything else one signature.
func (c Cost) receive(topic string, n int) time.Duration {
	switch topic {
	case bft.TopicVote:
		return c.DecodeSig + c.AggregateVerify/time.Duration(max(1, min(n, c.VoteBatch)))
	case lc.TopicBlock: // the leader proof and the block signature
		return 2 * (c.DecodeSig + c.Verify)
	case lc.TopicGet:
		return 0
	}
	return c.DecodeSig + c.Verify
}

func (c Cost) build(txs uint64) time.Duration { return time.Duration(txs) * c.TxExec }

func (c Cost) validate(txs uint64) time.Duration {
	return time.Duration(txs) * (c.TxExec + c.TxSigCheck)
}
