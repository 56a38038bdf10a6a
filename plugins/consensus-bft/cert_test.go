package bft

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/sdk"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// certBy builds a certificate of (h, r, hash) signed by the listed
// validators with their raw keys.
func certBy(t testing.TB, vals []testVal, h uint64, r uint32, hash []byte, signers ...int) *Certificate {
	t.Helper()
	sigs := map[int][]byte{}
	for _, i := range signers {
		v := signVote(vals[i], h, r, vote.StepPrecommit, hash)
		sigs[i] = v.Signature[:]
	}
	c, err := aggregate(h, r, hash, len(vals), sigs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertificateVerify(t *testing.T) {
	vals, pset := newVals(t, 4, []uint64{10, 10, 10, 30})
	set, err := NewValidatorSet(pset)
	if err != nil {
		t.Fatal(err)
	}
	hash := bytes.Repeat([]byte{1}, 32)
	other := bytes.Repeat([]byte{2}, 32)
	tests := []struct {
		name string
		cert func() *Certificate
		want error
	}{
		{"quorum by stake", func() *Certificate { return certBy(t, vals, 5, 1, hash, 0, 1, 3) }, nil},
		{"all", func() *Certificate { return certBy(t, vals, 5, 1, hash, 0, 1, 2, 3) }, nil},
		{"exactly two thirds", func() *Certificate { return certBy(t, vals, 5, 1, hash, 1, 3) }, ErrCertificateRejected},
		{"too little stake", func() *Certificate { return certBy(t, vals, 5, 1, hash, 0, 1, 2) }, ErrCertificateRejected},
		{"wrong block", func() *Certificate {
			c := certBy(t, vals, 5, 1, hash, 0, 1, 3)
			copy(c.BlockHash[:], other)
			return c
		}, ErrCertificateRejected},
		{"wrong round", func() *Certificate {
			c := certBy(t, vals, 5, 1, hash, 0, 1, 3)
			c.Round = 2
			return c
		}, ErrCertificateRejected},
		{"signer bit without signature", func() *Certificate {
			c := certBy(t, vals, 5, 1, hash, 0, 3)
			c.Signers[0] |= 1 << 1 // 0, 1 and 3 would be a quorum
			return c
		}, ErrCertificateRejected},
		{"bitmap of another set size", func() *Certificate {
			c := certBy(t, vals, 5, 1, hash, 0, 1, 3)
			c.N = 5
			return c
		}, ErrCertificateRejected},
		{"garbage signature", func() *Certificate {
			c := certBy(t, vals, 5, 1, hash, 0, 1, 3)
			c.Signature[5] ^= 0xff
			return c
		}, ErrCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cert()
			// Round-trip through the encoding as a peer would see it.
			d, err := DecodeCertificate(c.Encode())
			if err != nil {
				if tc.want == nil {
					t.Fatal(err)
				}
				return
			}
			err = d.Verify(testChain, set)
			if tc.want == nil && err != nil {
				t.Fatalf("valid certificate rejected: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				// A corrupted signature may decode to another point.
				if !(tc.want == ErrCertificate && errors.Is(err, ErrCertificateRejected)) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			}
		})
	}
	// Another chain's certificate does not verify here.
	c := certBy(t, vals, 5, 1, hash, 0, 1, 2, 3)
	if err := c.Verify("other-chain", set); !errors.Is(err, ErrCertificateRejected) {
		t.Fatalf("other chain: %v", err)
	}
}

func TestDecodeCertificateRejects(t *testing.T) {
	vals, _ := newVals(t, 9, nil)
	good := certBy(t, vals, 3, 0, bytes.Repeat([]byte{1}, 32), 0, 1, 2, 3, 4, 5, 6).Encode()
	if _, err := DecodeCertificate(good); err != nil {
		t.Fatal(err)
	}
	stray := append([]byte(nil), good...)
	stray[certFixed-bls.SignatureSize+1] |= 0x80 // bit of validator 15 in a set of 9
	for name, b := range map[string][]byte{
		"empty":      nil,
		"short":      good[:20],
		"truncated":  good[:len(good)-1],
		"trailing":   append(append([]byte(nil), good...), 0),
		"version":    append([]byte{2}, good[1:]...),
		"stray bits": stray,
	} {
		if _, err := DecodeCertificate(b); !errors.Is(err, ErrCertificate) {
			t.Errorf("%s: got %v, want ErrCertificate", name, err)
		}
	}
}

func TestVerifyBlock(t *testing.T) {
	vals, pset := newVals(t, 4, nil)
	ch := newFakeChain(pset)
	p := New(nil)
	p.svc = &services{Chain: ch}
	p.cfg.ChainID = testChain
	h1Enc, h1 := encodeBlock(&hostv1.Header{ChainId: testChain, Height: 1, ParentHash: genesisHash, TimestampMs: 5, Proposer: vals[0].addr[:]})
	cert1 := certBy(t, vals, 1, 0, h1, 0, 1, 2).Encode()
	weak := certBy(t, vals, 1, 0, h1, 0, 1).Encode()
	block1 := &hostv1.Block{Hash: h1, Header: &hostv1.Header{ChainId: testChain, Height: 1, ParentHash: genesisHash}, Encoded: h1Enc}
	ch.sync(&hostv1.Block{Hash: h1, Header: block1.Header}, cert1)
	_, h2 := encodeBlock(&hostv1.Header{ChainId: testChain, Height: 2, ParentHash: h1, ConsensusData: cert1})
	tests := []struct {
		name         string
		block        *hostv1.Block
		valid, final bool
	}{
		{"certificate", withCert(block1, cert1), true, true},
		{"weak certificate", withCert(block1, weak), false, false},
		{"certificate of another block", &hostv1.Block{Hash: h2, Header: &hostv1.Header{Height: 1}, Certificate: cert1}, false, false},
		{"first block without certificate", block1, false, false},
		{"parent certificate", &hostv1.Block{Hash: h2, Header: &hostv1.Header{Height: 2, ParentHash: h1, ConsensusData: cert1}}, true, false},
		{"weak parent certificate", &hostv1.Block{Hash: h2, Header: &hostv1.Header{Height: 2, ParentHash: h1, ConsensusData: weak}}, false, false},
		{"nothing", &hostv1.Block{Hash: h2, Header: &hostv1.Header{Height: 2, ParentHash: h1}}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := p.VerifyBlock(context.Background(), &consensusv1.VerifyBlockRequest{Block: tc.block, Validators: pset})
			if err != nil {
				t.Fatal(err)
			}
			if r.GetValid() != tc.valid || r.GetFinal() != tc.final {
				t.Fatalf("valid %v final %v (%s), want %v %v", r.GetValid(), r.GetFinal(), r.GetReason(), tc.valid, tc.final)
			}
			if !tc.valid && r.GetReason() == "" {
				t.Fatal("invalid without a reason")
			}
		})
	}
	fc, err := p.ForkChoice(context.Background(), &consensusv1.ForkChoiceRequest{
		Candidates: []*hostv1.Block{{Hash: h2, Header: &hostv1.Header{Height: 2, ParentHash: h1}}, {Hash: bytes.Repeat([]byte{3}, 32), Header: &hostv1.Header{Height: 2, ParentHash: genesisHash}}},
		Finalized:  &hostv1.Block{Hash: h1, Header: &hostv1.Header{Height: 1}},
	})
	if err != nil || !bytes.Equal(fc.GetHeadHash(), h2) {
		t.Fatalf("fork choice: %x, %v", fc.GetHeadHash(), err)
	}
}

func withCert(b *hostv1.Block, c []byte) *hostv1.Block {
	return &hostv1.Block{Hash: b.Hash, Header: b.Header, Encoded: b.Encoded, Certificate: c}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"timeout_propose":"2s","block_interval":"0s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.TimeoutPropose.Seconds() != 2 || c.BlockInterval != 0 || c.TimeoutVote != DefaultTimeoutVote {
		t.Fatalf("config %+v", c)
	}
	for _, tc := range []struct{ json, attr string }{
		{`{"timeout_propose":"soon"}`, "timeout_propose"},
		{`{"timeout_vote":"0s"}`, "timeout_vote"},
		{`{"timeout_vote_delta":"-1s"}`, "timeout_vote_delta"},
		{`{"block_interval":"3h"}`, "block_interval"},
		{`{"timeout_propose_delta":"1"}`, "timeout_propose_delta"},
	} {
		_, err := ParseConfig([]byte(tc.json))
		ces := sdk.ConfigErrors(err)
		if len(ces) != 1 || len(ces[0].Path) != 1 || ces[0].Path[0] != tc.attr {
			t.Errorf("%s: got %v, want a ConfigError on %s", tc.json, err, tc.attr)
		}
	}
	if err := New(nil).ConfigSchema().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestPluginStartStatus drives the plugin's kind calls over fakes: a
// validator reports its height; one without a signer follows and says so.
func TestPluginStartStatus(t *testing.T) {
	c := newCluster(t, 1, testConfig())
	nd := c.node[0]
	p := New(nil)
	p.cfg = c.cfg
	p.svc = &services{Chain: nd.chain, Network: &netClient{n: c.net, node: nd.name}, Signer: nd.signer, Store: nd.store}
	ctx := context.Background()
	if _, err := p.Start(ctx, &consensusv1.StartRequest{Finalized: nd.chain.finalBlock(), Validator: true}); err != nil {
		t.Fatal(err)
	}
	c.waitFinal(2, 0)
	var st *consensusv1.StatusResponse
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		// The snapshot follows the chain by one loop iteration.
		if st, err = p.Status(ctx, &consensusv1.StatusRequest{}); err != nil || st.GetFinalHeight() >= 2 {
			break
		}
	}
	if err != nil || !st.GetValidator() || st.GetFinalHeight() < 2 || st.GetDetails()["proposer"] == "" {
		t.Fatalf("status %v, %v", st, err)
	}
	if h := p.Health(ctx); h.Status != sdk.Serving {
		t.Fatalf("health %+v", h)
	}
	if _, err := p.Stop(ctx, &consensusv1.StopRequest{}); err != nil {
		t.Fatal(err)
	}

	f := New(nil)
	f.cfg = c.cfg
	f.svc = &services{Chain: newFakeChain(c.set), Network: &netClient{n: c.net, node: "f"}, Store: newFakeStore()}
	if _, err := f.Start(ctx, &consensusv1.StartRequest{Finalized: genesis(), Validator: true}); err != nil {
		t.Fatal(err)
	}
	defer f.Stop(ctx, &consensusv1.StopRequest{})
	st, _ = f.Status(ctx, &consensusv1.StatusRequest{})
	if st.GetValidator() || st.GetDetails()["note"] == "" || f.Health(ctx).Status != sdk.Degraded {
		t.Fatalf("a validator without a signer: status %v, health %+v", st, f.Health(ctx))
	}
}
