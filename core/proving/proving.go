package proving

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// ErrNoProver is returned when a proof is asked of a node whose prover
// plugin is not running.
var ErrNoProver = errors.New("prover plugin unavailable")

// ProveFunc proves one block statement: PluginProver asks the prover
// plugin. rows is the trace length, for the logs.
type ProveFunc func(ctx context.Context, height uint64, pub batch.Public, w *batch.Witness) (proof []byte, rows uint64, err error)

// Config is what the worker needs of its node.
type Config struct {
	Chain *chain.Chain
	Pool  *mempool.Mempool
	// Submit sends the proof transactions from the node's account, a
	// registered prover.
	Submit  *mempool.Submitter
	Prove   ProveFunc
	Metrics *metrics.Registry
	Log     hclog.Logger
}

// proving is the node's side of the proof market: with a prover plugin
// configured and the node's account registered as a prover, it proves the
// jobs assigned to it (and unassigned ones), checks every proof with
// protocol/batch before it leaves the node, and submits it as a proof
// transaction. In BFT mode every validator runs one, which is how "every
// sequencer proves": the next proposer includes the transactions.
type proving struct {
	cfg Config
	log hclog.Logger
	me  account.Address
	// sent maps a proven height to its proof transaction and bytes, so a
	// dropped transaction is resubmitted without proving again.
	sent map[uint64]sentProof
	// warned remembers that the node is not a registered prover.
	warned bool
}

type sentProof struct {
	hash  tx.Hash
	proof []byte
}

// proverPollInterval bounds how long a new job waits when no chain event
// arrives (events can be dropped under load).
const proverPollInterval = time.Second

// Start runs the worker until the returned stop is called; stop waits for
// the loop to end. It proves on chain events and at least every
// proverPollInterval.
func Start(cfg Config) (stop func()) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	p := &proving{cfg: cfg, log: cfg.Log, me: cfg.Submit.From, sent: map[uint64]sentProof{}}
	events, cancel := cfg.Chain.Subscribe()
	ctx, end := context.WithCancel(context.Background())
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		defer cancel()
		tick := time.NewTicker(proverPollInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-events:
			case <-tick.C:
			}
			p.step(ctx)
		}
	}()
	return func() { end(); done.Wait() }
}

// step proves the oldest job this node should prove, if any.
func (p *proving) step(ctx context.Context) {
	c := p.cfg.Chain
	_, me, err := statedb.AccountAt(c.State(), p.me)
	if err != nil || me.Prover == nil {
		if !p.warned {
			p.warned = true
			p.log.Info("this node's account is not a registered prover: it proves no jobs", "address", p.me)
		}
		return
	}
	p.warned = false
	escrow, err := c.State().Account(account.EscrowIndex)
	if err != nil {
		p.log.Error("reading the proof jobs", "error", err)
		return
	}
	_, final := c.Head()
	var vs []chain.Validator // read at most once per step, and only for an unassigned job
	validators := func() []chain.Validator {
		if vs == nil {
			vs, _, _, _ = c.ValidatorSet(final.Header.Height)
		}
		return vs
	}
	for _, j := range escrow.Jobs { // sorted by height (account.Check)
		if j.Height > final.Header.Height || !p.mine(&j, final.Header.Height, validators) {
			continue
		}
		if s, ok := p.sent[j.Height]; ok {
			if p.pending(s.hash) {
				continue
			}
			p.submit(ctx, j.Height, s.proof) // dropped: send the same proof again
			return
		}
		proof, err := p.prove(ctx, j)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("proving block", "height", j.Height, "error", err)
			}
			return
		}
		p.submit(ctx, j.Height, proof)
		return // one job per step: new events may have changed the queue
	}
	for h := range p.sent {
		if escrow.Job(h) < 0 {
			delete(p.sent, h)
		}
	}
}

// mine reports whether this node should prove job j: it is assigned to
// this node, or it is unassigned (no prover asked at most its reward) and
// either it is this validator's turn (height mod the validator count) or
// it has waited a whole deadline, after which every prover volunteers. In
// a volunteer market every registered prover takes every job.
// The turns keep every validator from proving every unassigned block.
func (p *proving) mine(j *account.Job, final uint64, validators func() []chain.Validator) bool {
	if j.Assigned() {
		return j.Prover == p.me
	}
	m := p.cfg.Chain.MarketParams()
	if m.Volunteer || final >= j.Height+m.JobDeadline {
		return true
	}
	vs := validators()
	if len(vs) == 0 {
		return true
	}
	turn := vs[j.Height%uint64(len(vs))].Account.Address
	return turn == p.me
}

// pending reports whether a proof transaction is still in the pool or
// already in the chain.
func (p *proving) pending(h tx.Hash) bool {
	if _, ok := p.cfg.Pool.Get(h); ok {
		return true
	}
	_, included, err := p.cfg.Chain.TxLocation(h)
	return err != nil || included
}

// prove asks the prover plugin for the proof of job j and checks it.
func (p *proving) prove(ctx context.Context, j account.Job) ([]byte, error) {
	pub, w, err := p.cfg.Chain.Witness(j.Height)
	if err != nil {
		return nil, err
	}
	if want := exec.Public(j.Public); pub != want {
		return nil, fmt.Errorf("the job's statement %+v differs from the block's %+v", want, pub)
	}
	t0 := time.Now()
	proof, rows, err := p.cfg.Prove(ctx, j.Height, pub, w)
	if err != nil {
		return nil, err
	}
	if err := batch.Verify(pub, proof); err != nil {
		p.record("invalid")
		return nil, fmt.Errorf("the prover plugin returned a proof that does not verify: %w", err)
	}
	took := time.Since(t0)
	p.record("ok")
	_ = p.cfg.Metrics.Record("trellis_prover_seconds", metrics.Histogram, took.Seconds(), nil, "Time to prove one block, witness to checked proof.")
	p.log.Info("proved block", "height", j.Height, "updates", pub.Updates, "trace_rows", rows, "proof_bytes", len(proof), "took", took.Round(time.Millisecond))
	return proof, nil
}

func (p *proving) record(result string) {
	_ = p.cfg.Metrics.Record("trellis_prover_proofs_total", metrics.Counter, 1, map[string]string{"result": result}, "Proofs the prover plugin returned, by whether they verified.")
}

// submit signs a proof transaction and queues it for the next blocks.
func (p *proving) submit(ctx context.Context, height uint64, proof []byte) {
	body := tx.Proof{Height: height, Proof: string(proof)}
	t, err := p.cfg.Submit.Submit(ctx, body, tx.BodyGas(body))
	if err != nil {
		p.log.Warn("submitting the proof", "height", height, "error", err)
		return
	}
	p.sent[height] = sentProof{hash: t.Hash(), proof: proof}
	p.log.Debug("proof submitted", "height", height, "tx", t.Hash())
}
