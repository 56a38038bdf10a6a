package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/sdk"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	dav1 "github.com/trellis-chain/trellis/sdk/proto/trellis/da/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
)

// kindSuite is what the kit knows of one kind: a cheap call for the common
// checks (before Configure, cancelled) and the kind's own checks.
type kindSuite struct {
	callName string
	call     func(ctx context.Context, p *plugin.Process) error
	checks   func(ctx context.Context, r *runner, p *plugin.Process)
}

var kindSuites = map[string]kindSuite{
	sdk.KindFee:       {callName: "BaseFee", call: feeCall, checks: feeChecks},
	sdk.KindConsensus: {callName: "Status", call: consensusCall, checks: consensusChecks},
	sdk.KindProver:    {callName: "Capabilities", call: proverCall, checks: proverChecks},
	sdk.KindDA:        {callName: "Encode", call: daCall, checks: daChecks},
}

// --- consensus ---

func consensusClient(p *plugin.Process) consensusv1.ConsensusClient {
	return p.Kind.(consensusv1.ConsensusClient)
}

func consensusCall(ctx context.Context, p *plugin.Process) error {
	_, err := consensusClient(p).Status(ctx, &consensusv1.StatusRequest{})
	return err
}

func hash32(parts ...string) []byte {
	h := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return h[:]
}

// block is a syntactically complete block with no consensus data.
func block(height uint64, parent []byte, tag string) *hostv1.Block {
	h := &hostv1.Header{Version: 1, ChainId: ChainID, Height: height, ParentHash: parent, TimestampMs: 1_700_000_000_000 + int64(height)*1000,
		Proposer: hash32("proposer", tag)[:20], TxRoot: hash32("tx", tag), StateRoot: hash32("state", tag), ReceiptsRoot: hash32("receipts", tag),
		BaseFee: 1_000_000_000, GasLimit: 30_000_000}
	return &hostv1.Block{Hash: hash32("block", tag), Header: h}
}

func consensusChecks(ctx context.Context, r *runner, p *plugin.Process) {
	cc := consensusClient(p)
	r.run(ctx, "consensus/status", func(ctx context.Context) error {
		if _, err := cc.Status(ctx, &consensusv1.StatusRequest{}); err != nil {
			return callErr(p, "Status", err)
		}
		return nil
	})
	genesis := block(0, make([]byte, 32), "genesis")
	r.run(ctx, "consensus/verify-block-without-consensus-data", func(ctx context.Context) error {
		b := block(1, genesis.GetHash(), "a")
		resp, err := cc.VerifyBlock(ctx, &consensusv1.VerifyBlockRequest{Block: b, Validators: &hostv1.ValidatorSet{}})
		if err != nil {
			return callErr(p, "VerifyBlock", fmt.Errorf("%w: a block without consensus data must be answered valid=false with a reason, not an error: %v", ErrViolation, err))
		}
		if resp.GetValid() {
			return violation("VerifyBlock says a block without consensus data is valid")
		}
		if strings.TrimSpace(resp.GetReason()) == "" {
			return violation("VerifyBlock says not valid but gives no reason")
		}
		return nil
	})
	r.run(ctx, "consensus/fork-choice", func(ctx context.Context) error {
		a := block(1, genesis.GetHash(), "a")
		b := block(2, a.GetHash(), "b")
		c := block(1, genesis.GetHash(), "c")
		cands := []*hostv1.Block{a, b, c}
		var first []byte
		for i := range 2 {
			resp, err := cc.ForkChoice(ctx, &consensusv1.ForkChoiceRequest{Candidates: cands, Finalized: genesis})
			if err != nil {
				return callErr(p, "ForkChoice", err)
			}
			head := resp.GetHeadHash()
			found := false
			for _, c := range cands {
				found = found || bytes.Equal(c.GetHash(), head)
			}
			if !found {
				return violation("ForkChoice answered head %x, which is none of the %d candidates", head, len(cands))
			}
			if i == 1 && !bytes.Equal(head, first) {
				return violation("ForkChoice of the same candidates answered %x, then %x", first, head)
			}
			first = head
		}
		return nil
	})
}

