package bft

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

func sampleMessages() []interface{ Encode() []byte } {
	h := bytes.Repeat([]byte{4}, 32)
	p := &Proposal{Height: 9, Round: 2, POLRound: 1, Block: []byte("block"), Signature: [96]byte{1}}
	copy(p.BlockHash[:], h)
	return []interface{ Encode() []byte }{
		p,
		&Proposal{Height: 1, Round: 0, POLRound: -1, Block: []byte{0}},
		&Vote{Height: 9, Round: 2, Step: vote.StepPrevote, BlockHash: h, Validator: [32]byte{7}, Signature: [96]byte{2}},
		&Vote{Height: 9, Round: 0, Step: vote.StepPrecommit},
		&Commit{Certificate: []byte{1, 2}, Block: []byte("b")},
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		enc := m.Encode()
		d, err := Decode(enc)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(d, m) {
			t.Fatalf("%T: decoded %+v, want %+v", m, d, m)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	vote0 := (&Vote{Height: 1, Step: vote.StepPrevote}).Encode()
	prop := (&Proposal{Height: 1, Round: 1, POLRound: -1, Block: []byte{1}}).Encode()
	mut := func(b []byte, i int, v byte) []byte { c := append([]byte(nil), b...); c[i] = v; return c }
	for name, b := range map[string][]byte{
		"empty":           nil,
		"version":         mut(vote0, 0, 2),
		"type":            mut(vote0, 1, 9),
		"truncated vote":  vote0[:len(vote0)-1],
		"trailing":        append(append([]byte(nil), vote0...), 0),
		"vote step":       mut(vote0, 14, byte(vote.StepProposal)),
		"vote hash len":   mut(vote0, 15, 5),
		"height 0":        (&Vote{Step: vote.StepPrevote}).Encode(),
		"round too high":  (&Vote{Height: 1, Round: MaxRound + 1, Step: vote.StepPrevote}).Encode(),
		"POL not below":   (&Proposal{Height: 1, Round: 1, POLRound: 1, Block: []byte{1}}).Encode(),
		"POL below -1":    (&Proposal{Height: 1, Round: 1, POLRound: -2, Block: []byte{1}}).Encode(),
		"empty block":     (&Proposal{Height: 1, POLRound: -1}).Encode(),
		"block len":       mut(prop, len(prop)-2, 9),
		"oversized":       make([]byte, MaxMessageSize+1),
		"commit no block": (&Commit{Certificate: []byte{1}}).Encode(),
		"commit huge cert": func() []byte {
			b := (&Commit{Certificate: []byte{1}, Block: []byte{1}}).Encode()
			b[2] = 0xff
			return b
		}(),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrMessage) {
			t.Errorf("%s: got %v, want ErrMessage", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(m.Encode())
	}
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		enc := m.(interface{ Encode() []byte }).Encode()
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, data)
		}
	})
}

func FuzzDecodeCertificate(f *testing.F) {
	vals, _ := newVals(f, 3, nil)
	f.Add(certBy(f, vals, 2, 1, bytes.Repeat([]byte{1}, 32), 0, 2).Encode())
	f.Add(make([]byte, certFixed+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCertificate(data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Encode(), data) {
			t.Fatal("certificate encoding is not canonical")
		}
		for i := -1; i <= c.N; i++ {
			c.Signed(i)
		}
	})
}

func sampleWAL() *walState {
	return &walState{Height: 4, Round: 3, Step: stepPrecommit, LockedRound: 2, LockedHash: bytes.Repeat([]byte{1}, 32),
		ValidRound: 2, ValidHash: bytes.Repeat([]byte{1}, 32),
		Proposals: []walProposal{{Round: 1, POLRound: -1, BlockHash: [32]byte{3}, Signature: [96]byte{4}}},
		Votes: []walVote{{Round: 2, Step: vote.StepPrevote, BlockHash: bytes.Repeat([]byte{1}, 32), Signature: [96]byte{5}},
			{Round: 3, Step: vote.StepPrevote, Signature: [96]byte{6}}}}
}

func TestWALRoundTrip(t *testing.T) {
	for _, w := range []*walState{sampleWAL(), {Height: 1, Step: stepPropose, LockedRound: -1, ValidRound: -1}} {
		d, err := decodeWAL(w.encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, w) {
			t.Fatalf("decoded %+v, want %+v", d, w)
		}
	}
	bad := sampleWAL()
	bad.LockedHash = nil // a lock round without a block
	if _, err := decodeWAL(bad.encode()); !errors.Is(err, ErrWAL) {
		t.Fatalf("lock without hash: %v", err)
	}
	enc := sampleWAL().encode()
	for _, b := range [][]byte{nil, {2}, enc[:len(enc)-1], append(append([]byte(nil), enc...), 0)} {
		if _, err := decodeWAL(b); !errors.Is(err, ErrWAL) {
			t.Errorf("%d bytes: %v", len(b), err)
		}
	}
}

// TestWALEveryShape round-trips a WAL with every combination of kept
// proposals and votes. A decoder that appended to the shared read buffer
// zeroed the vote count whenever the node had made no proposal at the
// height, so most restarts lost their votes and lock.
func TestWALEveryShape(t *testing.T) {
	for np := range 3 {
		for nv := range 3 {
			w := sampleWAL()
			w.Proposals, w.Votes = sampleWAL().Proposals[:0], nil
			for i := range np {
				w.Proposals = append(w.Proposals, walProposal{Round: uint32(i), POLRound: -1, BlockHash: [32]byte{byte(i + 1)}, Signature: [96]byte{byte(i + 2)}})
			}
			for i := range nv {
				w.Votes = append(w.Votes, walVote{Round: uint32(i), Step: vote.StepPrecommit, BlockHash: bytes.Repeat([]byte{byte(i + 1)}, 32), Signature: [96]byte{byte(i + 3)}})
			}
			if np == 0 {
				w.Proposals = nil
			}
			d, err := decodeWAL(w.encode())
			if err != nil {
				t.Fatalf("%d proposals, %d votes: %v", np, nv, err)
			}
			if !reflect.DeepEqual(d, w) {
				t.Fatalf("%d proposals, %d votes: decoded %+v, want %+v", np, nv, d, w)
			}
		}
	}
}

