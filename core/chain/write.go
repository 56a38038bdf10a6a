package chain

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// executed is a block this node built or validated, kept so that Commit
// and SetHead need not execute it again.
type executed struct {
	blk      *block.Block
	receipts []*block.Receipt
	cs       *state.Changeset
	// ov holds the block's tree on top of the head tree as it was at
	// headAt and state generation gen: it can be committed only while the
	// state is still at that generation (once, since committing moves it).
	ov     *state.Overlay
	headAt block.Hash
	gen    uint64
	stmt   *batch.Public // the block's proof statement; nil if none
}

type execCache struct {
	max   int
	order []block.Hash
	m     map[block.Hash]*executed
}

func newExecCache(max int) *execCache {
	return &execCache{max: max, m: make(map[block.Hash]*executed)}
}

func (c *execCache) get(h block.Hash) *executed { return c.m[h] }

func (c *execCache) put(h block.Hash, e *executed) {
	if _, ok := c.m[h]; !ok {
		c.order = append(c.order, h)
	}
	c.m[h] = e
	for len(c.order) > c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}

// route returns the blocks to revert (head first) and to apply (oldest
// first) to move the head to target. Unless reading, it refuses to revert
// a final block.
func (c *Chain) route(head, target *block.Header, reading bool) (revert, apply []*block.Header, err error) {
	_, final := c.Head()
	a, b := head, target
	for a.Height > b.Height {
		revert = append(revert, a)
		if a, err = c.Header(a.Parent); err != nil {
			return nil, nil, err
		}
	}
	for b.Height > a.Height {
		apply = append(apply, b)
		if b, err = c.Header(b.Parent); err != nil {
			return nil, nil, err
		}
	}
	for a.Hash() != b.Hash() {
		if a.Height == 0 {
			return nil, nil, fmt.Errorf("%w: %s and %s share no genesis", ErrCorrupt, head.Hash(), target.Hash())
		}
		revert = append(revert, a)
		apply = append(apply, b)
		if a, err = c.Header(a.Parent); err != nil {
			return nil, nil, err
		}
		if b, err = c.Header(b.Parent); err != nil {
			return nil, nil, err
		}
	}
	if !reading && len(revert) > 0 && a.Height < final.Header.Height {
		return nil, nil, fmt.Errorf("%w: moving to %s (height %d) reverts back to height %d, below final height %d",
			ErrRevertFinal, target.Hash(), target.Height, a.Height+1, final.Header.Height)
	}
	slices.Reverse(apply)
	return revert, apply, nil
}

// changesets returns the changesets that move the head along a route.
func (c *Chain) changesets(revert, apply []*block.Header) ([]*state.Changeset, error) {
	out := make([]*state.Changeset, 0, len(revert)+len(apply))
	for _, h := range revert {
		cs, err := c.changeset(h.Hash())
		if err != nil {
			return nil, err
		}
		out = append(out, cs.Reverse())
	}
	for _, h := range apply {
		cs, err := c.changeset(h.Hash())
		if err != nil {
			return nil, err
		}
		out = append(out, cs)
	}
	return out, nil
}