// --- prover ---

func proverClient(p *plugin.Process) proverv1.ProverClient { return p.Kind.(proverv1.ProverClient) }

func proverCall(ctx context.Context, p *plugin.Process) error {
	_, err := proverClient(p).Capabilities(ctx, &proverv1.CapabilitiesRequest{})
	return err
}

// UnknownStatement is a statement no prover knows.
const UnknownStatement = "conformance/unknown-statement/v0"

// proveOutcome drains a Prove stream: the result, or the error ending it.
func proveOutcome(stream proverv1.Prover_ProveClient) (*proverv1.Result, error) {
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the stream ended without a result or an error")
		}
		if err != nil {
			return nil, err
		}
		if res := ev.GetResult(); res != nil {
			return res, nil
		}
		if pr := ev.GetProgress(); pr != nil && (pr.GetFraction() < 0 || pr.GetFraction() > 1) {
			return nil, violation("progress fraction %v is outside [0, 1]", pr.GetFraction())
		}
	}
}

func proverChecks(ctx context.Context, r *runner, p *plugin.Process) {
	pc := proverClient(p)
	var statements []string
	r.run(ctx, "prover/capabilities", func(ctx context.Context) error {
		c, err := pc.Capabilities(ctx, &proverv1.CapabilitiesRequest{})
		if err != nil {
			return callErr(p, "Capabilities", err)
		}
		if strings.TrimSpace(c.GetBackend()) == "" {
			return violation("Capabilities names no backend")
		}
		if len(c.GetStatements()) == 0 {
			return violation("Capabilities lists no statement the prover can prove")
		}
		for _, s := range c.GetStatements() {
			if strings.TrimSpace(s) == "" {
				return violation("Capabilities lists an empty statement name")
			}
		}
		statements = c.GetStatements()
		return nil
	})
	r.run(ctx, "prover/prove-unknown-statement", func(ctx context.Context) error {
		stream, err := pc.Prove(ctx, &proverv1.ProveRequest{JobId: []byte("conformance-unknown"), Statement: UnknownStatement,
			PublicInputs: []byte{1, 2, 3}, Witness: []byte{4, 5, 6}})
		if err == nil {
			var res *proverv1.Result
			res, err = proveOutcome(stream)
			if res != nil {
				return violation("Prove of statement %q, which the prover does not declare, returned a proof of %d bytes instead of an error",
					UnknownStatement, len(res.GetProof()))
			}
		}
		if errors.Is(err, ErrViolation) {
			return err
		}
		if st, ok := status.FromError(err); !ok || st.Code() == codes.OK || st.Code() == codes.DeadlineExceeded {
			return callErr(p, "Prove of an unknown statement", fmt.Errorf("%w: want an error status promptly, got: %v", ErrViolation, err))
		}
		return alive(p, "Prove of an unknown statement")
	})
	batchChecks(ctx, r, p, statements)
	r.run(ctx, "prover/prove-cancel", func(ctx context.Context) error {
		if len(statements) == 0 {
			return skipf("needs a declared statement (prover/capabilities failed)")
		}
		// A real job where the kit knows the statement, so that a real
		// computation is cancelled; made-up bytes otherwise.
		req := &proverv1.ProveRequest{JobId: []byte("conformance-cancel"), Statement: statements[0],
			PublicInputs: make([]byte, 96), Witness: make([]byte, 4096)}
		if slices.Contains(statements, batch.Statement) {
			pub, w, err := batch.Sample(cancelJobUpdates)
			if err != nil {
				return fmt.Errorf("conformance kit: %w", err)
			}
			req = &proverv1.ProveRequest{JobId: req.JobId, Statement: batch.Statement, PublicInputs: pub.Encode(), Witness: w.Encode()}
		}
		cctx, cancel := context.WithCancel(ctx)
		stream, err := pc.Prove(cctx, req)
		if err == nil {
			cancel()
			_, err = proveOutcome(stream)
		}
		cancel()
		if code := status.Code(err); code == codes.DeadlineExceeded {
			return violation("a cancelled Prove did not end within %s", r.timeout)
		}
		// Whether the job ended, failed on the made-up witness or was
		// cancelled, the prover must still answer at once.
		if err := checkHealth(ctx, p); err != nil {
			return fmt.Errorf("after a cancelled Prove: %w", err)
		}
		return nil
	})
}

