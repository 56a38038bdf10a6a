package chain

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Nested buckets of store.BucketIndex for proofs.
var (
	// bucketStatements: block hash → batch.Public of the block (its proof
	// statement: parent root, own root, batch hash, update count).
	bucketStatements = []byte("statements")
	// bucketProven: proven height u64 BE → proof tx hash | final block hash
	// that carried it. Written when the carrying block becomes final.
	bucketProven = []byte("proven")
)

// ErrNoStatement is returned for a block without a proof statement: the
// genesis block, which nothing proves, and a block too large for batch/v1.
var ErrNoStatement = errors.New("block has no proof statement")

// statementOf computes a block's statement from its changeset, for the
// proof job its child opens. It hashes records only (no tree work), and
// only when that job can open: the market opens jobs only while a prover
// is registered, so a chain without provers pays nothing per block. A
// block with more leaf updates than batch/v1 admits gets none either: it
// stays valid, and no job opens for it. post is the state after the block.
func statementOf(parent, hd *block.Header, cs *state.Changeset, post statedb.Reader) (*batch.Public, error) {
	if n := len(cs.Changes) + 1; n > batch.MaxUpdates {
		return nil, nil
	}
	if e, err := post.Account(account.EscrowIndex); errors.Is(err, statedb.ErrNoAccount) || (err == nil && len(e.Provers) == 0) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	bh, err := batch.HashChanges(cs)
	if err != nil {
		return nil, fmt.Errorf("%w: batch hash of block %d: %v", ErrCorrupt, hd.Height, err)
	}
	return &batch.Public{OldRoot: parent.StateRoot, NewRoot: hd.StateRoot, BatchHash: bh, Updates: uint32(len(cs.Changes) + 1)}, nil
}

// Statement returns the proof statement of a committed block.
func (c *Chain) Statement(h block.Hash) (batch.Public, error) {
	var raw []byte
	if err := c.db.View(func(t *store.Tx) error {
		raw = t.Bucket(store.BucketIndex).Bucket(bucketStatements).Get(h[:])
		if raw != nil {
			raw = append([]byte(nil), raw...)
		}
		return nil
	}); err != nil {
		return batch.Public{}, err
	}
	if raw == nil {
		if _, err := c.Header(h); err != nil {
			return batch.Public{}, err
		}
		return batch.Public{}, fmt.Errorf("%w: %s (genesis, or more leaf updates than batch/v1 admits)", ErrNoStatement, h)
	}
	p, err := batch.DecodePublic(raw)
	if err != nil {
		return batch.Public{}, fmt.Errorf("%w: statement of %s: %v", ErrCorrupt, h, err)
	}
	return p, nil
}

// parentStatement is what exec.Env.ParentStatement gets: nil for a child
// of genesis.
func (c *Chain) parentStatement(parent *block.Header) (*batch.Public, error) {
	if parent.Height == 0 {
		return nil, nil
	}
	p, err := c.Statement(parent.Hash())
	if errors.Is(err, ErrNoStatement) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Witness builds the statement and witness of the canonical block at
// height, for a prover. It replays the tree back to the parent, so it
// holds the chain lock for a few tens of milliseconds per thousand updates.
func (c *Chain) Witness(height uint64) (batch.Public, *batch.Witness, error) {
	if height == 0 {
		return batch.Public{}, nil, ErrNoStatement
	}
	b, err := c.BlockByHeight(height)
	if err != nil {
		return batch.Public{}, nil, err
	}
	want, err := c.Statement(b.Hash())
	stored := err == nil
	if err != nil && !errors.Is(err, ErrNoStatement) {
		return batch.Public{}, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	parent, err := c.Header(b.Header.Parent)
	if err != nil {
		return batch.Public{}, nil, err
	}
	_, ov, err := c.viewAt(parent)
	if err != nil {
		return batch.Public{}, nil, err
	}
	cs, err := c.changeset(b.Hash())
	if err != nil {
		return batch.Public{}, nil, err
	}
	pub, w, err := batch.Build(ov, cs)
	if err != nil {
		return batch.Public{}, nil, fmt.Errorf("witness of block %d: %w", height, err)
	}
	if pub.NewRoot != b.Header.StateRoot {
		return batch.Public{}, nil, fmt.Errorf("%w: witness of block %d ends at root %s, the header has %s", ErrCorrupt, height, pub.NewRoot, b.Header.StateRoot)
	}
	if !stored {
		return pub, w, nil // no job ever opened for it (no provers then): nothing to compare
	}
	if pub != want {
		return batch.Public{}, nil, fmt.Errorf("%w: witness of block %d gives statement %+v, stored %+v", ErrCorrupt, height, pub, want)
	}
	return pub, w, nil
}

// ProofRecord says where the proof of a block is on chain.
type ProofRecord struct {
	Tx    tx.Hash    // the proof transaction
	Block block.Hash // the final block that carried it
}

// ProofOf returns where the proof of the canonical block at height is;
// ok is false while no final block carries one.
func (c *Chain) ProofOf(height uint64) (rec ProofRecord, ok bool, err error) {
	err = c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketIndex).Bucket(bucketProven).Get(u64(height))
		if v == nil {
			return nil
		}
		if len(v) != len(rec.Tx)+len(rec.Block) {
			return fmt.Errorf("%w: proven record of height %d has %d bytes", ErrCorrupt, height, len(v))
		}
		copy(rec.Tx[:], v)
		copy(rec.Block[:], v[len(rec.Tx):])
		ok = true
		return nil
	})
	return rec, ok, err
}

