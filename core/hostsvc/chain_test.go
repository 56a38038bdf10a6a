package hostsvc

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

func newChainService(t *testing.T) (*Chain, account.Address) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "n.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var seed [32]byte
	seed[0] = 1
	addr := account.FromPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	g := &genesis.Genesis{ChainID: "trellis-test", GenesisTime: time.Unix(1_700_000_000, 0),
		Fee: genesis.Fee{InitialBaseFee: 10, BlockGasLimit: 1_000_000}, UnbondingDelay: 2,
		Accounts:   []genesis.Account{{Address: addr, Balance: 1_000_000}},
		Validators: []genesis.Validator{{Address: addr, BLSPublicKey: make([]byte, 48), ProofOfPossession: make([]byte, 96), Stake: 500}}}
	c, err := chain.Open(db, chain.Config{Genesis: g, Fees: feeclient.Client{Service: fee.Local{Params: fee.DefaultParams()}}})
	if err != nil {
		t.Fatal(err)
	}
	return NewChain(c), addr
}

func code(err error) codes.Code { return status.Code(err) }

// The Chain service as a consensus plugin drives it: build, validate,
// commit, set head, finalize; forks and their refusals; reads; events.
func TestChainService(t *testing.T) {
	s, val := newChainService(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	head, err := s.Head(ctx, &hostv1.HeadRequest{})
	if err != nil || head.GetHead().GetHeader().GetHeight() != 0 {
		t.Fatalf("head %v, %v", head, err)
	}
	g := head.GetHead()

	build := func(parent []byte, ts int64) *hostv1.Block {
		t.Helper()
		b, err := s.BuildBlock(ctx, &hostv1.BuildBlockRequest{ParentHash: parent, TimestampMs: ts, Proposer: val[:]})
		if err != nil {
			t.Fatal(err)
		}
		return b.GetBlock()
	}
	a1 := build(g.GetHash(), g.GetHeader().GetTimestampMs()+1)
	b1 := build(g.GetHash(), g.GetHeader().GetTimestampMs()+2)

	v, err := s.ValidateBlock(ctx, &hostv1.ValidateBlockRequest{Encoded: a1.GetEncoded()})
	if err != nil || !v.GetValid() {
		t.Fatalf("validate a1: %v %v", v, err)
	}
	// A tampered state root is an answer with a reason, not an error.
	bad, _ := block.Decode(a1.GetEncoded())
	bad.Header.StateRoot[0].SetUint64(7)
	v, err = s.ValidateBlock(ctx, &hostv1.ValidateBlockRequest{Encoded: bad.Encode()})
	if err != nil || v.GetValid() || !strings.Contains(v.GetReason(), "state root") {
		t.Fatalf("validate tampered: %v %v", v, err)
	}
	// An unknown parent is NotFound, so the plugin fetches it first.
	orphan, _ := block.Decode(a1.GetEncoded())
	orphan.Header.Parent[0] ^= 1
	if _, err := s.ValidateBlock(ctx, &hostv1.ValidateBlockRequest{Encoded: orphan.Encode()}); code(err) != codes.NotFound {
		t.Fatalf("unknown parent: %v", err)
	}
	if _, err := s.CommitBlock(ctx, &hostv1.CommitBlockRequest{Encoded: bad.Encode()}); code(err) != codes.InvalidArgument {
		t.Fatalf("commit invalid: %v", err)
	}

	events, err := eventsOf(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*hostv1.Block{a1, b1} {
		if _, err := s.CommitBlock(ctx, &hostv1.CommitBlockRequest{Encoded: b.GetEncoded()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetHead(ctx, &hostv1.SetHeadRequest{Hash: a1.GetHash()}); err != nil {
		t.Fatal(err)
	}
	sh, err := s.SetHead(ctx, &hostv1.SetHeadRequest{Hash: b1.GetHash()})
	if err != nil || len(sh.GetReverted()) != 1 || string(sh.GetReverted()[0]) != string(a1.GetHash()) {
		t.Fatalf("reorg to b1: %v %v", sh, err)
	}
	if _, err := s.Finalize(ctx, &hostv1.FinalizeRequest{Hash: b1.GetHash(), Certificate: []byte("cert")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetHead(ctx, &hostv1.SetHeadRequest{Hash: a1.GetHash()}); code(err) != codes.FailedPrecondition {
		t.Fatalf("revert final: %v", err)
	}
	if _, err := s.Finalize(ctx, &hostv1.FinalizeRequest{Hash: a1.GetHash()}); code(err) != codes.FailedPrecondition {
		t.Fatalf("finalize side block: %v", err)
	}
	if _, err := s.SetHead(ctx, &hostv1.SetHeadRequest{Hash: []byte{1, 2}}); code(err) != codes.InvalidArgument {
		t.Fatalf("short hash: %v", err)
	}

	got, err := s.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: 1}}, WithEncoded: true})
	if err != nil || string(got.GetBlock().GetHash()) != string(b1.GetHash()) || got.GetFinality() != hostv1.Finality_FINALITY_FINAL || len(got.GetBlock().GetEncoded()) == 0 {
		t.Fatalf("block 1: %v %v", got, err)
	}
	got, err = s.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Hash{Hash: a1.GetHash()}}})
	if err != nil || got.GetFinality() != hostv1.Finality_FINALITY_PENDING {
		t.Fatalf("side block: %v %v", got, err)
	}
	if _, err := s.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: 9}}}); code(err) != codes.NotFound {
		t.Fatalf("missing height: %v", err)
	}
	vs, err := s.ValidatorSet(ctx, &hostv1.ValidatorSetRequest{Height: 1})
	if err != nil || len(vs.GetSet().GetValidators()) != 1 || vs.GetSet().GetTotalStake() != 500 {
		t.Fatalf("validator set: %v %v", vs, err)
	}

	// Events: two blocks committed, two head changes, one finality.
	want := []string{"received", "received", "head", "head", "final"}
	for i, w := range want {
		select {
		case e := <-events:
			if e != w {
				t.Fatalf("event %d: %s, want %s", i, e, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d (%s) never came", i, w)
		}
	}
}

// eventStream is an in-process Events stream that names each event.
type eventStream struct {
	hostv1.Chain_EventsServer
	ctx  context.Context
	live chan struct{}
	out  chan string
}

func (e *eventStream) Context() context.Context { return e.ctx }
func (e *eventStream) SendHeader(metadata.MD) error {
	close(e.live)
	return nil
}
func (e *eventStream) Send(ev *hostv1.ChainEvent) error {
	switch ev.GetEvent().(type) {
	case *hostv1.ChainEvent_BlockReceived:
		e.out <- "received"
	case *hostv1.ChainEvent_HeadChanged:
		e.out <- "head"
	case *hostv1.ChainEvent_Finalized:
		e.out <- "final"
	case *hostv1.ChainEvent_MempoolSize:
		e.out <- fmt.Sprintf("pool %d", ev.GetMempoolSize())
	}
	return nil
}

// fakePool is a mempool of n transactions whose changes the test sends.
type fakePool struct {
	n  atomic.Int64
	ch chan mempool.Event
}

func (p *fakePool) Len() int { return int(p.n.Load()) }
func (p *fakePool) Subscribe() (<-chan mempool.Event, func()) {
	return p.ch, func() {}
}

// Events reports the pool's size at the start and when it becomes empty
// or non-empty, not on every change.
func TestEventsMempoolSize(t *testing.T) {
	s, _ := newChainService(t)
	p := &fakePool{ch: make(chan mempool.Event, 16)}
	s.WithPool(p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := eventsOf(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	change := func(n int64) {
		p.n.Store(n)
		p.ch <- mempool.Event{Kind: mempool.Added}
	}
	expect := func(w string) {
		t.Helper()
		select {
		case e := <-events:
			if e != w {
				t.Fatalf("event %s, want %s", e, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %s never came", w)
		}
	}
	expect("pool 0")
	change(1) // empty to one: reported
	expect("pool 1")
	change(5) // still not empty: not reported
	change(0) // empty: reported
	expect("pool 0")
	change(0) // still empty: not reported
	change(2)
	expect("pool 2")
	select {
	case e := <-events:
		t.Fatalf("unexpected event %s", e)
	case <-time.After(50 * time.Millisecond):
	}
}

// eventsOf starts the Events handler and returns once it is live.
func eventsOf(ctx context.Context, s *Chain) (<-chan string, error) {
	st := &eventStream{ctx: ctx, live: make(chan struct{}), out: make(chan string, 16)}
	go func() { _ = s.Events(&hostv1.EventsRequest{}, st) }()
	<-st.live
	return st.out, nil
}