func FuzzDecodeWAL(f *testing.F) {
	f.Add(sampleWAL().encode())
	noProposal := sampleWAL()
	noProposal.Proposals = nil
	f.Add(noProposal.encode())
	f.Add((&walState{Height: 1, Step: stepPropose, LockedRound: -1, ValidRound: -1}).encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := decodeWAL(data)
		if err != nil {
			return
		}
		if !bytes.Equal(w.encode(), data) {
			t.Fatal("WAL encoding is not canonical")
		}
	})
}

func TestQuorum(t *testing.T) {
	for _, tc := range []struct {
		stake, total uint64
		q, third     bool
	}{
		{2, 3, false, true}, {3, 4, true, true}, {7, 10, true, true}, {20, 30, false, true},
		{1, 3, false, false}, {2, 4, false, true}, {math.MaxUint64, math.MaxUint64, true, true},
		{math.MaxUint64 / 3 * 2, math.MaxUint64, false, true},
	} {
		if Quorum(tc.stake, tc.total) != tc.q || oneThird(tc.stake, tc.total) != tc.third {
			t.Errorf("%d of %d: quorum %v, third %v", tc.stake, tc.total, Quorum(tc.stake, tc.total), oneThird(tc.stake, tc.total))
		}
	}
}

// TestProposerWeighted: proposers follow stake, and every node computes
// the same one.
func TestProposerWeighted(t *testing.T) {
	_, pset := newVals(t, 3, []uint64{1, 1, 8})
	set, err := NewValidatorSet(pset)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 3)
	for h := uint64(1); h <= 2000; h++ {
		counts[set.Proposer("c", h, 0)]++
	}
	if counts[2] < counts[0]+counts[1] {
		t.Fatalf("proposer counts %v do not follow stake 1:1:8", counts)
	}
	if a, b := set.Proposer("c", 5, 1), set.Proposer("c", 5, 1); a != b {
		t.Fatal("proposer not deterministic")
	}
	// The order of the host's list does not matter.
	rev := &hostv1.ValidatorSet{Validators: []*hostv1.Validator{pset.Validators[2], pset.Validators[0], pset.Validators[1]}}
	set2, _ := NewValidatorSet(rev)
	for r := uint32(0); r < 50; r++ {
		if set.Proposer("c", 7, r) != set2.Proposer("c", 7, r) {
			t.Fatal("proposer depends on the host's order")
		}
	}
}

func TestNewValidatorSetRejects(t *testing.T) {
	_, good := newVals(t, 2, nil)
	dup := &hostv1.ValidatorSet{Validators: []*hostv1.Validator{good.Validators[0], good.Validators[0]}}
	noStake := &hostv1.ValidatorSet{Validators: []*hostv1.Validator{{Address: make([]byte, 32)}}}
	shortAddr := &hostv1.ValidatorSet{Validators: []*hostv1.Validator{{Address: []byte{1}, Stake: 1}}}
	overflow := &hostv1.ValidatorSet{Validators: []*hostv1.Validator{
		{Address: append([]byte{1}, make([]byte, 31)...), Stake: math.MaxUint64}, {Address: make([]byte, 32), Stake: 1}}}
	for name, s := range map[string]*hostv1.ValidatorSet{"empty": {}, "dup": dup, "no stake": noStake, "short address": shortAddr, "overflow": overflow} {
		if _, err := NewValidatorSet(s); !errors.Is(err, ErrValidatorSet) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A key without a valid proof of possession is kept but unusable (a
	// fresh key: one whose PoP verified once stays trusted).
	_, fresh := newVals(t, 2, nil)
	bad := &hostv1.ValidatorSet{Validators: []*hostv1.Validator{{Address: make([]byte, 32), Stake: 1, BlsPublicKey: fresh.Validators[0].BlsPublicKey, ProofOfPossession: fresh.Validators[1].ProofOfPossession}}}
	s, err := NewValidatorSet(bad)
	if err != nil || s.Validators[0].KeyOK {
		t.Fatalf("key with a wrong PoP: %v, usable %v", err, s != nil && s.Validators[0].KeyOK)
	}
}

// TestProposerEveryoneInTurn: within n rounds of a height every validator
// proposes once, whatever its stake, so a validator that is down delays a
// height by at most one round before the others have all had a turn; the
// order then repeats. Round 0 is the stake-weighted draw of before.
func TestProposerEveryoneInTurn(t *testing.T) {
	_, pset := newVals(t, 5, []uint64{1, 1, 8, 3, 2})
	set, err := NewValidatorSet(pset)
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(1); h <= 300; h++ {
		seen := map[int]bool{}
		for r := uint32(0); r < 5; r++ {
			p := set.Proposer("c", h, r)
			if seen[p] {
				t.Fatalf("height %d: validator %d proposes twice in rounds 0..4", h, p)
			}
			seen[p] = true
			if q := set.Proposer("c", h, r+5); q != p {
				t.Fatalf("height %d round %d: %d, round %d: %d; the order should repeat", h, r, p, r+5, q)
			}
		}
	}
}
