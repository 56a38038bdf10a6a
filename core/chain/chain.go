package chain

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Fees is the fee plugin as the chain uses it.
type Fees interface {
	exec.Pricer
	// BaseFee returns the base fee of parent's child.
	BaseFee(ctx context.Context, parent exec.FeeParent) (uint64, error)
}

// Pool is the mempool as the chain uses it.
type Pool interface {
	// Select returns executable transactions for a block.
	Select(baseFee, maxGas uint64, maxTxs int) []*tx.Tx
	// Remove drops transactions that cannot be included.
	Remove(hashes []tx.Hash)
	// Reinject re-admits transactions of blocks a reorg rolled back.
	Reinject(txs []*tx.Tx)
	// HeadChanged tells the pool the head state moved.
	HeadChanged()
}

// Config configures a Chain.
type Config struct {
	Genesis *genesis.Genesis
	// VerifyPoP checks BLS proofs of possession (validator registration).
	VerifyPoP func(pub [account.BLSPublicKeySize]byte, pop [account.BLSSignatureSize]byte) error
	Fees      Fees
	Pool      Pool // may be nil: blocks are then built empty
	Logger    hclog.Logger
	// Workers bounds goroutines for hashing and signatures (0: all CPUs).
	Workers int
	// MaxBlockTxs bounds the transactions Build puts in a block.
	MaxBlockTxs int
}

// Chain is the block tree with its canonical chain and head state.
type Chain struct {
	cfg    Config
	params exec.Params
	db     *store.DB
	st     *statedb.DB
	log    hclog.Logger

	mu      sync.Mutex // serialises writers
	rmu     sync.RWMutex
	head    *block.Block // guarded by rmu
	final   *block.Block // guarded by rmu
	genesis block.Hash

	cache *execCache
	// nextFee is the fee plugin's base fee for the child of each block this
	// node executed (its pricing's NextBaseFee), so building on it needs no
	// BaseFee call; guarded by mu, cleared when it reaches nextFeeMax.
	nextFee map[block.Hash]uint64
	recent  *recentBlocks
	subs    *subscribers
	txs     *txIndex // set by load
}

// Nested buckets of store.BucketIndex.
var (
	bucketHeight  = []byte("height")  // height u64 BE → canonical block hash
	bucketTxs     = []byte("txs")     // tx hash → block hash | index u32 BE (final, up to keyIndexed; txindex.go)
	bucketChanges = []byte("changes") // block hash → state changeset
	bucketCerts   = []byte("certs")   // block hash → finality certificate
	bucketPtrs    = []byte("ptrs")    // keyHead, keyFinal, keyGenesis → block hash
	keyHead       = []byte("head")
	keyFinal      = []byte("final")
	keyGenesis    = []byte("genesis")
)