// Sizes of the batch/v1 jobs the kit proves: small enough to prove in a
// second or two on one core, with a created account and changed ones.
const (
	batchJobUpdates  = 3
	cancelJobUpdates = 64
)

// batchChecks prove a real batch/v1 job on a prover that declares the
// statement: the proof must verify, be byte-identical to protocol/batch's own
// (provers differ only in their backend), and a job whose public inputs
// its witness does not prove must be refused, not answered with a proof.
func batchChecks(ctx context.Context, r *runner, p *plugin.Process, statements []string) {
	pc := proverClient(p)
	declared := func() error {
		if !slices.Contains(statements, batch.Statement) {
			return skipf("the prover does not declare %s (it declares %q)", batch.Statement, statements)
		}
		return nil
	}
	r.run(ctx, "prover/prove-batch", func(ctx context.Context) error {
		if err := declared(); err != nil {
			return err
		}
		pub, w, err := batch.Sample(batchJobUpdates)
		if err != nil {
			return fmt.Errorf("conformance kit: %w", err)
		}
		stream, err := pc.Prove(ctx, &proverv1.ProveRequest{JobId: []byte("conformance-batch"), Statement: batch.Statement,
			PublicInputs: pub.Encode(), Witness: w.Encode()})
		var res *proverv1.Result
		if err == nil {
			res, err = proveOutcome(stream)
		}
		if err != nil {
			if errors.Is(err, ErrViolation) {
				return err
			}
			return callErr(p, "Prove of a valid batch/v1 job", err)
		}
		if err := batch.Verify(pub, res.GetProof()); err != nil {
			return violation("the proof of a valid batch/v1 job does not verify: %v", err)
		}
		sp, err := stark.DecodeProof(res.GetProof())
		if err != nil {
			return violation("the proof does not decode: %v", err)
		}
		if rows := uint64(1) << sp.LogTraceLength; res.GetTraceRows() != rows {
			return violation("Result.trace_rows is %d, the proof's trace has %d rows", res.GetTraceRows(), rows)
		}
		ref, err := batch.Prove(pub, w, stark.NewCPU(0), nil)
		if err != nil {
			return fmt.Errorf("conformance kit: reference proof: %w", err)
		}
		if !bytes.Equal(ref, res.GetProof()) {
			i := 0
			for i < len(ref) && i < len(res.GetProof()) && ref[i] == res.GetProof()[i] {
				i++
			}
			return violation("the proof (%d bytes) differs from protocol/batch's reference proof (%d bytes) from byte %d on: "+
				"provers of one statement must return byte-identical proofs", len(res.GetProof()), len(ref), i)
		}
		return nil
	})
	r.run(ctx, "prover/prove-batch-wrong-public-inputs", func(ctx context.Context) error {
		if err := declared(); err != nil {
			return err
		}
		pub, w, err := batch.Sample(batchJobUpdates)
		if err != nil {
			return fmt.Errorf("conformance kit: %w", err)
		}
		pub.NewRoot = pub.OldRoot // the witness does not take the state there
		stream, err := pc.Prove(ctx, &proverv1.ProveRequest{JobId: []byte("conformance-wrong-public"), Statement: batch.Statement,
			PublicInputs: pub.Encode(), Witness: w.Encode()})
		var res *proverv1.Result
		if err == nil {
			res, err = proveOutcome(stream)
		}
		if res != nil {
			return violation("Prove of a job whose witness does not prove its public inputs returned a proof of %d bytes instead of an error", len(res.GetProof()))
		}
		if errors.Is(err, ErrViolation) {
			return err
		}
		if code := status.Code(err); code == codes.OK || code == codes.DeadlineExceeded {
			return callErr(p, "Prove of a job with wrong public inputs", fmt.Errorf("%w: want an error status promptly, got: %v", ErrViolation, err))
		}
		return alive(p, "Prove of a job with wrong public inputs")
	})
}

