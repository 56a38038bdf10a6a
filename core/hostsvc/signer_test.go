package hostsvc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

const signerChain = "trellis-test"

func testBLSKey(t *testing.T) *bls.SecretKey {
	t.Helper()
	b := bytes.Repeat([]byte{0x11}, bls.SecretKeySize)
	sk, err := bls.SecretKeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// signerHost is a node's database, signer and host services served over
// a real gRPC connection, as a plugin reaches them.
type signerHost struct {
	t    *testing.T
	path string
	db   *store.DB
	srv  *grpc.Server
	conn *grpc.ClientConn
	svc  *Services
}

func startSignerHost(t *testing.T, path string, withSigner bool) *signerHost {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &signerHost{t: t, path: path, db: db, svc: &Services{DB: db, Metrics: metrics.New(), Bus: NewBus(), ChainID: signerChain}}
	if withSigner {
		s, err := signer.New(db, testBLSKey(t), ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		h.svc.Signer = s
	}
	ns, err := db.Namespace(NamespaceName("consensus", "test"))
	if err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	h.srv = grpc.NewServer()
	h.svc.Register(h.srv, ns, "consensus", "test")
	go h.srv.Serve(lis)
	h.conn, err = grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
	return h
}

func (h *signerHost) stop() {
	if h.srv == nil {
		return
	}
	h.conn.Close()
	h.srv.Stop()
	h.db.Close()
	h.srv = nil
}

func (h *signerHost) client() hostv1.SignerClient { return hostv1.NewSignerClient(h.conn) }

func prevote(height uint64, block byte) *hostv1.SignConsensusRequest {
	return &hostv1.SignConsensusRequest{Height: height, Round: 0, Step: hostv1.SignConsensusRequest_STEP_PREVOTE, BlockHash: bytes.Repeat([]byte{block}, 32)}
}

func TestSignerService(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	h := startSignerHost(t, path, true)
	c := h.client()
	if !slices.Contains(h.svc.Capabilities(), sdk.CapHostSigner) {
		t.Fatalf("capabilities %v lack %s", h.svc.Capabilities(), sdk.CapHostSigner)
	}

	keys, err := c.PublicKeys(ctx, &hostv1.PublicKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pk := testBLSKey(t).PublicKey()
	edPub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)).Public().(ed25519.PublicKey)
	addr := account.FromPublicKey(edPub)
	pkb := pk.Bytes()
	if !bytes.Equal(keys.GetBlsPublicKey(), pkb[:]) || !bytes.Equal(keys.GetEd25519PublicKey(), edPub) || !bytes.Equal(keys.GetAddress(), addr[:]) {
		t.Fatalf("public keys %x", keys)
	}
	pop, err := bls.SignatureFromBytes(keys.GetProofOfPossession())
	if err != nil || bls.VerifyProofOfPossession(pk, pop) != nil {
		t.Fatalf("proof of possession: %v", err)
	}

	first, err := c.SignConsensus(ctx, prevote(3, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := vote.Message{ChainID: signerChain, Height: 3, Step: vote.StepPrevote, BlockHash: bytes.Repeat([]byte{1}, 32)}
	if !bytes.Equal(first.GetSignBytes(), want.SignBytes()) {
		t.Fatal("sign bytes are not the host's message with its chain id")
	}
	sig, err := bls.SignatureFromBytes(first.GetSignature())
	if err != nil || bls.Verify(pk, first.GetSignBytes(), sig) != nil {
		t.Fatalf("signature does not verify: %v", err)
	}

	for _, tc := range []struct {
		name string
		req  *hostv1.SignConsensusRequest
		code codes.Code
	}{
		{"conflicting prevote", prevote(3, 2), codes.FailedPrecondition},
		{"nil prevote at the signed slot", &hostv1.SignConsensusRequest{Height: 3, Step: hostv1.SignConsensusRequest_STEP_PREVOTE}, codes.FailedPrecondition},
		{"lower height", prevote(2, 1), codes.FailedPrecondition},
		{"step unspecified", &hostv1.SignConsensusRequest{Height: 9}, codes.InvalidArgument},
		{"step out of range", &hostv1.SignConsensusRequest{Height: 9, Step: 7}, codes.InvalidArgument},
		{"short block hash", &hostv1.SignConsensusRequest{Height: 9, Step: hostv1.SignConsensusRequest_STEP_PREVOTE, BlockHash: []byte{1}}, codes.InvalidArgument},
		{"extra too long", &hostv1.SignConsensusRequest{Height: 9, Step: hostv1.SignConsensusRequest_STEP_PREVOTE, Extra: make([]byte, vote.MaxExtra+1)}, codes.InvalidArgument},
		{"proposal without block", &hostv1.SignConsensusRequest{Height: 9, Step: hostv1.SignConsensusRequest_STEP_PROPOSAL}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.SignConsensus(ctx, tc.req)
			if code(err) != tc.code || len(resp.GetSignature()) != 0 {
				t.Fatalf("got %v (%v), want %v and no signature", code(err), err, tc.code)
			}
		})
	}

	again, err := c.SignConsensus(ctx, prevote(3, 1))
	if err != nil || !bytes.Equal(again.GetSignature(), first.GetSignature()) {
		t.Fatalf("same request again: %v", err)
	}

	lp, err := c.SignLeaderProof(ctx, &hostv1.SignLeaderProofRequest{EpochSeed: []byte("seed"), Slot: 12})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := signer.LeaderMessage([]byte("seed"), 12)
	if s, err := bls.SignatureFromBytes(lp.GetSignature()); err != nil || bls.Verify(pk, msg, s) != nil {
		t.Fatalf("leader proof does not verify: %v", err)
	}
	if _, err := c.SignLeaderProof(ctx, &hostv1.SignLeaderProofRequest{EpochSeed: make([]byte, signer.MaxSeedLen+1)}); code(err) != codes.InvalidArgument {
		t.Fatalf("long seed: %v", err)
	}

	// A restarted node keeps refusing: the plugin cannot get a second
	// signature for the slot by crashing the host.
	h.stop()
	h = startSignerHost(t, path, true)
	c = h.client()
	if _, err := c.SignConsensus(ctx, prevote(3, 2)); code(err) != codes.FailedPrecondition {
		t.Fatalf("conflict after a restart: %v", err)
	}
	if again, err := c.SignConsensus(ctx, prevote(3, 1)); err != nil || !bytes.Equal(again.GetSignature(), first.GetSignature()) {
		t.Fatalf("same request after a restart: %v", err)
	}
	if _, err := c.SignConsensus(ctx, prevote(4, 2)); err != nil {
		t.Fatalf("next height after a restart: %v", err)
	}
}

// TestSignerBlockPerSlot: a longest-chain leader gets one block signature
// per slot, whatever height the plugin names, and not a second one after a
// restart.
func TestSignerBlockPerSlot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	h := startSignerHost(t, path, true)
	c := h.client()
	if !slices.Contains(h.svc.Capabilities(), sdk.CapHostSignerBlock) {
		t.Fatalf("capabilities %v lack %s", h.svc.Capabilities(), sdk.CapHostSignerBlock)
	}
	blk := func(slot, height uint64, b byte) *hostv1.SignConsensusRequest {
		return &hostv1.SignConsensusRequest{Height: slot, Step: hostv1.SignConsensusRequest_STEP_BLOCK,
			BlockHash: bytes.Repeat([]byte{b}, 32), Extra: binary.BigEndian.AppendUint64(nil, height)}
	}
	if _, err := c.SignConsensus(ctx, blk(100, 10, 1)); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]*hostv1.SignConsensusRequest{
		"other block, same slot":   blk(100, 10, 2),
		"same block, other height": blk(100, 11, 1),
		"earlier slot":             blk(99, 9, 3),
	} {
		if _, err := c.SignConsensus(ctx, req); code(err) != codes.FailedPrecondition {
			t.Errorf("%s: %v, want FailedPrecondition", name, err)
		}
	}
	if _, err := c.SignConsensus(ctx, &hostv1.SignConsensusRequest{Height: 101, Step: hostv1.SignConsensusRequest_STEP_BLOCK,
		BlockHash: bytes.Repeat([]byte{1}, 32)}); code(err) != codes.InvalidArgument {
		t.Errorf("block without its height: %v", err)
	}
	h.stop()
	h = startSignerHost(t, path, true)
	c = h.client()
	if _, err := c.SignConsensus(ctx, blk(100, 10, 2)); code(err) != codes.FailedPrecondition {
		t.Fatalf("second block for the slot after a restart: %v", err)
	}
	if _, err := c.SignConsensus(ctx, blk(101, 10, 2)); err != nil {
		t.Fatalf("next slot: %v", err)
	}
	// Slots and heights keep separate high-water marks: the same key may
	// vote at height 3 (a BFT chain after a swap) below slot 101, and the
	// votes do not lower the slots' mark.
	if _, err := c.SignConsensus(ctx, prevote(3, 1)); err != nil {
		t.Fatalf("a vote at a height below the signed slots: %v", err)
	}
	if _, err := c.SignConsensus(ctx, blk(101, 10, 3)); code(err) != codes.FailedPrecondition {
		t.Fatalf("second block for slot 101 after a vote: %v", err)
	}
}

