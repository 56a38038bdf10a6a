package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

var ctx = context.Background()

// build builds and commits a block on parent with txs.
func (h *harness) build(parent block.Hash, ts int64, txs ...*tx.Tx) *block.Block {
	h.t.Helper()
	h.pool.queue(txs...)
	b, err := h.c.Build(ctx, BuildRequest{Parent: parent, TimestampMs: ts, Proposer: h.addrs[0]})
	if err != nil {
		h.t.Fatalf("build: %v", err)
	}
	if _, err := h.c.Commit(ctx, b.Encode()); err != nil {
		h.t.Fatalf("commit: %v", err)
	}
	return b
}

// extend builds on the head, makes it the head and finalizes it.
func (h *harness) extend(txs ...*tx.Tx) *block.Block {
	h.t.Helper()
	head, _ := h.c.Head()
	b := h.build(head.Hash(), head.Header.TimestampMs+1000, txs...)
	if _, err := h.c.SetHead(ctx, b.Hash()); err != nil {
		h.t.Fatalf("set head: %v", err)
	}
	if err := h.c.Finalize(ctx, b.Hash(), []byte("cert")); err != nil {
		h.t.Fatalf("finalize: %v", err)
	}
	return b
}

func (h *harness) account(addr account.Address) *account.Account {
	h.t.Helper()
	_, a, err := statedb.AccountAt(h.c.State(), addr)
	if err != nil {
		h.t.Fatalf("account %s: %v", addr, err)
	}
	return a
}

// conserved checks that every token is accounted for: the sum of every
// account's balance and locked stake equals the recorded supply.
func (h *harness) conserved() {
	h.t.Helper()
	st := h.c.State()
	g := st.Globals()
	var sum uint64
	for i := uint32(1); i < g.Accounts; i++ {
		a, err := st.Account(account.Index(i))
		if err != nil {
			h.t.Fatalf("account %d: %v", i, err)
		}
		sum += a.Balance + a.Locked()
	}
	if sum != g.Supply {
		h.t.Fatalf("supply %d, accounts hold %d (burned %d)", g.Supply, sum, g.Burned)
	}
}

func TestCommitRestartSameState(t *testing.T) {
	h := newHarness(t, 4)
	defer h.close()
	h.conserved()
	g0 := h.c.State().Globals()
	var blocks []*block.Block
	for n := range uint64(5) {
		blocks = append(blocks, h.extend(
			h.transfer(1, h.addrs[2], 1000+n, n),
			h.transfer(2, h.addrs[3], 7, n),
			h.transfer(3, account.FromPublicKey(key(100+int(n)).Public().(ed25519.PublicKey)), 5, n), // creates an account
		))
		h.conserved()
	}
	head, final := h.c.Head()
	if head.Header.Height != 5 || final.Hash() != head.Hash() {
		t.Fatalf("head %d final %d, want 5 and equal", head.Header.Height, final.Header.Height)
	}
	g := h.c.State().Globals()
	if g.Burned == 0 || g.Supply != g0.Supply-g.Burned {
		t.Fatalf("supply %d burned %d, genesis supply %d", g.Supply, g.Burned, g0.Supply)
	}
	if g.Accounts != g0.Accounts+5 {
		t.Fatalf("accounts %d, want %d", g.Accounts, g0.Accounts+5)
	}
	root := h.c.State().Root()
	bal := h.account(h.addrs[2]).Balance
	rcpts, err := h.c.Receipts(blocks[2].Hash())
	if err != nil || len(rcpts) != 3 || rcpts[0].Status != block.StatusOK || rcpts[0].FeePaid == 0 {
		t.Fatalf("receipts %v, %v", rcpts, err)
	}

	h.reopen()
	if got := h.c.State().Root(); got != root {
		t.Fatalf("root after restart %s, before %s", got, root)
	}
	head2, final2 := h.c.Head()
	if head2.Hash() != head.Hash() || final2.Hash() != final.Hash() {
		t.Fatal("head or final moved across restart")
	}
	if got := h.account(h.addrs[2]).Balance; got != bal {
		t.Fatalf("balance after restart %d, before %d", got, bal)
	}
	rcpts2, err := h.c.Receipts(blocks[2].Hash())
	if err != nil || len(rcpts2) != 3 || *rcpts2[1] != *rcpts[1] {
		t.Fatalf("receipts after restart differ: %v %v", rcpts2, err)
	}
	loc, ok, err := h.c.TxLocation(blocks[3].Txs[1].Hash())
	if err != nil || !ok || loc.Block != blocks[3].Hash() || loc.Index != 1 {
		t.Fatalf("tx location %+v %v %v", loc, ok, err)
	}
	h.conserved()
	// The chain goes on after the restart.
	h.extend(h.transfer(1, h.addrs[2], 1, 5))
	h.conserved()
}

