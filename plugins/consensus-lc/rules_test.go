package lc

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// fakeChain serves block 0 and a validator set (this package's unit
// tests only).
type fakeChain struct {
	hostv1.ChainClient
	genesis *hostv1.Block
	set     *hostv1.ValidatorSet
	blocks  []*hostv1.Block // canonical blocks 1.., all final
	asked   []uint64        // heights ValidatorSet was asked for
	reports [][]byte        // evidence handed to ReportEvidence
}

func (f *fakeChain) ReportEvidence(_ context.Context, r *hostv1.ReportEvidenceRequest, _ ...grpc.CallOption) (*hostv1.ReportEvidenceResponse, error) {
	f.reports = append(f.reports, r.GetEvidence())
	return &hostv1.ReportEvidenceResponse{TxHash: bytes.Repeat([]byte{1}, 32)}, nil
}

func (f *fakeChain) GetBlock(_ context.Context, r *hostv1.GetBlockRequest, _ ...grpc.CallOption) (*hostv1.GetBlockResponse, error) {
	if r.GetRef().GetHash() != nil {
		return nil, errors.New("not found")
	}
	h := r.GetRef().GetHeight()
	switch {
	case h == 0:
		return &hostv1.GetBlockResponse{Block: f.genesis}, nil
	case h <= uint64(len(f.blocks)):
		return &hostv1.GetBlockResponse{Block: f.blocks[h-1]}, nil
	}
	return nil, errors.New("not found")
}

func (f *fakeChain) Head(context.Context, *hostv1.HeadRequest, ...grpc.CallOption) (*hostv1.HeadResponse, error) {
	top := f.genesis
	if n := len(f.blocks); n > 0 {
		top = f.blocks[n-1]
	}
	return &hostv1.HeadResponse{Head: top, Finalized: top}, nil
}

func (f *fakeChain) ValidatorSet(_ context.Context, r *hostv1.ValidatorSetRequest, _ ...grpc.CallOption) (*hostv1.ValidatorSetResponse, error) {
	f.asked = append(f.asked, r.GetHeight())
	return &hostv1.ValidatorSetResponse{Set: f.set}, nil
}

type validator struct {
	sk   *bls.SecretKey
	addr account.Address
}

