package evidence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
)

const sinkChain = "trellis-test"

func sinkBLS(t *testing.T, b byte) *bls.SecretKey {
	t.Helper()
	sk, err := bls.SecretKeyFromBytes(bytes.Repeat([]byte{b}, bls.SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func sinkEd(b byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)) }

func sinkAddr(k ed25519.PrivateKey) account.Address {
	return account.FromPublicKey(k.Public().(ed25519.PublicKey))
}

// sinkLedger is a chain and mempool as a node wires them, with the node's
// signer (key 1, funded) and an offending validator (key 2) whose BLS key
// is registered at genesis.
type sinkLedger struct {
	db   *store.DB
	c    *chain.Chain
	pool *mempool.Mempool
	s    *signer.Signer
	sink *Sink
	off  *bls.SecretKey
}

func newSinkLedger(t *testing.T) *sinkLedger {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	off := sinkBLS(t, 0x22)
	pk, pop := off.PublicKey().Bytes(), bls.ProofOfPossession(off).Bytes()
	g := &genesis.Genesis{ChainID: sinkChain, GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		Fee: genesis.Fee{InitialBaseFee: 10, BlockGasLimit: 1_000_000}, UnbondingDelay: 2,
		Accounts:   []genesis.Account{{Address: sinkAddr(sinkEd(1)), Balance: 1_000_000_000}, {Address: sinkAddr(sinkEd(2)), Balance: 1_000}},
		Validators: []genesis.Validator{{Address: sinkAddr(sinkEd(2)), BLSPublicKey: pk[:], ProofOfPossession: pop[:], Stake: 10_000}},
	}
	c, err := chain.Open(db, chain.Config{Genesis: g, VerifyPoP: func(pub [account.BLSPublicKeySize]byte, pop [account.BLSSignatureSize]byte) error {
		return bls.VerifyEncodedProofOfPossession(pub[:], pop[:])
	}, Fees: feeclient.Client{Service: fee.Local{Params: fee.DefaultParams()}}, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	mp := mempool.New(mempool.Config{ChainID: sinkChain}, mempool.HeadState{DB: c.State()})
	c.SetPool(mempool.ChainPool{Pool: mp, DB: c.State()})
	s, err := signer.New(db, sinkBLS(t, 0x11), sinkEd(1))
	if err != nil {
		t.Fatal(err)
	}
	l := &sinkLedger{db: db, c: c, pool: mp, s: s, off: off}
	l.sink = New(Config{Chain: c, Pool: mp, Submit: &mempool.Submitter{ChainID: sinkChain, Pool: mp, From: s.PublicKeys().Address,
		Sign: s.SignTx, Quote: func(context.Context) (uint64, uint64, error) { return 100, 2, nil }}})
	return l
}

// evidence is a double precommit by the signer of sk at height h, named
// as validator who.
func (l *sinkLedger) evidence(t *testing.T, sk *bls.SecretKey, who account.Address, h uint64) *vote.Evidence {
	t.Helper()
	a := vote.Message{ChainID: sinkChain, Height: h, Step: vote.StepPrecommit, BlockHash: bytes.Repeat([]byte{1}, 32)}
	b := vote.Message{ChainID: sinkChain, Height: h, Step: vote.StepPrecommit, BlockHash: bytes.Repeat([]byte{2}, 32)}
	sa, sb := bls.Sign(sk, a.SignBytes()).Bytes(), bls.Sign(sk, b.SignBytes()).Bytes()
	e, err := vote.NewEvidence(who, a, sa[:], b, sb[:])
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// extend builds a block from the mempool and makes it the head.
func (l *sinkLedger) extend(t *testing.T) *block.Block {
	t.Helper()
	ctx := context.Background()
	head, _ := l.c.Head()
	b, err := l.c.Build(ctx, chain.BuildRequest{Parent: head.Hash(), TimestampMs: head.Header.TimestampMs + 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.c.Commit(ctx, b.Encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.c.SetHead(ctx, b.Hash()); err != nil {
		t.Fatal(err)
	}
	return b
}

// Evidence reported by a plugin becomes a slashing transaction from the
// node's account; the offender is slashed in the next block and leaves
// the validator set; later reports are deduplicated.
func TestEvidenceSink(t *testing.T) {
	ctx := context.Background()
	l := newSinkLedger(t)
	offender := sinkAddr(sinkEd(2))
	e := l.evidence(t, l.off, offender, 1)

	for _, bad := range []struct {
		name string
		e    *vote.Evidence
		msg  string
	}{
		{"signed by another key", l.evidence(t, sinkBLS(t, 0x33), offender, 1), "evidence against"},
		{"not a validator", l.evidence(t, l.off, sinkAddr(sinkEd(1)), 1), "is not a validator"},
		{"no account", l.evidence(t, l.off, sinkAddr(sinkEd(9)), 1), "is not a validator"},
	} {
		if _, err := l.sink.Report(ctx, bad.e); !errors.Is(err, vote.ErrInvalid) || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s: %v", bad.name, err)
		}
	}
	if l.pool.Len() != 0 {
		t.Fatal("an invalid report reached the mempool")
	}

	h, err := l.sink.Report(ctx, e)
	if err != nil || h == (tx.Hash{}) {
		t.Fatalf("report: %v %v", h, err)
	}
	st, ok := l.pool.Get(h)
	if !ok {
		t.Fatal("the slashing transaction is not in the mempool")
	}
	if st.Sender() != l.s.PublicKeys().Address || st.Nonce != 0 || st.Body.(tx.Slash).Evidence != string(e.Encode()) {
		t.Fatalf("slashing transaction %+v", st)
	}
	// Pending: the same or another offence of the validator adds nothing.
	for _, again := range []*vote.Evidence{e, l.evidence(t, l.off, offender, 1)} {
		if h2, err := l.sink.Report(ctx, again); err != nil || h2 != (tx.Hash{}) || l.pool.Len() != 1 {
			t.Fatalf("report while pending: %v %v (pool %d)", h2, err, l.pool.Len())
		}
	}

	b := l.extend(t)
	rc, err := l.c.Receipts(b.Hash())
	if err != nil || len(rc) != 1 || rc[0].Status != block.StatusOK {
		t.Fatalf("block receipts %v %v", rc, err)
	}
	_, a, err := statedb.AccountAt(l.c.State(), offender)
	if err != nil || a.Validator.Slashed != 500 || a.Bonded != 9_500 {
		t.Fatalf("offender after the block: %+v %v", a, err)
	}
	vs, _, _, err := l.c.ValidatorSet(1)
	if err != nil || len(vs) != 0 {
		t.Fatalf("validator set after the slash: %v %v", vs, err)
	}
	// Tombstoned: a new report is a no-op, even from a fresh sink.
	l.sink.sent = map[account.Address]tx.Hash{}
	if h, err := l.sink.Report(ctx, l.evidence(t, l.off, offender, 1)); err != nil || h != (tx.Hash{}) {
		t.Fatalf("report after the slash: %v %v", h, err)
	}
}