// viewAt returns the state after block target, as a reader and a tree
// overlay on the head tree. Callers hold c.mu.
func (c *Chain) viewAt(target *block.Header) (statedb.Reader, *state.Overlay, error) {
	ov := state.NewOverlay(c.st.Tree())
	head, _ := c.Head()
	if target.Hash() == head.Hash() {
		return c.st, ov, nil
	}
	revert, apply, err := c.route(&head.Header, target, true)
	if err != nil {
		return nil, nil, err
	}
	css, err := c.changesets(revert, apply)
	if err != nil {
		return nil, nil, err
	}
	v := statedb.NewDelta(c.st)
	for _, cs := range css {
		if err := v.Apply(cs); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if err := ov.Apply(cs); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	return v, ov, nil
}

// nextFeeMax bounds Chain.nextFee: blocks of a few heights and rounds.
const nextFeeMax = 256

// rememberNextFee records the base fee the fee plugin gives b's child.
func (c *Chain) rememberNextFee(b block.Hash, fee uint64) {
	if len(c.nextFee) >= nextFeeMax {
		clear(c.nextFee)
	}
	c.nextFee[b] = fee
}

func (c *Chain) baseFee(ctx context.Context, parent *block.Header) (uint64, error) {
	bf, err := c.cfg.Fees.BaseFee(ctx, feeParent(parent))
	if err != nil {
		return 0, fmt.Errorf("%w: base fee: %w", exec.ErrPricing, err)
	}
	return bf, nil
}

func feeParent(h *block.Header) exec.FeeParent {
	return exec.FeeParent{Height: h.Height, BaseFee: h.BaseFee, GasUsed: h.GasUsed, GasLimit: h.GasLimit}
}

// BuildRequest is what a proposer asks for.
type BuildRequest struct {
	Parent        block.Hash
	TimestampMs   int64
	MaxGas        uint64 // 0: the chain's gas limit
	Proposer      account.Address
	ConsensusData []byte
	// Proofs is what the consensus plugin asked to include; the header's
	// list is derived from the proof transactions the block carries
	// (proofRefs), which the mempool supplies, so a plugin cannot list a
	// proof the block does not hold.
	Proofs []block.ProofRef
}

// Build builds a block on parent from the mempool. It does not commit it.
func (c *Chain) Build(ctx context.Context, req BuildRequest) (*block.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.build(ctx, req, true)
	if errors.Is(err, errStaleNextFee) {
		c.log.Warn("the fee plugin prices the block at another base fee than its parent's pricing gave; building again with a BaseFee call", "parent", req.Parent, "error", err)
		b, err = c.build(ctx, req, false)
	}
	return b, err
}

// errStaleNextFee: a build from the parent's recorded next base fee was
// priced at another one.
var errStaleNextFee = errors.New("recorded next base fee not the plugin's")

func (c *Chain) build(ctx context.Context, req BuildRequest, useNextFee bool) (*block.Block, error) {
	parent, err := c.Header(req.Parent)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownParent, req.Parent)
	}
	r, ov, err := c.viewAt(parent)
	if err != nil {
		return nil, err
	}
	// The parent's pricing already gave its child's base fee; a fee plugin
	// that contradicts itself is caught by this block's own pricing
	// (ErrPricing), and the build is retried with a BaseFee call.
	bf, cached := c.nextFee[req.Parent]
	if !useNextFee || !cached {
		cached = false
		if bf, err = c.baseFee(ctx, parent); err != nil {
			return nil, err
		}
	}
	gasLimit := uint64(c.cfg.Genesis.Fee.BlockGasLimit)
	maxGas := gasLimit
	if req.MaxGas > 0 && req.MaxGas < maxGas {
		maxGas = req.MaxGas
	}
	var txs []*tx.Tx
	if c.cfg.Pool != nil {
		txs = c.cfg.Pool.Select(bf, maxGas, c.cfg.MaxBlockTxs)
	}
	ps, err := c.parentStatement(parent)
	if err != nil {
		return nil, err
	}
	env := exec.Env{Height: parent.Height + 1, Proposer: req.Proposer, BaseFee: bf, GasLimit: gasLimit, Parent: feeParent(parent), ParentStatement: ps}
	res, err := exec.Execute(ctx, r, c.params, env, txs, c.cfg.Fees, exec.Build, true)
	if err != nil && cached && errors.Is(err, exec.ErrPricing) {
		delete(c.nextFee, req.Parent)
		return nil, fmt.Errorf("%w: %w", errStaleNextFee, err)
	}
	if err != nil {
		return nil, err
	}
	c.dropFromPool(res.Dropped)
	ts := max(req.TimestampMs, parent.TimestampMs+1)
	blk := &block.Block{
		Header: block.Header{
			ChainID: c.params.ChainID, Height: env.Height, Parent: req.Parent, TimestampMs: ts,
			Proposer: req.Proposer, BaseFee: bf, GasLimit: gasLimit, GasUsed: res.GasUsed,
			ConsensusData: req.ConsensusData,
		},
		Txs: res.Txs,
	}
	if blk.Header.Proofs, err = c.proofRefs(parent, res.Txs, res.Receipts); err != nil {
		return nil, err
	}
	if oldest, late, err := c.proofLate(r, parent, len(blk.Header.Proofs)); err != nil {
		return nil, err
	} else if late {
		return nil, fmt.Errorf("%w: block %d is %d blocks above the oldest unproven block %d (max_proof_lag %d) and the mempool holds no proof to include",
			ErrProofLag, env.Height, parent.Height-oldest, oldest, c.cfg.Genesis.LongestChain.MaxProofLag)
	}
	if err := blk.Header.Check(); err != nil {
		return nil, err
	}
	cs := res.Delta.Changeset()
	if err := ov.Apply(cs); err != nil {
		return nil, err
	}
	blk.Header.TxRoot = blk.ComputeTxRoot()
	if c.cfg.Genesis.TxCommitments() {
		tc := blk.ComputeTxCommitment()
		blk.Header.TxCommitment = &tc
	}
	blk.Header.ReceiptsRoot = block.ReceiptsRoot(res.Receipts)
	blk.Header.StateRoot = ov.Root()
	stmt, err := statementOf(parent, &blk.Header, cs, res.Delta)
	if err != nil {
		return nil, err
	}
	head, _ := c.Head()
	c.cache.put(blk.Hash(), &executed{blk: blk, receipts: res.Receipts, cs: cs, ov: ov, headAt: head.Hash(), gen: c.st.Generation(), stmt: stmt})
	c.rememberNextFee(blk.Hash(), res.NextBaseFee)
	return blk, nil
}