// rig is an engine over a fake chain of 4 equal validators, with f = 1/2
// so that tickets win often.
func rig(t *testing.T) (*engine, []validator) {
	t.Helper()
	p := leader.Params{SlotMs: 100, EpochSlots: 1000, Active: leader.Coefficient{Num: 1, Den: 2}, K: 10, TieSlots: 5}
	g := &hostv1.Block{Hash: bytes.Repeat([]byte{7}, 32), Header: &hostv1.Header{ChainId: "lc-test", ParentHash: make([]byte, 32),
		TimestampMs: 1_000_000, ConsensusData: p.Encode()}}
	set := &hostv1.ValidatorSet{TotalStake: 400}
	var vs []validator
	for i := range 4 {
		sk, _ := bls.GenerateKey(rand.Reader)
		v := validator{sk: sk}
		v.addr[0] = byte(i + 1)
		pk := sk.PublicKey().Bytes()
		set.Validators = append(set.Validators, &hostv1.Validator{Address: v.addr[:], BlsPublicKey: pk[:], Stake: 100})
		vs = append(vs, v)
	}
	e, err := newEngine(context.Background(), services{chain: &fakeChain{genesis: g, set: set}}, nil, "lc-test", hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	return e, vs
}

// ticket finds a slot from `from` on that v leads, and its proof.
func ticket(t *testing.T, e *engine, v validator, from uint64, wantLead bool) (uint64, bls.Signature) {
	t.Helper()
	in, err := e.ep.get(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for s := from; s < from+1000; s++ {
		msg, _ := leader.ProofMessage(in.nonce[:], s)
		proof := bls.Sign(v.sk, msg)
		if leader.Leads(leader.OutputOf(proof), in.holders[v.addr].threshold) == wantLead {
			return s, proof
		}
	}
	t.Fatal("no slot found")
	return 0, bls.Signature{}
}

// signedHeader is a header at height 1 on genesis for slot, signed by
// signer with proof.
func signedHeader(e *engine, proposer account.Address, signer *bls.SecretKey, slot uint64, proof bls.Signature) block.Header {
	hd := block.Header{ChainID: "lc-test", Height: 1, Parent: e.genesis.Hash, TimestampMs: e.slotStart(slot), Proposer: proposer}
	d := leader.BlockData{Slot: slot, Proof: proof.Bytes()}
	m := leader.BlockMessage(hd.ChainID, slot, hd.Height, leader.UnsignedHash(hd, d))
	d.Sig = bls.Sign(signer, m.SignBytes()).Bytes()
	hd.ConsensusData = d.Encode()
	return hd
}

// TestCheckHeader: a leader's block passes; each forgery is refused with
// its reason.
func TestCheckHeader(t *testing.T) {
	e, vs := rig(t)
	ctx := context.Background()
	v := vs[0]
	slot, proof := ticket(t, e, v, 1, true)
	losing, lproof := ticket(t, e, v, 1, false)
	now := e.slotStart(slot) + 10
	good := signedHeader(e, v.addr, v.sk, slot, proof)
	m, err := e.checkHeader(ctx, &good, e.genesis, now)
	if err != nil || m.Slot != slot || m.Output != leader.OutputOf(proof) {
		t.Fatalf("a leader's block: %+v, %v", m, err)
	}
	otherProof := func() bls.Signature { // v's proof for another slot
		s2, p2 := ticket(t, e, v, slot+1, true)
		_ = s2
		return p2
	}()
	for _, tc := range []struct {
		name string
		hd   block.Header
		now  int64
		want string
	}{
		{"proof for another slot", signedHeader(e, v.addr, v.sk, slot, otherProof), now, "leader proof"},
		{"ticket above the threshold", signedHeader(e, v.addr, v.sk, losing, lproof), e.slotStart(losing), "does not lead"},
		{"signed by another key", signedHeader(e, v.addr, vs[1].sk, slot, proof), now, "block signature"},
		{"proposer with another's proof", signedHeader(e, vs[1].addr, vs[1].sk, slot, proof), now, "leader proof"},
		{"no stake", signedHeader(e, account.Address{0xaa}, v.sk, slot, proof), now, "holds no stake"},
		{"future slot", good, e.slotStart(slot) - 2000, "from the future"},
		{"timestamp off the slot", func() block.Header { h := good; h.TimestampMs++; return h }(), now, "not the start of slot"},
		{"wrong chain", func() block.Header { h := good; h.ChainID = "other"; return h }(), now, "chain"},
		{"slot 0 (the parent's)", signedHeader(e, v.addr, v.sk, 0, proof), now, "not after its parent's slot"},
	} {
		if _, err := e.checkHeader(ctx, &tc.hd, e.genesis, tc.now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

// TestEquivocationEvidence: two blocks one leader signed for one slot make
// evidence that verifies under its key and names the block height.
func TestEquivocationEvidence(t *testing.T) {
	e, vs := rig(t)
	v := vs[2]
	slot, proof := ticket(t, e, v, 1, true)
	a := signedHeader(e, v.addr, v.sk, slot, proof)
	b := a
	b.TxRoot[0] = 1 // another block
	d, _ := leader.DecodeBlockData(a.ConsensusData)
	m := leader.BlockMessage(b.ChainID, slot, b.Height, leader.UnsignedHash(b, d))
	d.Sig = bls.Sign(v.sk, m.SignBytes()).Bytes()
	b.ConsensusData = d.Encode()
	ev, err := evidenceOf(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Verify("lc-test", v.sk.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if ev.Height() != 1 || ev.A.Step != vote.StepBlock || ev.Validator != v.addr {
		t.Fatalf("evidence %+v", ev)
	}
	if _, err := evidenceOf(a, a); !errors.Is(err, vote.ErrNoConflict) {
		t.Fatalf("one block twice: %v", err)
	}
}

// TestEpochNonce: epoch 1's nonce is NextNonce over the outputs of epoch
// 0's blocks before the cut-off, in chain order, from the genesis nonce.
func TestEpochNonce(t *testing.T) {
	e, vs := rig(t)
	fc := e.svc.chain.(*fakeChain)
	var outs []leader.Output
	cut := e.p.NonceCutoff(0) // 920
	for i, slot := range []uint64{3, 50, cut - 1, cut, 1005} {
		msg, _ := leader.ProofMessage([]byte("any"), slot)
		proof := bls.Sign(vs[i%4].sk, msg)
		d := leader.BlockData{Slot: slot, Proof: proof.Bytes()}
		fc.blocks = append(fc.blocks, &hostv1.Block{Hash: bytes.Repeat([]byte{byte(i + 1)}, 32),
			Header: &hostv1.Header{Height: uint64(i + 1), ParentHash: make([]byte, 32), ConsensusData: d.Encode()}})
		if slot < cut {
			outs = append(outs, leader.OutputOf(proof))
		}
	}
	in, err := e.ep.get(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	g := leader.GenesisNonce(e.genesis.Hash)
	if want := leader.NextNonce(g, outs); in.nonce != want || !in.settled {
		t.Fatalf("nonce of epoch 1 %x (settled %v), want %x", in.nonce, in.settled, want)
	}
	if in.nonce == leader.NextNonce(g, append(outs, outs[0])) || in.nonce == g {
		t.Fatal("the nonce ignores which outputs count")
	}
	if in0, _ := e.ep.get(context.Background(), 0); in0.nonce != g {
		t.Fatal("epoch 0 does not use the genesis nonce")
	}
	// The stake of epoch 3 is the set at the start of epoch 1 (slot
	// 1000): after block 4, the last before it.
	if _, err := e.ep.get(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if got := fc.asked[len(fc.asked)-1]; got != 4 {
		t.Fatalf("epoch 3's stake read at height %d, want 4", got)
	}
	if h, _ := e.ep.firstAtOrAfter(context.Background(), 2*e.p.EpochSlots, 5); h != 6 {
		t.Fatalf("first block of epoch 2 at height %d, want 6 (none yet)", h)
	}
	if h, _ := e.ep.firstAtOrAfter(context.Background(), e.p.EpochSlots, 5); h != 5 {
		t.Fatalf("first block of epoch 1 at height %d, want 5", h)
	}
}

// TestOrphanPoolBounded: a flood of blocks with unknown parents keeps at
// most MaxOrphans, dropping the oldest, and a parent's arrival releases
// its children.
func TestOrphanPoolBounded(t *testing.T) {
	e, _ := rig(t)
	var first block.Hash
	for i := range MaxOrphans + 50 {
		b := &block.Block{Header: block.Header{ChainID: "lc-test", Height: uint64(i) + 2, Parent: block.Hash{byte(i), byte(i >> 8), 1}}}
		if i == 0 {
			first = b.Header.Parent
		}
		e.park(context.Background(), b.Hash(), b.Header.Parent, queued{enc: b.Encode()})
	}
	if n := len(e.orphans); n != MaxOrphans || e.n.orphaned != 50 {
		t.Fatalf("%d orphans held, %d dropped; want %d and 50", n, e.n.orphaned, MaxOrphans)
	}
	if got := e.children(first); len(got) != 0 {
		t.Fatal("the oldest orphan was not the one dropped")
	}
	n := MaxOrphans + 49
	last := block.Hash{byte(n), byte(n >> 8), 1}
	if got := e.children(last); len(got) != 1 || len(e.orphans) != MaxOrphans-1 {
		t.Fatalf("children of the newest parent: %d, pool %d", len(got), len(e.orphans))
	}
}

// TestEquivocationCaught: the engine remembers each leader's block per
// slot; the same block again is nothing, a second block for the slot is
// reported to the host as evidence that verifies under the leader's key.
func TestEquivocationCaught(t *testing.T) {
	e, vs := rig(t)
	fc := e.svc.chain.(*fakeChain)
	v := vs[1]
	slot, proof := ticket(t, e, v, 1, true)
	a := signedHeader(e, v.addr, v.sk, slot, proof)
	b := a
	b.GasUsed = 7 // same slot, another block
	d, _ := leader.DecodeBlockData(a.ConsensusData)
	m := leader.BlockMessage(b.ChainID, slot, b.Height, leader.UnsignedHash(b, d))
	d.Sig = bls.Sign(v.sk, m.SignBytes()).Bytes()
	b.ConsensusData = d.Encode()
	ctx := context.Background()
	ma, err := e.checkHeader(ctx, &a, e.genesis, e.slotStart(slot))
	if err != nil {
		t.Fatal(err)
	}
	mb, err := e.checkHeader(ctx, &b, e.genesis, e.slotStart(slot))
	if err != nil {
		t.Fatal(err)
	}
	e.watchEquivocation(ctx, &a, ma)
	e.watchEquivocation(ctx, &a, ma)
	if len(fc.reports) != 0 {
		t.Fatal("the same block twice was reported")
	}
	e.watchEquivocation(ctx, &b, mb)
	if len(fc.reports) != 1 || e.n.equivocations != 1 {
		t.Fatalf("%d reports, %d equivocations; want 1 and 1", len(fc.reports), e.n.equivocations)
	}
	ev, err := vote.DecodeEvidence(fc.reports[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Verify("lc-test", v.sk.PublicKey()); err != nil || ev.Validator != v.addr {
		t.Fatalf("reported evidence: %v (validator %s)", err, ev.Validator)
	}
}
