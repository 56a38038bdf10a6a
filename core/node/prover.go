package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/tx"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
)

// errNoProver is returned when a proof is asked of a node whose prover
// plugin is not running.
var errNoProver = errors.New("prover plugin unavailable")

// proving is the node's side of the proof market: with a prover plugin
// configured and the node's account registered as a prover, it proves the
// jobs assigned to it (and unassigned ones), checks every proof with
// protocol/batch before it leaves the node, and submits it as a proof
// transaction. In BFT mode every validator runs one, which is how "every
// sequencer proves": the next proposer includes the transactions.
type proving struct {
	n  *Node
	me account.Address
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

// startProving runs the prover loop when a prover plugin is configured.
func (n *Node) startProving() {
	if n.chain == nil || n.cfg.Primary(config.KindProver) == nil {
		return
	}
	if n.signer == nil {
		n.log.Warn("a prover plugin is configured but the node has no account key to submit proofs with; proving nothing")
		return
	}
	p := &proving{n: n, me: n.signer.PublicKeys().Address, sent: map[uint64]sentProof{}}
	events, cancel := n.chain.Subscribe()
	ctx, stop := context.WithCancel(context.Background())
	n.proveStop = stop
	n.proveDone.Add(1)
	go func() {
		defer n.proveDone.Done()
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
}

// step proves the oldest job this node should prove, if any.
func (p *proving) step(ctx context.Context) {
	c := p.n.chain
	_, me, err := statedb.AccountAt(c.State(), p.me)
	if err != nil || me.Prover == nil {
		if !p.warned {
			p.warned = true
			p.n.log.Info("this node's account is not a registered prover: it proves no jobs", "address", p.me)
		}
		return
	}
	p.warned = false
	escrow, err := c.State().Account(account.EscrowIndex)
	if err != nil {
		p.n.log.Error("reading the proof jobs", "error", err)
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
				p.n.log.Error("proving block", "height", j.Height, "error", err)
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
// it has waited a whole deadline, after which every prover volunteers.
// The turns keep every validator from proving every unassigned block.
func (p *proving) mine(j *account.Job, final uint64, validators func() []chain.Validator) bool {
	if j.Assigned() {
		return j.Prover == p.me
	}
	if final >= j.Height+p.n.chain.MarketParams().JobDeadline {
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
	if _, ok := p.n.pool.Get(h); ok {
		return true
	}
	_, included, err := p.n.chain.TxLocation(h)
	return err != nil || included
}

// prove asks the prover plugin for the proof of job j and checks it.
func (p *proving) prove(ctx context.Context, j account.Job) ([]byte, error) {
	pub, w, err := p.n.chain.Witness(j.Height)
	if err != nil {
		return nil, err
	}
	if want := exec.Public(j.Public); pub != want {
		return nil, fmt.Errorf("the job's statement %+v differs from the block's %+v", want, pub)
	}
	t0 := time.Now()
	proof, rows, err := p.n.proveWithPlugin(ctx, j.Height, pub, w)
	if err != nil {
		return nil, err
	}
	if err := batch.Verify(pub, proof); err != nil {
		p.record("invalid")
		return nil, fmt.Errorf("the prover plugin returned a proof that does not verify: %w", err)
	}
	took := time.Since(t0)
	p.record("ok")
	_ = p.n.reg.Record("trellis_prover_seconds", metrics.Histogram, took.Seconds(), nil, "Time to prove one block, witness to checked proof.")
	p.n.log.Info("proved block", "height", j.Height, "updates", pub.Updates, "trace_rows", rows, "proof_bytes", len(proof), "took", took.Round(time.Millisecond))
	return proof, nil
}

func (p *proving) record(result string) {
	_ = p.n.reg.Record("trellis_prover_proofs_total", metrics.Counter, 1, map[string]string{"result": result}, "Proofs the prover plugin returned, by whether they verified.")
}

// submit signs a proof transaction and queues it for the next blocks.
func (p *proving) submit(ctx context.Context, height uint64, proof []byte) {
	maxFee, tip, err := p.n.quoteFees(ctx)
	if err != nil {
		p.n.log.Warn("pricing the proof transaction", "height", height, "error", err)
		return
	}
	body := tx.Proof{Height: height, Proof: string(proof)}
	t := &tx.Tx{ChainID: p.n.chain.ChainID(), Nonce: p.n.pool.PendingNonce(p.me), GasLimit: tx.BodyGas(body),
		MaxFeePerGas: maxFee, MaxPriorityFeePerGas: tip, Body: body}
	p.n.signer.SignTx(t)
	if err := p.n.pool.Add(t); err != nil {
		p.n.log.Warn("queueing the proof transaction", "height", height, "tx", t.Hash(), "error", err)
		return
	}
	p.n.broadcastTx(t)
	p.sent[height] = sentProof{hash: t.Hash(), proof: proof}
	p.n.log.Debug("proof submitted", "height", height, "tx", t.Hash())
}

// proveWithPlugin runs one job on the prover plugin, logging its progress.
func (n *Node) proveWithPlugin(ctx context.Context, height uint64, pub batch.Public, w *batch.Witness) (proof []byte, rows uint64, err error) {
	s := n.Plugin(config.KindProver)
	if s == nil {
		return nil, 0, fmt.Errorf("%w: none configured", errNoProver)
	}
	proc, err := s.Process(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errNoProver, err)
	}
	pc, ok := proc.Kind.(proverv1.ProverClient)
	if !ok {
		return nil, 0, fmt.Errorf("%w: plugin %s is not a prover", errNoProver, s.Status().Plugin)
	}
	id := binary.BigEndian.AppendUint64(nil, height)
	st, err := pc.Prove(ctx, &proverv1.ProveRequest{JobId: id, Statement: batch.Statement, PublicInputs: pub.Encode(), Witness: w.Encode()})
	if err != nil {
		return nil, 0, fmt.Errorf("prover plugin %s: %w", s.Status().Plugin, err)
	}
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("prover plugin %s ended the job for block %d without a proof", s.Status().Plugin, height)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("prover plugin %s, block %d: %w", s.Status().Plugin, height, err)
		}
		if pr := ev.GetProgress(); pr != nil {
			n.log.Trace("proving", "height", height, "stage", pr.GetStage(), "fraction", pr.GetFraction())
			continue
		}
		if r := ev.GetResult(); r != nil {
			return r.GetProof(), r.GetTraceRows(), nil
		}
	}
}

// Witness implements rpc.ProofBackend.
func (b backend) Witness(_ context.Context, height uint64) (batch.Public, []byte, error) {
	pub, w, err := b.n.chain.Witness(height)
	if errors.Is(err, chain.ErrUnknownBlock) || errors.Is(err, chain.ErrNoStatement) {
		return batch.Public{}, nil, fmt.Errorf("%w: %w", rpc.ErrNotFound, err)
	}
	if err != nil {
		return batch.Public{}, nil, err
	}
	return pub, w.Encode(), nil
}

// Proof implements rpc.ProofBackend: the proof a final block carries.
func (b backend) Proof(_ context.Context, height uint64) (*rpc.ProofRecord, error) {
	c := b.n.chain
	rec, ok, err := c.ProofOf(height)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no final block carries a proof of height %d yet", rpc.ErrNotFound, height)
	}
	blk, err := c.BlockByHeight(height)
	if err != nil {
		return nil, err
	}
	pub, err := c.Statement(blk.Hash())
	if err != nil {
		return nil, err
	}
	loc, ok, err := c.TxLocation(rec.Tx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: proof transaction %s of height %d is not on the chain", chain.ErrCorrupt, rec.Tx, height)
	}
	carrier, err := c.BlockByHash(loc.Block)
	if err != nil {
		return nil, err
	}
	if loc.Index >= len(carrier.Txs) {
		return nil, fmt.Errorf("%w: block %s has no transaction %d", chain.ErrCorrupt, loc.Block, loc.Index)
	}
	t := carrier.Txs[loc.Index]
	p, isProof := t.Body.(tx.Proof)
	if !isProof {
		return nil, fmt.Errorf("%w: transaction %s recorded as the proof of height %d is a %s", chain.ErrCorrupt, rec.Tx, height, t.Type())
	}
	return &rpc.ProofRecord{File: &batch.File{Public: pub, Proof: []byte(p.Proof)}, Prover: t.Sender(), TxHash: &rec.Tx}, nil
}