// Open loads the chain from db, writing the genesis block on first start.
// It rebuilds the head state tree and checks its root against the head
// header, so a damaged or foreign data directory is refused, not served.
func Open(db *store.DB, cfg Config) (*Chain, error) {
	if cfg.Genesis == nil {
		return nil, errors.New("chain: no genesis")
	}
	if cfg.Fees == nil {
		return nil, errors.New("chain: no fee plugin")
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.MaxBlockTxs <= 0 {
		cfg.MaxBlockTxs = block.MaxTxs
	}
	c := &Chain{
		cfg: cfg, db: db, log: cfg.Logger,
		params: exec.Params{ChainID: cfg.Genesis.ChainID, UnbondingDelay: cfg.Genesis.UnbondingDelay, VerifyPoP: cfg.VerifyPoP, Workers: cfg.Workers,
			Market: cfg.Genesis.MarketParams()},
		cache:   newExecCache(64),
		nextFee: map[block.Hash]uint64{},
		recent:  newRecentBlocks(),
		subs:    newSubscribers(),
	}
	if err := db.Update(func(tx *store.Tx) error {
		ix := tx.Bucket(store.BucketIndex)
		for _, name := range [][]byte{bucketHeight, bucketTxs, bucketChanges, bucketCerts, bucketPtrs, bucketStatements, bucketProven} {
			if _, err := ix.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	st, err := statedb.Open(db, cfg.Workers)
	if err != nil {
		return nil, err
	}
	c.st = st
	gen, err := c.ptr(keyGenesis)
	if err != nil {
		return nil, err
	}
	if gen == nil {
		if err := c.writeGenesis(); err != nil {
			return nil, fmt.Errorf("chain: genesis: %w", err)
		}
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Chain) writeGenesis() error {
	g := c.cfg.Genesis
	if c.cfg.VerifyPoP != nil {
		for i, v := range g.Validators {
			var pk [account.BLSPublicKeySize]byte
			var pop [account.BLSSignatureSize]byte
			copy(pk[:], v.BLSPublicKey)
			copy(pop[:], v.ProofOfPossession)
			if err := c.cfg.VerifyPoP(pk, pop); err != nil {
				return fmt.Errorf("%w: validators[%d] (%s): proof of possession: %v", genesis.ErrInvalid, i, v.Address, err)
			}
		}
	}
	d := statedb.NewDelta(c.st)
	if err := g.Apply(d); err != nil {
		return err
	}
	cs := d.Changeset()
	ov := state.NewOverlay(c.st.Tree())
	if err := ov.Apply(cs); err != nil {
		return err
	}
	blk := g.Block(ov.Root())
	h := blk.Hash()
	return c.st.Commit(func(t *store.Tx) error {
		if err := putBlock(t, blk, nil, cs, nil); err != nil {
			return err
		}
		ix := t.Bucket(store.BucketIndex)
		if err := ix.Bucket(bucketHeight).Put(u64(0), h[:]); err != nil {
			return err
		}
		p := ix.Bucket(bucketPtrs)
		for _, k := range [][]byte{keyGenesis, keyHead, keyFinal} {
			if err := p.Put(k, h[:]); err != nil {
				return err
			}
		}
		return p.Put(keyIndexed, u64(0))
	}, ov, cs)
}

// load reads the pointers and checks the state against the head.
func (c *Chain) load() error {
	gen, err := c.ptr(keyGenesis)
	if err != nil {
		return err
	}
	want := c.cfg.Genesis.Block(state.EmptyRoot()) // root checked below via the stored block
	stored, err := c.blockByHash(*gen)
	if err != nil {
		return err
	}
	want.Header.StateRoot = stored.Header.StateRoot
	if want.Hash() != *gen {
		return fmt.Errorf("%w: the data directory holds chain %q with genesis %s; the genesis file gives chain %q with genesis %s",
			ErrGenesisMismatch, stored.Header.ChainID, *gen, want.Header.ChainID, want.Hash())
	}
	c.genesis = *gen
	hh, err := c.ptr(keyHead)
	if err != nil {
		return err
	}
	fh, err := c.ptr(keyFinal)
	if err != nil {
		return err
	}
	head, err := c.blockByHash(*hh)
	if err != nil {
		return err
	}
	final, err := c.blockByHash(*fh)
	if err != nil {
		return err
	}
	if root := c.st.Root(); root != head.Header.StateRoot {
		return fmt.Errorf("%w: state root %s rebuilt from %s does not match head %d's %s",
			ErrCorrupt, root, c.db.Path(), head.Header.Height, head.Header.StateRoot)
	}
	if err := c.loadTxIndex(head, final); err != nil {
		return err
	}
	c.rmu.Lock()
	c.head, c.final = head, final
	c.rmu.Unlock()
	return nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func (c *Chain) ptr(key []byte) (*block.Hash, error) {
	var h *block.Hash
	err := c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketIndex).Bucket(bucketPtrs).Get(key)
		if v == nil {
			return nil
		}
		if len(v) != block.HashSize {
			return fmt.Errorf("%w: %s pointer is %d bytes", ErrCorrupt, key, len(v))
		}
		h = new(block.Hash)
		copy(h[:], v)
		return nil
	})
	return h, err
}

// putBlock stores a committed block with its receipts and changeset.
// stmt is nil for genesis and blocks too large for batch/v1.
func putBlock(t *store.Tx, b *block.Block, receipts []*block.Receipt, cs *state.Changeset, stmt *batch.Public) error {
	h := b.Hash()
	if err := t.Bucket(store.BucketBlocks).Put(h[:], b.Encode()); err != nil {
		return err
	}
	if err := t.Bucket(store.BucketHeaders).Put(h[:], b.Header.Encode()); err != nil {
		return err
	}
	var rb []byte
	rb = binary.BigEndian.AppendUint32(rb, uint32(len(receipts)))
	for _, r := range receipts {
		e := r.Encode()
		rb = binary.BigEndian.AppendUint16(rb, uint16(len(e)))
		rb = append(rb, e...)
	}
	if err := t.Bucket(store.BucketReceipts).Put(h[:], rb); err != nil {
		return err
	}
	if stmt != nil {
		if err := t.Bucket(store.BucketIndex).Bucket(bucketStatements).Put(h[:], stmt.Encode()); err != nil {
			return err
		}
	}
	return t.Bucket(store.BucketIndex).Bucket(bucketChanges).Put(h[:], cs.Encode())
}

// Genesis returns the genesis block hash.
func (c *Chain) Genesis() block.Hash { return c.genesis }

// LongestChain reports whether the chain runs the longest-chain rules
// (genesis longest_chain): its final blocks are k-deep ones.
func (c *Chain) LongestChain() bool { return c.cfg.Genesis.LongestChain != nil }

// ChainID returns the chain id.
func (c *Chain) ChainID() string { return c.params.ChainID }

// State returns the head state (reads only).
func (c *Chain) State() *statedb.DB { return c.st }

// Head returns the canonical head and the last final block.
func (c *Chain) Head() (head, final *block.Block) {
	c.rmu.RLock()
	defer c.rmu.RUnlock()
	return c.head, c.final
}

// Header returns the committed header with hash h.
func (c *Chain) Header(h block.Hash) (*block.Header, error) {
	var hd *block.Header
	err := c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketHeaders).Get(h[:])
		if v == nil {
			return fmt.Errorf("%w: %s", ErrUnknownBlock, h)
		}
		var err error
		hd, err = block.DecodeHeader(v)
		if err != nil {
			return fmt.Errorf("%w: header %s: %v", ErrCorrupt, h, err)
		}
		if got := hd.Hash(); got != h {
			return fmt.Errorf("%w: header stored under %s hashes to %s", ErrCorrupt, h, got)
		}
		return nil
	})
	return hd, err
}