// proofLate applies the longest-chain proof-lag rule (genesis
// longest_chain.max_proof_lag): when the oldest open proof job in the
// parent's state r is more than max_proof_lag blocks under the parent, a
// block must carry a proof. It returns that job's height and whether a
// block with proofs proofs breaks the rule. With no job open (no prover
// registered, or every block proven) the rule is idle.
func (c *Chain) proofLate(r statedb.Reader, parent *block.Header, proofs int) (oldest uint64, late bool, err error) {
	lc := c.cfg.Genesis.LongestChain
	if lc == nil || lc.MaxProofLag == 0 || proofs > 0 {
		return 0, false, nil
	}
	e, err := r.Account(account.EscrowIndex)
	if errors.Is(err, statedb.ErrNoAccount) {
		return 0, false, nil
	}
	if err != nil || len(e.Jobs) == 0 {
		return 0, false, err
	}
	oldest = e.Jobs[0].Height
	return oldest, parent.Height-oldest > uint64(lc.MaxProofLag), nil
}

func (c *Chain) dropFromPool(ds []exec.Dropped) {
	if c.cfg.Pool == nil || len(ds) == 0 {
		return
	}
	var hs []tx.Hash
	for _, d := range ds {
		if !errors.Is(d.Err, exec.ErrBlockFull) {
			hs = append(hs, d.Tx.Hash())
			c.log.Debug("transaction left out of block", "tx", d.Tx.Hash(), "reason", d.Err)
		}
	}
	c.cfg.Pool.Remove(hs)
}

// Validate checks an encoded block against its parent by re-executing it.
// The error is an *InvalidError (errors.Is ErrInvalidBlock) when the block
// breaks a rule, ErrUnknownParent when its parent is not committed, and
// anything else when the node itself failed (a fee plugin down).
func (c *Chain) Validate(ctx context.Context, encoded []byte) (*block.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.validate(ctx, encoded)
	if err != nil {
		return nil, err
	}
	return e.blk, nil
}

