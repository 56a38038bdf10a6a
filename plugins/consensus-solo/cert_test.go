package solo

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

const chain = "solo-test"

type val struct {
	sk   *bls.SecretKey
	addr account.Address
}

func newVal(t *testing.T, b byte) val {
	sk, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return val{sk: sk, addr: account.Address{b}}
}

func set(stakes map[val]uint64) *hostv1.ValidatorSet {
	s := &hostv1.ValidatorSet{}
	for v, st := range stakes {
		pk := v.sk.PublicKey().Bytes()
		s.Validators = append(s.Validators, &hostv1.Validator{Address: v.addr[:], BlsPublicKey: pk[:], Stake: st})
		s.TotalStake += st
	}
	return s
}

func certFor(v val, h uint64, r uint32, hash []byte) []byte {
	m := vote.Message{ChainID: chain, Height: h, Round: r, Step: vote.StepPrecommit, BlockHash: hash}
	c := &certificate{round: r, signer: v.addr, sig: bls.Sign(v.sk, m.SignBytes()).Bytes()}
	return c.encode()
}

// TestVerifyBlock: a follower accepts a block only with the sequencer's
// signature on exactly that block at exactly that height, and refuses
// every forgery a lying peer could send.
func TestVerifyBlock(t *testing.T) {
	seq, other := newVal(t, 1), newVal(t, 2)
	hash := bytes.Repeat([]byte{7}, 32)
	good := certFor(seq, 5, 0, hash)
	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 1
	alone := set(map[val]uint64{seq: 10})
	shared := set(map[val]uint64{seq: 10, other: 10})
	for _, tc := range []struct {
		name       string
		cert       []byte
		height     uint64
		validators *hostv1.ValidatorSet
		sequencer  account.Address
		want       string // "" accepts
	}{
		{"the sequencer's signature", good, 5, alone, account.Address{}, ""},
		{"a later round after a crash", certFor(seq, 5, 3, hash), 5, alone, account.Address{}, ""},
		{"named sequencer with half the stake", good, 5, shared, seq.addr, ""},
		{"no certificate", nil, 5, alone, account.Address{}, "no certificate"},
		{"flipped signature byte", flipped, 5, alone, account.Address{}, "signature"},
		{"another height", good, 6, alone, account.Address{}, "verification failed"},
		{"another block", certFor(seq, 5, 0, bytes.Repeat([]byte{8}, 32)), 5, alone, account.Address{}, "verification failed"},
		{"signed by someone else claiming to be the sequencer", func() []byte {
			c := certFor(other, 5, 0, hash)
			copy(c[5:], seq.addr[:])
			return c
		}(), 5, alone, account.Address{}, "verification failed"},
		{"not a validator", certFor(other, 5, 0, hash), 5, alone, account.Address{}, "not a validator"},
		{"half the stake, no sequencer named", good, 5, shared, account.Address{}, "two thirds"},
		{"not the named sequencer", certFor(other, 5, 0, hash), 5, shared, seq.addr, "not the sequencer"},
		{"truncated", good[:50], 5, alone, account.Address{}, "bytes"},
		{"round out of range", certFor(seq, 5, maxRounds, hash), 5, alone, account.Address{}, "round"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plugin{chainID: chain, sequencer: tc.sequencer}
			blk := &hostv1.Block{Hash: hash, Certificate: tc.cert, Header: &hostv1.Header{ChainId: chain, Height: tc.height}}
			r, err := p.VerifyBlock(context.Background(), &consensusv1.VerifyBlockRequest{Block: blk, Validators: tc.validators})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if !r.GetValid() || !r.GetFinal() {
					t.Fatalf("refused: %s", r.GetReason())
				}
				return
			}
			if r.GetValid() || !strings.Contains(r.GetReason(), tc.want) {
				t.Fatalf("valid %v, reason %q, want a refusal saying %q", r.GetValid(), r.GetReason(), tc.want)
			}
		})
	}
}

func FuzzDecodeCertificate(f *testing.F) {
	f.Add((&certificate{round: 1}).encode())
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCertificate(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.encode(), b) {
			t.Fatalf("round trip changed %x", b)
		}
	})
}