// --- data availability ---

func daClient(p *plugin.Process) dav1.DataAvailabilityClient {
	return p.Kind.(dav1.DataAvailabilityClient)
}

// daData is what the kit encodes: not a multiple of any usual share size.
func daData() []byte {
	out := make([]byte, 0, 3001)
	for i := 0; len(out) < 3001; i++ {
		h := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		out = append(out, h[:]...)
	}
	return out[:3001]
}

func daCall(ctx context.Context, p *plugin.Process) error {
	_, err := daClient(p).Encode(ctx, &dav1.EncodeRequest{Data: []byte("conformance")})
	return err
}

func daChecks(ctx context.Context, r *runner, p *plugin.Process) {
	dc := daClient(p)
	var enc *dav1.EncodeResponse
	r.run(ctx, "da/encode", func(ctx context.Context) error {
		resp, err := dc.Encode(ctx, &dav1.EncodeRequest{Data: daData()})
		if err != nil {
			return callErr(p, "Encode", err)
		}
		if len(resp.GetCommitments()) == 0 {
			return violation("Encode returned no commitment")
		}
		for i, c := range resp.GetCommitments() {
			if len(c) == 0 {
				return violation("Encode returned an empty commitment %d", i)
			}
		}
		if resp.GetDataShares() == 0 || resp.GetTotalShares() < resp.GetDataShares() {
			return violation("Encode says data_shares %d, total_shares %d; want 1 ≤ data_shares ≤ total_shares", resp.GetDataShares(), resp.GetTotalShares())
		}
		enc = resp
		return nil
	})
	r.run(ctx, "da/encode-deterministic", func(ctx context.Context) error {
		if enc == nil {
			return skipf("needs a successful Encode (da/encode failed)")
		}
		again, err := dc.Encode(ctx, &dav1.EncodeRequest{Data: daData()})
		if err != nil {
			return callErr(p, "Encode again", err)
		}
		if len(again.GetCommitments()) != len(enc.GetCommitments()) {
			return violation("Encode of the same data returned %d commitments, then %d", len(enc.GetCommitments()), len(again.GetCommitments()))
		}
		for i := range again.GetCommitments() {
			if !bytes.Equal(again.GetCommitments()[i], enc.GetCommitments()[i]) {
				return violation("Encode of the same data returned commitment %d as %x, then %x", i, enc.GetCommitments()[i], again.GetCommitments()[i])
			}
		}
		return nil
	})
	r.run(ctx, "da/verify-garbage-share", func(ctx context.Context) error {
		commitment := hash32("no", "commitment")
		if enc != nil {
			commitment = enc.GetCommitments()[0]
		}
		garbage := []*dav1.Share{
			{Index: 0, Data: hash32("garbage", "data"), Proof: hash32("garbage", "proof")},
			{Index: enc.GetTotalShares() + 7, Data: []byte{0xff}, Proof: nil},
		}
		resp, err := dc.Verify(ctx, &dav1.VerifyRequest{Commitment: commitment, Shares: garbage})
		if err != nil {
			if aerr := alive(p, "Verify of garbage shares"); aerr != nil {
				return aerr
			}
			if status.Code(err) == codes.DeadlineExceeded {
				return violation("Verify of garbage shares did not answer within %s", r.timeout)
			}
			return nil // an error is a clean refusal
		}
		if resp.GetValid() {
			return violation("Verify says made-up shares (random data and proof, one index out of range) are valid against commitment %x", commitment)
		}
		return nil
	})
}
