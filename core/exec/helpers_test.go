package exec

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

const (
	testChain    = "trellis-test"
	testBalance  = 1_000_000_000
	testStake    = 5_000
	testDelay    = 2
	testBaseFee  = 10
	testGasLimit = 1_000_000
	testMaxFee   = 100
	testTip      = 2
)

func key(i int) ed25519.PrivateKey {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
	return ed25519.NewKeyFromSeed(seed[:])
}

func addrOf(i int) account.Address {
	return account.FromPublicKey(key(i).Public().(ed25519.PublicKey))
}

// fixture is a state in a real bbolt file after a genesis of n funded
// accounts (key(0) .. key(n-1)); account 0 is also a validator.
type fixture struct {
	t      testing.TB
	st     *store.DB
	db     *statedb.DB
	params Params
	pricer Pricer
	height uint64 // the last committed height
	total  uint64 // Supply + Burned at genesis
	// proposer receives the sequencer share; key(99) has no account at
	// genesis, so the first fee creates it.
	proposer account.Address
}

func blsKey(b byte) [account.BLSPublicKeySize]byte {
	var k [account.BLSPublicKeySize]byte
	k[0] = 0xa0
	k[1] = b
	return k
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := statedb.Open(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	g := &genesis.Genesis{
		ChainID: testChain, GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		Fee:            genesis.Fee{InitialBaseFee: testBaseFee, BlockGasLimit: testGasLimit},
		UnbondingDelay: testDelay,
	}
	for i := range n {
		g.Accounts = append(g.Accounts, genesis.Account{Address: addrOf(i), Balance: testBalance})
	}
	k := blsKey(0)
	g.Validators = []genesis.Validator{{Address: addrOf(0), BLSPublicKey: k[:], ProofOfPossession: make([]byte, 96), Stake: testStake}}
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	d := statedb.NewDelta(db)
	if err := g.Apply(d); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(nil, nil, d.Changeset()); err != nil {
		t.Fatal(err)
	}
	gl := db.Globals()
	f := &fixture{
		t: t, st: st, db: db, pricer: localPricer{fee.DefaultParams()},
		params: Params{
			ChainID: testChain, UnbondingDelay: testDelay, Workers: 1,
			VerifyPoP: func([account.BLSPublicKeySize]byte, [account.BLSSignatureSize]byte) error { return nil },
		},
		total:    gl.Supply + gl.Burned,
		proposer: addrOf(99),
	}
	return f
}

// env is the next block's environment: the fee plugin sees a parent at its
// gas target, so the base fee stays testBaseFee.
func (f *fixture) env() Env {
	return envAt(f.height+1, testGasLimit, f.proposer)
}

func envAt(height, gasLimit uint64, proposer account.Address) Env {
	return Env{
		Height: height, Proposer: proposer, BaseFee: testBaseFee, GasLimit: gasLimit,
		Parent: FeeParent{BaseFee: testBaseFee, GasUsed: gasLimit / 2, GasLimit: gasLimit, Height: height - 1},
	}
}

// sign returns a signed transaction from key(from) with the test fees.
func sign(from int, nonce uint64, body tx.Body) *tx.Tx {
	t := &tx.Tx{ChainID: testChain, Nonce: nonce, GasLimit: tx.BodyGas(body), MaxFeePerGas: testMaxFee, MaxPriorityFeePerGas: testTip, Body: body}
	t.Sign(key(from))
	return t
}

func (f *fixture) exec(mode Mode, txs ...*tx.Tx) (*Result, error) {
	return Execute(context.Background(), f.db, f.params, f.env(), txs, f.pricer, mode, true)
}

// commit executes txs in Validate mode (they must all be valid), commits
// the block and checks supply conservation.
func (f *fixture) commit(txs ...*tx.Tx) *Result {
	f.t.Helper()
	res, err := Execute(context.Background(), f.db, f.params, f.env(), txs, f.pricer, Validate, false)
	if err != nil {
		f.t.Fatal(err)
	}
	f.apply(res)
	return res
}

func (f *fixture) apply(res *Result) {
	f.t.Helper()
	if err := f.db.Commit(nil, nil, res.Delta.Changeset()); err != nil {
		f.t.Fatal(err)
	}
	f.height++
	f.checkSupply(f.db)
}

// checkSupply: balances plus locked stake over all accounts equal the
// supply, and supply plus burned is what genesis created.
func (f *fixture) checkSupply(r statedb.Reader) {
	f.t.Helper()
	g := r.Globals()
	var sum uint64
	for i := account.Index(1); i < account.Index(g.Accounts); i++ {
		a, err := r.Account(i)
		if err != nil {
			f.t.Fatalf("account %d: %v", i, err)
		}
		sum += a.Balance + a.Locked()
	}
	if sum != g.Supply {
		f.t.Fatalf("height %d: balances and stake sum to %d, supply is %d", f.height, sum, g.Supply)
	}
	if g.Supply+g.Burned != f.total {
		f.t.Fatalf("height %d: supply %d + burned %d = %d, genesis made %d", f.height, g.Supply, g.Burned, g.Supply+g.Burned, f.total)
	}
}

func (f *fixture) account(r statedb.Reader, a account.Address) *account.Account {
	f.t.Helper()
	_, acc, err := statedb.AccountAt(r, a)
	if errors.Is(err, statedb.ErrNoAccount) {
		return &account.Account{Address: a}
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return acc
}

// expectedFee is EIP-1559's fee for t at testBaseFee, computed here
// independently of plugins/fee.
func expectedFee(t *tx.Tx) uint64 {
	tip := min(t.MaxPriorityFeePerGas, t.MaxFeePerGas-testBaseFee)
	return t.Gas() * (testBaseFee + tip)
}

// localPricer is the fee market of plugins/fee-eip1559 in-process, through
// its native API (core/feeclient converts the plugin's protobuf outside
// this package).
type localPricer struct{ params fee.Params }

func (l localPricer) PriceBlock(_ context.Context, parent FeeParent, gasLimit uint64, txs []TxFee) (*BlockPrice, error) {
	if gasLimit != 0 && gasLimit != parent.GasLimit {
		return nil, fmt.Errorf("gas limit %d differs from the parent's %d", gasLimit, parent.GasLimit)
	}
	in := make([]fee.TxInput, len(txs))
	for i, t := range txs {
		in[i] = fee.TxInput{GasLimit: t.GasLimit, GasUsed: t.GasUsed, MaxFeePerGas: t.MaxFeePerGas, MaxPriorityFeePerGas: t.MaxPriorityFeePerGas}
	}
	bp, err := fee.PriceBlock(l.params, fee.ParentInfo{Height: parent.Height, BaseFee: parent.BaseFee, GasUsed: parent.GasUsed, GasLimit: parent.GasLimit}, in)
	if err != nil {
		return nil, err
	}
	out := &BlockPrice{BaseFee: bp.BaseFee, NextBaseFee: bp.NextBaseFee, Txs: make([]TxPrice, len(bp.Txs))}
	for i, r := range bp.Txs {
		out.Txs[i] = TxPrice{Fee: r.Fee, Tip: r.TipAmount,
			Split: FeeSplit{Burn: r.Shares.Burn, Treasury: r.Shares.Treasury, Sequencer: r.Shares.Sequencer, Prover: r.Shares.Prover}}
		if !r.Included() {
			out.Txs[i].Rejected, out.Txs[i].Reason = true, r.Err().Error()
		}
	}
	return out, nil
}
