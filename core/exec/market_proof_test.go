package exec

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// TestSettleWithRealProofs runs the market end to end with real batch/v1
// proofs (batch.Verify, not the stub): each block's statement is built from
// its changeset and proven with the CPU backend; the next block opens the
// job for it and a later block settles it with the proof. The blocks proven
// include a registration, a job opening and a settlement, so this also
// checks that the batch AIR accepts every kind of market leaf update.
func TestSettleWithRealProofs(t *testing.T) {
	if testing.Short() {
		t.Skip("proves three blocks")
	}
	f := newFixture(t, 4)
	f.params.Market = testMarket()
	var parent *batch.Public
	proofs := map[uint64][]byte{}
	// block executes txs with the parent's statement, builds and proves the
	// block's own statement, and commits.
	block := func(txs ...*tx.Tx) *Result {
		t.Helper()
		env := f.env()
		env.ParentStatement = parent
		res, err := Execute(context.Background(), f.db, f.params, env, txs, f.pricer, Validate, false)
		if err != nil {
			t.Fatal(err)
		}
		cs := res.Delta.Changeset()
		pub, w, err := batch.Build(state.NewOverlay(f.db.Tree()), cs)
		if err != nil {
			t.Fatal(err)
		}
		f.apply(res)
		if f.db.Root() != pub.NewRoot {
			t.Fatalf("height %d: statement's new root is not the committed root", f.height)
		}
		proof, err := batch.Prove(pub, w, stark.NewCPU(0), nil)
		if err != nil {
			t.Fatalf("proving block %d: %v", f.height, err)
		}
		proofs[f.height] = proof
		parent = &pub
		mustOK(t, res)
		return res
	}
	nonce := uint64(0)
	next := func(body tx.Body) *tx.Tx { t := sign(1, nonce, body); nonce++; return t }

	block(next(register(0, 5000)))                             // 1: registration
	block()                                                    // 2: opens job 1, assigned to key 1
	block(next(tx.Proof{Height: 1, Proof: string(proofs[1])})) // 3: opens job 2, settles job 1

	// A tampered proof, and the proof of another block, are refused with
	// the stark reason.
	bad := append([]byte(nil), proofs[2]...)
	bad[len(bad)/2] ^= 1
	env := f.env()
	env.ParentStatement = parent
	for name, p := range map[string][]byte{"tampered": bad, "another block's": proofs[1]} {
		_, err := Execute(context.Background(), f.db, f.params, env, []*tx.Tx{sign(1, nonce, tx.Proof{Height: 2, Proof: string(p)})}, f.pricer, Validate, false)
		if !errors.Is(err, ErrProof) || !errors.Is(err, batch.ErrProof) {
			t.Fatalf("%s proof: %v", name, err)
		}
	}

	block(next(tx.Proof{Height: 2, Proof: string(proofs[2])}), next(tx.Proof{Height: 3, Proof: string(proofs[3])})) // 4
	p := f.account(f.db, addrOf(1)).Prover
	if p.Proved != 3 || p.Missed != 0 {
		t.Fatalf("prover %+v: want 3 settled jobs", *p)
	}
	// Block 4 opened the job for block 3 and settled it in its own
	// transactions, with jobs 1 and 2: nothing is left open.
	e, err := f.db.Account(account.EscrowIndex)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Jobs) != 0 {
		t.Fatalf("open jobs %+v: want none", e.Jobs)
	}
	t.Logf("proofs of blocks 1-3: %d, %d, %d bytes", len(proofs[1]), len(proofs[2]), len(proofs[3]))
}

// FuzzProofTx sends proof bytes through a proof transaction's checks with
// the real verifier: whatever the bytes, the answer is an error wrapping
// ErrProof (or acceptance of the one real proof), never a panic. The input
// is an edit of the real proof (bytes written at an offset, then a cut),
// not the proof itself: mutating a 150 KB input under coverage
// instrumentation ran ~30 executions in 20 s, an edit thousands, and an
// edit of a valid proof reaches every stage of the verifier where random
// bytes stop at the header. Random bytes are FuzzDecodeProof's job
// (protocol/stark).
func FuzzProofTx(f *testing.F) {
	fx := newFixture(f, 3)
	fx.params.Market = testMarket()
	// Block 1 registers key 1; its statement and proof are real.
	res, err := Execute(context.Background(), fx.db, fx.params, fx.env(), []*tx.Tx{sign(1, 0, register(0, 5000))}, fx.pricer, Validate, false)
	if err != nil {
		f.Fatal(err)
	}
	pub, w, err := batch.Build(state.NewOverlay(fx.db.Tree()), res.Delta.Changeset())
	if err != nil {
		f.Fatal(err)
	}
	fx.apply(res)
	proof, err := batch.Prove(pub, w, stark.NewCPU(0), nil)
	if err != nil {
		f.Fatal(err)
	}
	// Block 2 opens job 1 for key 1.
	env := fx.env()
	env.ParentStatement = &pub
	res, err = Execute(context.Background(), fx.db, fx.params, env, nil, fx.pricer, Validate, false)
	if err != nil {
		f.Fatal(err)
	}
	fx.apply(res)
	f.Add(uint32(0), []byte{}, uint32(0))                 // the proof itself
	f.Add(uint32(0), []byte{}, uint32(len(proof)/2))      // cut in half
	f.Add(uint32(0), []byte{}, uint32(1))                 // one byte
	f.Add(uint32(len(proof)-5), []byte{0x80}, uint32(0))  // a flipped bit near the end
	f.Add(uint32(3), []byte{0xff, 0xff, 0xff}, uint32(0)) // header sizes
	f.Fuzz(func(t *testing.T, at uint32, patch []byte, cut uint32) {
		p := append([]byte(nil), proof...)
		if len(patch) > 0 {
			off := int(at % uint32(len(p)))
			p = append(p[:off], append(append([]byte(nil), patch...), p[min(off+len(patch), len(p)):]...)...)
		}
		if cut > 0 {
			p = p[:int(cut%uint32(len(p)))]
		}
		if len(p) == 0 || len(p) > tx.MaxProofSize {
			return // CheckStateless refuses these before execution
		}
		d := statedb.NewDelta(fx.db)
		tr := sign(1, 1, tx.Proof{Height: 1, Proof: string(p)})
		err := checkProof(d, tr, tr.Body.(tx.Proof), map[tx.Hash]error{})
		if err == nil {
			if !bytes.Equal(p, proof) {
				t.Fatalf("accepted %d bytes that are not the proof", len(p))
			}
			return
		}
		if !errors.Is(err, ErrProof) {
			t.Fatalf("error %v does not wrap ErrProof", err)
		}
	})
}