func (c *Chain) blockByHash(h block.Hash) (*block.Block, error) {
	if b := c.recent.get(h); b != nil {
		return b, nil
	}
	var b *block.Block
	err := c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketBlocks).Get(h[:])
		if v == nil {
			return fmt.Errorf("%w: %s", ErrUnknownBlock, h)
		}
		var err error
		b, err = block.Decode(v)
		if err != nil {
			return fmt.Errorf("%w: block %s: %v", ErrCorrupt, h, err)
		}
		return checkStored(h, b)
	})
	return b, err
}

// checkStored verifies a block read from the file against the hash it is
// stored under: the header must hash to it and the transactions to the
// header's root. (The header's transaction commitment is not recomputed:
// the hash covers it, the root covers the transactions' bytes, and it was
// checked against those bytes when the block was validated.) A flipped bit in a page is then a clear ErrCorrupt, never
// a block served with another hash or altered transactions.
func checkStored(h block.Hash, b *block.Block) error {
	if got := b.Hash(); got != h {
		return fmt.Errorf("%w: block stored under %s hashes to %s", ErrCorrupt, h, got)
	}
	if root := b.ComputeTxRoot(); root != b.Header.TxRoot {
		return fmt.Errorf("%w: block %s: its transactions do not match its header's transaction root", ErrCorrupt, h)
	}
	return nil
}

// BlockByHash returns a committed block.
func (c *Chain) BlockByHash(h block.Hash) (*block.Block, error) { return c.blockByHash(h) }

// CanonicalHash returns the hash of the canonical block at height.
func (c *Chain) CanonicalHash(height uint64) (block.Hash, error) {
	var h block.Hash
	err := c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketIndex).Bucket(bucketHeight).Get(u64(height))
		if v == nil {
			return fmt.Errorf("%w: no canonical block at height %d", ErrUnknownBlock, height)
		}
		copy(h[:], v)
		return nil
	})
	return h, err
}

// BlockByHeight returns the canonical block at height.
func (c *Chain) BlockByHeight(height uint64) (*block.Block, error) {
	h, err := c.CanonicalHash(height)
	if err != nil {
		return nil, err
	}
	return c.blockByHash(h)
}

