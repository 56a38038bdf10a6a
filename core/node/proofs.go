package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/proving"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/tx"
)

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

// startProving runs the proving worker when a prover plugin is configured.
func (n *Node) startProving() {
	if n.chain == nil || n.cfg.Primary(config.KindProver) == nil {
		return
	}
	if n.signer == nil {
		n.log.Warn("a prover plugin is configured but the node has no account key to submit proofs with; proving nothing")
		return
	}
	n.proveStop = proving.Start(proving.Config{Chain: n.chain, Pool: n.pool, Submit: n.submit, Metrics: n.reg, Log: n.log,
		Prove: proving.PluginProver(func() *plugin.Supervisor { return n.Plugin(config.KindProver) }, n.log)})
}
