package provercpu_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/conformance"
	"github.com/trellis-chain/trellis/internal/testbin"
	provercpu "github.com/trellis-chain/trellis/plugins/prover-cpu"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/stark"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
	"github.com/trellis-chain/trellis/sdk/prover"
)

const binPkg = "plugins/prover-cpu/cmd/trellis-prover-cpu"

// callTimeout bounds a start or a call to the plugin: a bound on a hang,
// not a speed requirement.
const callTimeout = 2 * time.Minute

// startProver starts and configures the real plugin binary.
func startProver(t *testing.T, config string) (*conformance.Started, proverv1.ProverClient) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the plugin binary and proves")
	}
	bin := testbin.Build(t, binPkg)
	p := conformance.Start(t, "prover", provercpu.Name, bin, []byte(config), callTimeout)
	return p, p.Kind.(proverv1.ProverClient)
}

// drain reads a Prove stream to its end: the progress events and the
// result or the error.
func drain(stream proverv1.Prover_ProveClient) ([]*proverv1.Progress, *proverv1.Result, error) {
	var events []*proverv1.Progress
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return events, nil, errors.New("stream ended without a result")
		}
		if err != nil {
			return events, nil, err
		}
		if r := ev.GetResult(); r != nil {
			return events, r, nil
		}
		events = append(events, ev.GetProgress())
	}
}

func job(pub batch.Public, w *batch.Witness) *proverv1.ProveRequest {
	return &proverv1.ProveRequest{JobId: []byte("test"), Statement: batch.Statement, PublicInputs: pub.Encode(), Witness: w.Encode()}
}

// TestProveThroughPlugin proves a real batch in the plugin process: the
// host's own batch.Verify accepts the proof from the public inputs alone,
// and it is the same bytes an in-process prover on one worker makes.
func TestProveThroughPlugin(t *testing.T) {
	_, pc := startProver(t, `{"workers": 2}`)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()

	caps, err := pc.Capabilities(ctx, &proverv1.CapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("capabilities: %v", caps)
	if caps.GetBackend() != "cpu" || caps.GetCores() != uint32(min(2, runtime.NumCPU())) || len(caps.GetStatements()) != 1 || caps.GetStatements()[0] != batch.Statement ||
		caps.GetPermutationsPerSecond() <= 0 || caps.GetMaxTraceRows() == 0 {
		t.Fatalf("capabilities %v", caps)
	}

	pub, w, err := batch.Sample(5)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := pc.Prove(ctx, job(pub, w))
	if err != nil {
		t.Fatal(err)
	}
	events, res, err := drain(stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.GetFraction() < 0 || e.GetFraction() > 1 || e.GetStage() == "" {
			t.Errorf("progress event %v", e)
		}
	}
	if err := batch.Verify(pub, res.GetProof()); err != nil {
		t.Fatalf("the plugin's proof does not verify: %v", err)
	}
	if rows, err := prover.TraceRows(res.GetProof()); err != nil || rows != res.GetTraceRows() || res.GetProveNanos() <= 0 {
		t.Fatalf("result says %d trace rows, %d ns; the proof has %d (%v)", res.GetTraceRows(), res.GetProveNanos(), rows, err)
	}
	ref, err := batch.Prove(pub, w, stark.NewCPU(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ref, res.GetProof()) {
		t.Fatal("the plugin's proof on 2 workers differs from the in-process proof on 1")
	}
	// A proof of other public inputs is refused by the verifier.
	other := pub
	other.BatchHash = pub.OldRoot
	if err := batch.Verify(other, res.GetProof()); err == nil {
		t.Fatal("the proof verifies against another batch hash")
	}
}

// TestBadJobsThroughPlugin: each malformed job is refused with
// InvalidArgument and a reason, and the plugin keeps serving.
func TestBadJobsThroughPlugin(t *testing.T) {
	p, pc := startProver(t, `{}`)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	pub, w, err := batch.Sample(3)
	if err != nil {
		t.Fatal(err)
	}
	wrongRoot := pub
	wrongRoot.NewRoot = pub.OldRoot
	for _, tc := range []struct {
		name string
		req  *proverv1.ProveRequest
		msg  string
	}{
		{"unknown statement", &proverv1.ProveRequest{Statement: "batch/v9", PublicInputs: pub.Encode(), Witness: w.Encode()}, "statement not supported"},
		{"unknown params", &proverv1.ProveRequest{Statement: batch.Statement, Params: "fast", PublicInputs: pub.Encode(), Witness: w.Encode()}, "parameters not supported"},
		{"garbage public inputs", &proverv1.ProveRequest{Statement: batch.Statement, PublicInputs: []byte("garbage"), Witness: w.Encode()}, "public inputs"},
		{"garbage witness", &proverv1.ProveRequest{Statement: batch.Statement, PublicInputs: pub.Encode(), Witness: bytes.Repeat([]byte{0xee}, 4096)}, "witness"},
		{"witness of other public inputs", job(wrongRoot, w), "witness does not satisfy the statement"},
	} {
		stream, err := pc.Prove(ctx, tc.req)
		var res *proverv1.Result
		if err == nil {
			_, res, err = drain(stream)
		}
		if res != nil || status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: result %v, error %v; want InvalidArgument containing %q", tc.name, res != nil, err, tc.msg)
		}
	}
	h, err := p.Health(ctx)
	if err != nil || h.GetStatus() != pluginv1.HealthResponse_STATUS_SERVING {
		t.Fatalf("health after bad jobs: %v, %v", h, err)
	}
}

// TestCancelThroughPlugin cancels a running job: the call ends with
// Canceled, the plugin answers at once, and the next job runs once the
// cancelled computation has finished in the background.
func TestCancelThroughPlugin(t *testing.T) {
	p, pc := startProver(t, `{"workers": 1}`)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if _, err := pc.Capabilities(ctx, &proverv1.CapabilitiesRequest{}); err != nil { // the measurement is over
		t.Fatal(err)
	}
	pub, w, err := batch.Sample(512)
	if err != nil {
		t.Fatal(err)
	}
	jctx, jcancel := context.WithCancel(ctx)
	stream, err := pc.Prove(jctx, job(pub, w))
	if err != nil {
		t.Fatal(err)
	}
	// The job runs once the "start" event arrives.
	if ev, err := stream.Recv(); err != nil || ev.GetProgress().GetStage() != "start" {
		t.Fatalf("first event %v, %v; want progress at stage start", ev, err)
	}
	jcancel()
	if _, _, err := drain(stream); status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled job: %v, want Canceled", err)
	}
	h, err := p.Health(ctx)
	if err != nil || h.GetStatus() != pluginv1.HealthResponse_STATUS_SERVING {
		t.Fatalf("health after a cancelled job: %v, %v", h, err)
	}
	small, sw, err := batch.Sample(2)
	if err != nil {
		t.Fatal(err)
	}
	stream, err = pc.Prove(ctx, job(small, sw))
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := drain(stream)
	if err != nil {
		t.Fatalf("job after a cancelled one: %v", err)
	}
	if err := batch.Verify(small, res.GetProof()); err != nil {
		t.Fatal(err)
	}
}

// TestConformance runs the plugin kit, with its batch/v1 checks, against
// the real binary.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary and proves")
	}
	r := conformance.Test(t, conformance.Options{Kind: "prover", Path: testbin.Build(t, binPkg), Timeout: callTimeout})
	for _, name := range []string{"prover/prove-batch", "prover/prove-batch-wrong-public-inputs", "prover/prove-cancel"} {
		if c, ok := r.Check(name); !ok || !c.Passed {
			t.Errorf("%s: %+v", name, c)
		}
	}
}
