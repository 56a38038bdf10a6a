package batch_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/tx"
)

const execChain = "batch-test"

func execKey(i int) ed25519.PrivateKey {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
	return ed25519.NewKeyFromSeed(seed[:])
}

func execAddr(i int) account.Address {
	return account.FromPublicKey(execKey(i).Public().(ed25519.PublicKey))
}

// TestExecutedBlocks proves blocks that core/exec executed (fees, escrow,
// validator bond, delegation, unbonding) from a genesis, checking each
// statement against the state root after the block.
func TestExecutedBlocks(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := statedb.Open(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	const baseFee, gasLimit = 10, 1_000_000
	g := &genesis.Genesis{
		ChainID: execChain, GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		Fee:            genesis.Fee{InitialBaseFee: baseFee, BlockGasLimit: gasLimit},
		UnbondingDelay: 2,
	}
	for i := range 6 {
		g.Accounts = append(g.Accounts, genesis.Account{Address: execAddr(i), Balance: 1_000_000_000})
	}
	var bls [account.BLSPublicKeySize]byte
	bls[0] = 0xa0
	g.Validators = []genesis.Validator{{Address: execAddr(0), BLSPublicKey: bls[:], ProofOfPossession: make([]byte, 96), Stake: 5_000}}
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
	params := exec.Params{ChainID: execChain, UnbondingDelay: 2, Workers: 1,
		VerifyPoP: func([account.BLSPublicKeySize]byte, [account.BLSSignatureSize]byte) error { return nil }}
	pricer := feeclient.Client{Service: fee.Local{Params: fee.DefaultParams()}}
	nonces := map[int]uint64{}
	sign := func(from int, body tx.Body) *tx.Tx {
		x := &tx.Tx{ChainID: execChain, Nonce: nonces[from], GasLimit: tx.BodyGas(body), MaxFeePerGas: 100, MaxPriorityFeePerGas: 2, Body: body}
		nonces[from]++
		x.Sign(execKey(from))
		return x
	}
	var bond tx.Bond
	bond.Amount = 7_000
	bond.BLSPublicKey[0], bond.BLSPublicKey[1] = 0xa0, 3
	blocks := [][]*tx.Tx{
		{
			sign(1, tx.Transfer{To: execAddr(2), Amount: 1_234_567}),
			sign(1, tx.Transfer{To: execAddr(50), Amount: 5_000_000}), // new account
			sign(1, tx.Transfer{To: execAddr(51), Amount: 1 << 20}),
			sign(3, tx.Transfer{To: execAddr(1), Amount: 5}),
		},
		{
			sign(2, tx.Delegate{Validator: execAddr(0), Amount: 50_000}),
			sign(3, bond),
			sign(4, tx.Transfer{To: execAddr(50), Amount: 7}),
		},
		{
			sign(2, tx.Unbond{Validator: execAddr(0), Amount: 20_000}),
			sign(50, tx.Transfer{To: execAddr(5), Amount: 1}),
		},
		{}, {}, // the unbonding is released
	}
	for h, txs := range blocks {
		height := uint64(h + 1)
		env := exec.Env{Height: height, Proposer: execAddr(99), BaseFee: baseFee, GasLimit: gasLimit,
			Parent: exec.FeeParent{BaseFee: baseFee, GasUsed: gasLimit / 2, GasLimit: gasLimit, Height: height - 1}}
		res, err := exec.Execute(context.Background(), db, params, env, txs, pricer, exec.Validate, false)
		if err != nil {
			t.Fatalf("block %d: %v", height, err)
		}
		cs := res.Delta.Changeset()
		ov := state.NewOverlay(db.Tree())
		pub, w, err := batch.Build(ov, cs)
		if err != nil {
			t.Fatalf("block %d: %v", height, err)
		}
		if hc, err := batch.HashChanges(cs); err != nil || hc != pub.BatchHash {
			t.Fatalf("block %d: HashChanges %v %v", height, hc, err)
		}
		if err := db.Commit(nil, nil, cs); err != nil {
			t.Fatal(err)
		}
		if db.Root() != pub.NewRoot {
			t.Fatalf("block %d: new root differs from the state's", height)
		}
		proof, err := batch.Prove(pub, w, nil, nil)
		if err != nil {
			t.Fatalf("block %d (%d updates): %v", height, pub.Updates, err)
		}
		if err := batch.Verify(pub, proof); err != nil {
			t.Fatalf("block %d: %v", height, err)
		}
	}
}