func TestReorgRollsBackExactly(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	base := h.extend(h.transfer(1, h.addrs[2], 10, 0))
	rootBase := h.c.State().Root()
	balBase := h.account(h.addrs[2]).Balance

	// Two forks on base: A moves 100 to account 2 and creates an account;
	// B moves 7 the other way.
	a1 := h.build(base.Hash(), base.Header.TimestampMs+1, h.transfer(1, h.addrs[2], 100, 1), h.transfer(2, account.FromPublicKey(key(50).Public().(ed25519.PublicKey)), 3, 0))
	a2 := h.build(a1.Hash(), a1.Header.TimestampMs+1, h.transfer(1, h.addrs[2], 100, 2))
	b1 := h.build(base.Hash(), base.Header.TimestampMs+2, h.transfer(2, h.addrs[1], 7, 0))

	if _, err := h.c.SetHead(ctx, a2.Hash()); err != nil {
		t.Fatal(err)
	}
	if got := h.account(account.FromPublicKey(key(50).Public().(ed25519.PublicKey))).Balance; got != 3 {
		t.Fatalf("after A: new account holds %d, want 3", got)
	}
	if h.c.State().Root() != a2.Header.StateRoot {
		t.Fatal("root after A differs from the header")
	}
	reverted, err := h.c.SetHead(ctx, b1.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if len(reverted) != 2 || reverted[0] != a2.Hash() || reverted[1] != a1.Hash() {
		t.Fatalf("reverted %v", reverted)
	}
	if len(h.pool.back) != 3 {
		t.Fatalf("%d transactions reinjected, want 3", len(h.pool.back))
	}
	if h.c.State().Root() != b1.Header.StateRoot {
		t.Fatal("root after B differs from the header")
	}
	if _, ok, _ := h.c.State().Lookup(account.FromPublicKey(key(50).Public().(ed25519.PublicKey))); ok {
		t.Fatal("account created on A survives the reorg to B")
	}
	h.conserved()
	// Back to base and the state is exactly as before.
	if _, err := h.c.SetHead(ctx, base.Hash()); err != nil {
		t.Fatal(err)
	}
	if h.c.State().Root() != rootBase || h.account(h.addrs[2]).Balance != balBase {
		t.Fatal("state at base after two reorgs differs")
	}
	if _, ok, _ := h.c.TxLocation(a1.Txs[0].Hash()); ok {
		t.Fatal("reverted transaction still indexed")
	}
	// Validating on a fork while the head is elsewhere uses the fork's state.
	a3 := h.build(a2.Hash(), a2.Header.TimestampMs+1, h.transfer(1, h.addrs[2], 1, 3))
	if _, err := h.c.SetHead(ctx, a3.Hash()); err != nil {
		t.Fatal(err)
	}
	if h.c.State().Root() != a3.Header.StateRoot {
		t.Fatal("root at a3 differs")
	}
	// Finality: once a3 is final, B cannot become the head.
	if err := h.c.Finalize(ctx, a3.Hash(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.SetHead(ctx, b1.Hash()); !errors.Is(err, ErrRevertFinal) {
		t.Fatalf("reorg below final: %v", err)
	}
	if err := h.c.Finalize(ctx, b1.Hash(), nil); !errors.Is(err, ErrNotCanonical) {
		t.Fatalf("finalize a side block: %v", err)
	}
	h.conserved()
	h.reopen()
	if h.c.State().Root() != a3.Header.StateRoot {
		t.Fatal("root after restart differs")
	}
}

func TestProofsAtKeptHeights(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	for n := range uint64(4) {
		h.extend(h.transfer(1, h.addrs[2], 50, n))
	}
	for height := uint64(0); height <= 4; height++ {
		p, err := h.c.ProveAccount(h.addrs[2], height)
		if err != nil {
			t.Fatalf("height %d: %v", height, err)
		}
		if err := p.Verify(); err != nil {
			t.Fatalf("height %d: %v", height, err)
		}
		want := uint64(1_000_000_000) + 50*height
		if p.Account.Balance != want {
			t.Fatalf("height %d: balance %d, want %d", height, p.Account.Balance, want)
		}
		bad := *p
		bad.Siblings[3][0].SetUint64(12345)
		if bad.Verify() == nil {
			t.Fatalf("height %d: tampered proof verifies", height)
		}
	}
}

func TestValidatorSet(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	vs, total, _, err := h.c.ValidatorSet(0)
	if err != nil || len(vs) != 1 || total != 5000 || vs[0].Account.Address != h.addrs[0] {
		t.Fatalf("genesis set %v total %d err %v", vs, total, err)
	}
	h.extend(h.sign(1, 0, tx.Delegate{Validator: h.addrs[0], Amount: 1000}))
	bond := tx.Bond{Amount: 300}
	bond.BLSPublicKey[0] = 0xb0
	h.extend(h.sign(2, 0, bond))
	vs, total, _, err = h.c.ValidatorSet(2)
	if err != nil || len(vs) != 2 || total != 6300 {
		t.Fatalf("set at 2: %v total %d err %v", vs, total, err)
	}
	// The set at height 1 still sees one validator with the delegation.
	vs, total, _, err = h.c.ValidatorSet(1)
	if err != nil || len(vs) != 1 || total != 6000 {
		t.Fatalf("set at 1: %v total %d err %v", vs, total, err)
	}
	// Unbond the delegation; it returns after the 2-block delay.
	bal := h.account(h.addrs[1]).Balance
	ub := h.extend(h.sign(1, 1, tx.Unbond{Validator: h.addrs[0], Amount: 1000}))
	rc, err := h.c.Receipts(ub.Hash())
	if err != nil || len(rc) != 1 || rc[0].Status != block.StatusOK {
		t.Fatalf("unbond receipts %v %v", rc, err)
	}
	a := h.account(h.addrs[1])
	if len(a.Unbonding) != 1 || len(a.Delegations) != 0 {
		t.Fatalf("after unbond: %+v", a)
	}
	h.extend()
	h.extend()
	a = h.account(h.addrs[1])
	if len(a.Unbonding) != 0 || a.Balance != bal-rc[0].FeePaid+1000 {
		t.Fatalf("unbonding not released: %+v (balance before %d)", a, bal)
	}
	h.conserved()
}

// A block damaged on disk is reported as corrupt, never served: a flipped
// bit in the header changes its hash, one in a transaction its root. After
// a restart (past the cache of recent blocks) the damage is found by Open,
// which reads the blocks its transaction index needs, or else by the read.
func TestDamagedBlockIsRefused(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	b := h.extend(h.transfer(1, h.addrs[2], 10, 0))
	for n := range uint64(3) {
		h.extend(h.transfer(1, h.addrs[2], 10, n+1))
	}
	enc := b.Encode()
	put := func(v []byte) {
		if err := h.db.Update(func(tx *store.Tx) error {
			hh := b.Hash()
			return tx.Bucket(store.BucketBlocks).Put(hh[:], v)
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []int{10, len(enc) - 70} { // a header byte; a signature byte of the transaction
		bad := bytes.Clone(enc)
		bad[at] ^= 1
		put(bad)
		if err := h.db.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(h.path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := Open(db, Config{Genesis: h.gen, Fees: feeclient.Client{Service: fee.Local{Params: fee.DefaultParams()}}, Pool: h.pool,
			Workers: 2, VerifyPoP: func([48]byte, [96]byte) error { return nil }})
		if err == nil {
			_, err = c.BlockByHash(b.Hash())
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), b.Hash().String()) {
			t.Fatalf("byte %d flipped: %v; want ErrCorrupt naming the block", at, err)
		}
		h.db = db
		put(enc)
		h.reopen()
		if _, err := h.c.BlockByHash(b.Hash()); err != nil {
			t.Fatalf("the repaired block: %v", err)
		}
	}
}

// Receipts and headers damaged on disk are refused the same way: the
// header's receipts root and the header's own hash are their checksums.
func TestDamagedReceiptsAndHeaderAreRefused(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	b := h.extend(h.transfer(1, h.addrs[2], 10, 0))
	hh := b.Hash()
	for _, bucket := range []string{store.BucketReceipts, store.BucketHeaders} {
		var orig []byte
		if err := h.db.View(func(tx *store.Tx) error {
			orig = bytes.Clone(tx.Bucket(bucket).Get(hh[:]))
			return nil
		}); err != nil || orig == nil {
			t.Fatalf("%s: %v", bucket, err)
		}
		for _, at := range []int{len(orig) - 1, len(orig) / 2} {
			bad := bytes.Clone(orig)
			bad[at] ^= 1
			if err := h.db.Update(func(tx *store.Tx) error { return tx.Bucket(bucket).Put(hh[:], bad) }); err != nil {
				t.Fatal(err)
			}
			var err error
			if bucket == store.BucketReceipts {
				_, err = h.c.Receipts(hh)
			} else {
				_, err = h.c.Header(hh)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), hh.String()) {
				t.Fatalf("%s byte %d flipped: %v; want ErrCorrupt naming the block", bucket, at, err)
			}
		}
		if err := h.db.Update(func(tx *store.Tx) error { return tx.Bucket(bucket).Put(hh[:], orig) }); err != nil {
			t.Fatal(err)
		}
		if _, err := h.c.Receipts(hh); err != nil {
			t.Fatalf("repaired %s: %v", bucket, err)
		}
	}
}

// TestBlockLogLines: every new head and final block is one info line with
// height, hash prefix and transactions; blocks from
// long ago (a sync catching up) log at debug only.
func TestBlockLogLines(t *testing.T) {
	h := newHarness(t, 3)
	defer h.close()
	var buf bytes.Buffer
	h.c.log = hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace})
	old := h.extend(h.transfer(1, h.addrs[2], 10, 0)) // genesis-relative timestamps: long ago
	if !strings.Contains(buf.String(), "[DEBUG] head: height=1") || !strings.Contains(buf.String(), "[DEBUG] final: height=1") {
		t.Fatalf("an old block's lines:\n%s", buf.String())
	}
	buf.Reset()
	b := h.build(old.Hash(), time.Now().UnixMilli(), h.transfer(1, h.addrs[2], 10, 1))
	if _, err := h.c.SetHead(ctx, b.Hash()); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Finalize(ctx, b.Hash(), []byte("cert")); err != nil {
		t.Fatal(err)
	}
	short := b.Hash().String()[:12]
	for _, want := range []string{"[INFO]  head: height=2 hash=\"" + short, "txs=1", "[INFO]  final: height=2 hash=\"" + short} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("no %q in:\n%s", want, buf.String())
		}
	}
}