func (c *Chain) validate(ctx context.Context, encoded []byte) (*executed, error) {
	blk, err := block.Decode(encoded)
	if err != nil {
		return nil, invalid(0, err, "%v", err)
	}
	h := blk.Hash()
	if e := c.cache.get(h); e != nil {
		return e, nil
	}
	hd := &blk.Header
	if hd.ChainID != c.params.ChainID {
		return nil, invalid(hd.Height, nil, "chain id %q, this chain is %q", hd.ChainID, c.params.ChainID)
	}
	parent, err := c.Header(hd.Parent)
	if err != nil {
		if errors.Is(err, ErrUnknownBlock) {
			return nil, fmt.Errorf("%w: %s (of block %s at height %d)", ErrUnknownParent, hd.Parent, h, hd.Height)
		}
		return nil, err
	}
	if hd.Height != parent.Height+1 {
		return nil, invalid(hd.Height, nil, "height %d on a parent at height %d", hd.Height, parent.Height)
	}
	if hd.TimestampMs <= parent.TimestampMs {
		return nil, invalid(hd.Height, nil, "timestamp %d is not after the parent's %d", hd.TimestampMs, parent.TimestampMs)
	}
	if gl := uint64(c.cfg.Genesis.Fee.BlockGasLimit); hd.GasLimit != gl {
		return nil, invalid(hd.Height, nil, "gas limit %d, the chain's is %d", hd.GasLimit, gl)
	}
	if len(blk.Txs) > c.cfg.MaxBlockTxs {
		return nil, invalid(hd.Height, nil, "%d transactions, at most %d", len(blk.Txs), c.cfg.MaxBlockTxs)
	}
	if root := blk.ComputeTxRoot(); root != hd.TxRoot {
		return nil, invalid(hd.Height, nil, "transaction root %x does not match the transactions (%x)", hd.TxRoot, root)
	}
	if want := c.cfg.Genesis.TxCommitments(); want != (hd.TxCommitment != nil) {
		return nil, invalid(hd.Height, nil, "header version %d, this chain's headers are version %d", hd.Version(), max(c.cfg.Genesis.HeaderVersion, block.Version))
	}
	if !blk.CheckTxCommitment() {
		return nil, invalid(hd.Height, nil, "transaction commitment %s does not match the transactions (%s)", hd.TxCommitment, blk.ComputeTxCommitment())
	}
	// The header's base fee is checked by pricing the block: PriceBlock
	// gives the base fee it prices at, and Execute refuses a difference
	// (ErrBaseFee). That saves the separate BaseFee call, one round trip
	// to the fee plugin's process per validation.
	bf := hd.BaseFee
	r, ov, err := c.viewAt(parent)
	if err != nil {
		return nil, err
	}
	ps, err := c.parentStatement(parent)
	if err != nil {
		return nil, err
	}
	env := exec.Env{Height: hd.Height, Proposer: hd.Proposer, BaseFee: bf, GasLimit: hd.GasLimit, Parent: feeParent(parent), ParentStatement: ps}
	checked, err := c.checkSignatures(blk.Txs)
	var res *exec.Result
	if err == nil {
		res, err = exec.Execute(ctx, r, c.params, env, blk.Txs, c.cfg.Fees, exec.Validate, checked)
	}
	if err != nil {
		var te *exec.TxError
		if errors.As(err, &te) || errors.Is(err, exec.ErrBaseFee) {
			return nil, invalid(hd.Height, err, "%v", err)
		}
		return nil, err
	}
	if res.GasUsed != hd.GasUsed {
		return nil, invalid(hd.Height, nil, "gas used %d, execution used %d", hd.GasUsed, res.GasUsed)
	}
	if rr := block.ReceiptsRoot(res.Receipts); rr != hd.ReceiptsRoot {
		return nil, invalid(hd.Height, nil, "receipts root %x, execution gives %x", hd.ReceiptsRoot, rr)
	}
	refs, err := c.proofRefs(parent, blk.Txs, res.Receipts)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(refs, hd.Proofs) {
		return nil, invalid(hd.Height, nil, "header lists %d proofs, its transactions carry %d (or name other blocks)", len(hd.Proofs), len(refs))
	}
	if oldest, late, err := c.proofLate(r, parent, len(refs)); err != nil {
		return nil, err
	} else if late {
		return nil, invalid(hd.Height, ErrProofLag, "the oldest unproven block %d is %d blocks under the parent (max_proof_lag %d) and the block carries no proof",
			oldest, parent.Height-oldest, c.cfg.Genesis.LongestChain.MaxProofLag)
	}
	cs := res.Delta.Changeset()
	if err := ov.Apply(cs); err != nil {
		return nil, err
	}
	if root := ov.Root(); root != hd.StateRoot {
		return nil, invalid(hd.Height, nil, "state root %s, execution gives %s", hd.StateRoot, root)
	}
	stmt, err := statementOf(parent, hd, cs, res.Delta)
	if err != nil {
		return nil, err
	}
	head, _ := c.Head()
	e := &executed{blk: blk, receipts: res.Receipts, cs: cs, ov: ov, headAt: head.Hash(), gen: c.st.Generation(), stmt: stmt}
	c.cache.put(h, e)
	c.rememberNextFee(h, res.NextBaseFee)
	return e, nil
}

// knownPool is a Pool that can tell which transactions it holds: they
// passed the same stateless checks when they were admitted.
type knownPool interface {
	Has(h tx.Hash) bool
}

// checkSignatures runs the stateless checks, signatures included, on the
// transactions the pool does not already hold. On a validator the pool has
// seen almost every transaction of a proposal by gossip, so this skips most
// of a block's ed25519 verifications. It reports whether every transaction
// is now checked.
func (c *Chain) checkSignatures(txs []*tx.Tx) (bool, error) {
	kp, ok := c.cfg.Pool.(knownPool)
	if !ok {
		return false, nil
	}
	rest := make([]*tx.Tx, 0, len(txs))
	at := make([]int, 0, len(txs))
	for i, t := range txs {
		if !kp.Has(t.Hash()) {
			rest = append(rest, t)
			at = append(at, i)
		}
	}
	for k, err := range tx.CheckAll(rest, c.params.ChainID, c.params.Workers) {
		if err != nil {
			return false, &exec.TxError{Index: at[k], Hash: rest[k].Hash(), Err: err}
		}
	}
	return true, nil
}