// Without a signer the service is not served and not advertised.
func TestNoSigner(t *testing.T) {
	h := startSignerHost(t, filepath.Join(t.TempDir(), "node.db"), false)
	if _, err := h.client().PublicKeys(context.Background(), &hostv1.PublicKeysRequest{}); code(err) != codes.Unimplemented {
		t.Fatalf("PublicKeys without a signer: %v", err)
	}
	caps := h.svc.Capabilities()
	if slices.Contains(caps, sdk.CapHostSigner) || slices.Contains(caps, sdk.CapHostChainEvidence) {
		t.Fatalf("capabilities %v", caps)
	}
}

func TestReportEvidence(t *testing.T) {
	ctx := context.Background()
	s, _ := newChainService(t)
	sk := testBLSKey(t)
	ev := func(chain string) []byte {
		a := vote.Message{ChainID: chain, Height: 1, Step: vote.StepPrecommit, BlockHash: bytes.Repeat([]byte{1}, 32)}
		b := vote.Message{ChainID: chain, Height: 1, Step: vote.StepPrecommit}
		sa, sb := bls.Sign(sk, a.SignBytes()).Bytes(), bls.Sign(sk, b.SignBytes()).Bytes()
		e, err := vote.NewEvidence(account.Address{7}, a, sa[:], b, sb[:])
		if err != nil {
			t.Fatal(err)
		}
		return e.Encode()
	}
	good := ev(signerChain)
	if _, err := s.ReportEvidence(ctx, &hostv1.ReportEvidenceRequest{Evidence: good}); code(err) != codes.Unimplemented {
		t.Fatalf("without an evidence sink: %v", err)
	}
	var got []*vote.Evidence
	answer := tx.Hash{9}
	var fail error
	s.WithEvidence(func(_ context.Context, e *vote.Evidence) (tx.Hash, error) {
		got = append(got, e)
		return answer, fail
	})
	for _, tc := range []struct {
		name string
		in   []byte
		code codes.Code
	}{
		{"empty", nil, codes.InvalidArgument},
		{"truncated", good[:len(good)-1], codes.InvalidArgument},
		{"too large", make([]byte, vote.MaxEvidenceSize+1), codes.InvalidArgument},
		{"other chain", ev("other-chain"), codes.InvalidArgument},
	} {
		if _, err := s.ReportEvidence(ctx, &hostv1.ReportEvidenceRequest{Evidence: tc.in}); code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
		}
	}
	if len(got) != 0 {
		t.Fatal("invalid evidence reached the node")
	}
	resp, err := s.ReportEvidence(ctx, &hostv1.ReportEvidenceRequest{Evidence: good})
	if err != nil || !bytes.Equal(resp.GetTxHash(), answer[:]) || len(got) != 1 || !bytes.Equal(got[0].Encode(), good) {
		t.Fatalf("valid evidence: %v %v", resp, err)
	}
	answer = tx.Hash{}
	if resp, err := s.ReportEvidence(ctx, &hostv1.ReportEvidenceRequest{Evidence: good}); err != nil || len(resp.GetTxHash()) != 0 {
		t.Fatalf("already reported: %v %v", resp, err)
	}
	fail = fmt.Errorf("%w: signature 1: %w", vote.ErrInvalid, bls.ErrVerify)
	if _, err := s.ReportEvidence(ctx, &hostv1.ReportEvidenceRequest{Evidence: good}); code(err) != codes.InvalidArgument {
		t.Fatalf("evidence the node rejects: %v", err)
	}
}
