package chain

import (
	"crypto/ed25519"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// listPool is a test mempool: Select returns what was queued.
type listPool struct {
	mu      sync.Mutex
	txs     []*tx.Tx
	removed []tx.Hash
	back    []*tx.Tx
}

func (p *listPool) Select(_, _ uint64, _ int) []*tx.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.txs
	p.txs = nil
	return out
}
func (p *listPool) Remove(h []tx.Hash)  { p.removed = append(p.removed, h...) }
func (p *listPool) Reinject(t []*tx.Tx) { p.back = append(p.back, t...) }
func (p *listPool) HeadChanged()        {}
func (p *listPool) queue(t ...*tx.Tx) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.txs = append(p.txs, t...)
}

const testChain = "trellis-test"

type harness struct {
	t     *testing.T
	path  string
	gen   *genesis.Genesis
	keys  []ed25519.PrivateKey
	addrs []account.Address
	pool  *listPool
	db    *store.DB
	c     *Chain
	fees  Fees // nil: the EIP-1559 plugin's rules in-process
}

func key(i int) ed25519.PrivateKey {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
	return ed25519.NewKeyFromSeed(seed[:])
}

func newHarness(t *testing.T, accounts int) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "node.db"), pool: &listPool{}}
	h.gen = &genesis.Genesis{
		ChainID: testChain, GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		Fee:            genesis.Fee{InitialBaseFee: 10, BlockGasLimit: 1_000_000},
		UnbondingDelay: 2,
	}
	for i := range accounts {
		k := key(i)
		h.keys = append(h.keys, k)
		a := account.FromPublicKey(k.Public().(ed25519.PublicKey))
		h.addrs = append(h.addrs, a)
		h.gen.Accounts = append(h.gen.Accounts, genesis.Account{Address: a, Balance: 1_000_000_000})
	}
	v := genesis.Validator{Address: h.addrs[0], BLSPublicKey: make([]byte, 48), ProofOfPossession: make([]byte, 96), Stake: 5_000}
	v.BLSPublicKey[0] = 0xa0
	h.gen.Validators = append(h.gen.Validators, v)
	if err := h.gen.Check(); err != nil {
		t.Fatal(err)
	}
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	db, err := store.Open(h.path, store.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	var fees Fees = feeclient.Client{Service: fee.Local{Params: fee.DefaultParams()}}
	if h.fees != nil {
		fees = h.fees
	}
	c, err := Open(db, Config{
		Genesis: h.gen, Fees: fees, Pool: h.pool, Workers: 2,
		VerifyPoP: func([48]byte, [96]byte) error { return nil },
	})
	if err != nil {
		db.Close()
		h.t.Fatal(err)
	}
	h.db, h.c = db, c
}

func (h *harness) reopen() {
	h.t.Helper()
	if err := h.db.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

// reopenFresh starts over with an empty database (after a genesis edit).
func (h *harness) reopenFresh() {
	h.t.Helper()
	if err := h.db.Close(); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Remove(h.path); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

func (h *harness) close() { h.db.Close() }

// transfer signs a transfer from account i.
func (h *harness) transfer(from int, to account.Address, amount, nonce uint64) *tx.Tx {
	return h.sign(from, nonce, tx.Transfer{To: to, Amount: amount})
}

func (h *harness) sign(from int, nonce uint64, body tx.Body) *tx.Tx {
	t := &tx.Tx{ChainID: testChain, Nonce: nonce, GasLimit: tx.IntrinsicGas(body.Type()), MaxFeePerGas: 100, MaxPriorityFeePerGas: 2, Body: body}
	t.Sign(h.keys[from])
	return t
}