// proven is a proof a block carries: the height it proves and the
// transaction.
type proven struct {
	height uint64
	rec    ProofRecord
}

// proofCarriers lists the successful proof transactions of the blocks
// from b back to (excluding) height final, which Finalize makes final.
func (c *Chain) proofCarriers(b *block.Block, final uint64) ([]proven, error) {
	var out []proven
	for b.Header.Height > final {
		var rs []*block.Receipt
		for i, x := range b.Txs {
			height, ok := provenHeight(x)
			if !ok {
				continue
			}
			if rs == nil {
				var err error
				if rs, err = c.Receipts(b.Hash()); err != nil {
					return nil, err
				}
			}
			if i < len(rs) && rs[i].Status == block.StatusOK {
				out = append(out, proven{height, ProofRecord{Tx: x.Hash(), Block: b.Hash()}})
			}
		}
		p, err := c.blockByHash(b.Header.Parent)
		if err != nil {
			return nil, err
		}
		b = p
	}
	return out, nil
}

// indexProofs records the proofs that blocks carry as they become final.
func indexProofs(t *store.Tx, ps []proven) error {
	pb := t.Bucket(store.BucketIndex).Bucket(bucketProven)
	for _, p := range ps {
		if err := pb.Put(u64(p.height), append(p.rec.Tx[:], p.rec.Block[:]...)); err != nil {
			return err
		}
	}
	return nil
}

// provenHeight returns the height a proof transaction proves.
func provenHeight(t *tx.Tx) (uint64, bool) {
	p, ok := t.Body.(tx.Proof)
	return p.Height, ok
}

// proofRefs lists, for Header.Proofs, the proofs a block carries: one per
// successful proof transaction, naming the proven block (an ancestor of
// parent), the transaction hash and the prover.
func (c *Chain) proofRefs(parent *block.Header, txs []*tx.Tx, receipts []*block.Receipt) ([]block.ProofRef, error) {
	var out []block.ProofRef
	for i, t := range txs {
		h, ok := provenHeight(t)
		if !ok || i >= len(receipts) || receipts[i].Status != block.StatusOK {
			continue
		}
		bh, err := c.ancestorAt(parent, h)
		if err != nil {
			return nil, fmt.Errorf("proof transaction %s names height %d: %w", t.Hash(), h, err)
		}
		out = append(out, block.ProofRef{Height: h, BlockHash: bh, ProofHash: t.Hash(), Prover: t.Sender()})
	}
	return out, nil
}

// ancestorAt returns the hash of parent's ancestor (or parent) at height.
func (c *Chain) ancestorAt(parent *block.Header, height uint64) (block.Hash, error) {
	if height > parent.Height {
		return block.Hash{}, fmt.Errorf("%w: height %d is above the parent's %d", ErrUnknownBlock, height, parent.Height)
	}
	if ch, err := c.CanonicalHash(parent.Height); err == nil && ch == parent.Hash() {
		return c.CanonicalHash(height) // the common case: building on the canonical chain
	}
	h := parent
	for h.Height > height {
		p, err := c.Header(h.Parent)
		if err != nil {
			return block.Hash{}, err
		}
		h = p
	}
	return h.Hash(), nil
}

// MarketParams returns the chain's prover market rules.
func (c *Chain) MarketParams() account.MarketParams { return c.params.Market }

// ProvenHeight is the highest final block whose proof is on the chain in a
// final block; 0 if none. The proven index is keyed by height, so this is
// one cursor step, not a scan.
func (c *Chain) ProvenHeight() (uint64, error) {
	_, final := c.Head()
	var h uint64
	err := c.db.View(func(t *store.Tx) error {
		cur := t.Bucket(store.BucketIndex).Bucket(bucketProven).Cursor()
		k, _ := cur.Seek(u64(final.Header.Height + 1))
		if k == nil {
			k, _ = cur.Last()
		} else {
			k, _ = cur.Prev()
		}
		if len(k) == 8 {
			h = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return h, err
}