// Receipts returns the receipts of a committed block.
func (c *Chain) Receipts(h block.Hash) ([]*block.Receipt, error) {
	var out []*block.Receipt
	err := c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketReceipts).Get(h[:])
		if v == nil {
			return fmt.Errorf("%w: %s", ErrUnknownBlock, h)
		}
		if len(v) < 4 {
			return fmt.Errorf("%w: receipts of %s", ErrCorrupt, h)
		}
		n := binary.BigEndian.Uint32(v)
		v = v[4:]
		for i := uint32(0); i < n; i++ {
			if len(v) < 2 || len(v) < 2+int(binary.BigEndian.Uint16(v)) {
				return fmt.Errorf("%w: receipts of %s truncated", ErrCorrupt, h)
			}
			l := int(binary.BigEndian.Uint16(v))
			r, err := block.DecodeReceipt(v[2 : 2+l])
			if err != nil {
				return fmt.Errorf("%w: receipt %d of %s: %v", ErrCorrupt, i, h, err)
			}
			out = append(out, r)
			v = v[2+l:]
		}
		if len(v) != 0 {
			return fmt.Errorf("%w: receipts of %s: %d trailing bytes", ErrCorrupt, h, len(v))
		}
		// The header's receipts root is the checksum: a flipped bit in a
		// receipt page is refused, never served as the block's outcome.
		hv := t.Bucket(store.BucketHeaders).Get(h[:])
		hd, err := block.DecodeHeader(hv)
		if hv == nil || err != nil || hd.Hash() != h {
			return fmt.Errorf("%w: header of %s, needed to check its receipts", ErrCorrupt, h)
		}
		if rr := block.ReceiptsRoot(out); rr != hd.ReceiptsRoot {
			return fmt.Errorf("%w: receipts of %s hash to root %x, the header says %x", ErrCorrupt, h, rr, hd.ReceiptsRoot)
		}
		return nil
	})
	return out, err
}

// TxLocation says where a canonical transaction is.
type TxLocation struct {
	Block block.Hash
	Index int
}

// TxLocation returns where tx h is on the canonical chain.
func (c *Chain) TxLocation(h tx.Hash) (TxLocation, bool, error) {
	if loc, ok := c.txs.lookup(h); ok {
		return loc, true, nil
	}
	var loc TxLocation
	var ok bool
	err := c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketIndex).Bucket(bucketTxs).Get(h[:])
		if v == nil {
			return nil
		}
		if len(v) != block.HashSize+4 {
			return fmt.Errorf("%w: tx index entry of %s", ErrCorrupt, h)
		}
		copy(loc.Block[:], v)
		loc.Index = int(binary.BigEndian.Uint32(v[block.HashSize:]))
		ok = true
		return nil
	})
	return loc, ok, err
}

// Finality of a committed block.
type Finality int

// Finality values, in order of strength.
const (
	Pending Finality = iota + 1
	Canonical
	Final
	// Proven: final, and a final block carries its STARK proof.
	Proven
)

func (f Finality) String() string {
	switch f {
	case Pending:
		return "pending"
	case Canonical:
		return "canonical"
	case Final:
		return "final"
	case Proven:
		return "proven"
	}
	return "unknown"
}

// FinalityOf returns the finality of a committed block.
func (c *Chain) FinalityOf(h *block.Header) Finality {
	hash := h.Hash()
	ch, err := c.CanonicalHash(h.Height)
	if err != nil || ch != hash {
		return Pending
	}
	_, final := c.Head()
	if h.Height <= final.Header.Height {
		if _, ok, err := c.ProofOf(h.Height); err == nil && ok {
			return Proven
		}
		return Final
	}
	return Canonical
}

// Certificate returns the finality certificate stored with a block.
func (c *Chain) Certificate(h block.Hash) ([]byte, error) {
	var out []byte
	err := c.db.View(func(t *store.Tx) error {
		out = bytes.Clone(t.Bucket(store.BucketIndex).Bucket(bucketCerts).Get(h[:]))
		return nil
	})
	return out, err
}

func (c *Chain) changeset(h block.Hash) (*state.Changeset, error) {
	var cs *state.Changeset
	err := c.db.View(func(t *store.Tx) error {
		v := t.Bucket(store.BucketIndex).Bucket(bucketChanges).Get(h[:])
		if v == nil {
			return fmt.Errorf("%w: no changeset for %s", ErrUnknownBlock, h)
		}
		var err error
		cs, err = state.DecodeChangeset(v)
		if err != nil {
			return fmt.Errorf("%w: changeset of %s: %v", ErrCorrupt, h, err)
		}
		return nil
	})
	return cs, err
}

// SetPool sets the mempool after Open (the pool reads the chain's state).
// Call it before the chain is used.
func (c *Chain) SetPool(p Pool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.Pool = p
}
