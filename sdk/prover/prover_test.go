package prover

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/sdk"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
)

func sampleRequest(t *testing.T, updates int) (*proverv1.ProveRequest, batch.Public, *batch.Witness) {
	t.Helper()
	pub, w, err := batch.Sample(updates)
	if err != nil {
		t.Fatal(err)
	}
	return &proverv1.ProveRequest{JobId: []byte{1, 2}, Statement: batch.Statement, PublicInputs: pub.Encode(), Witness: w.Encode()}, pub, w
}

func TestSample(t *testing.T) {
	for _, n := range []int{2, 3, 17} {
		pub, w, err := batch.Sample(n)
		if err != nil {
			t.Fatalf("%d updates: %v", n, err)
		}
		if int(pub.Updates) != n || len(w.Updates) != n || pub.OldRoot == pub.NewRoot {
			t.Fatalf("%d updates: public %+v, witness of %d", n, pub, len(w.Updates))
		}
		// The globals leaf, n−2 changed accounts and one created one.
		if w.Updates[0].Index != 0 || w.Updates[n-1].Old != nil || w.Updates[n-1].Index != uint32(n-1) {
			t.Fatalf("%d updates: first index %d, last %d (old %v)", n, w.Updates[0].Index, w.Updates[n-1].Index, w.Updates[n-1].Old)
		}
		// Globals: 2+2 leaf blocks; changed accounts 4+4; the created one 4.
		want := (2 + 2) + (n-2)*(4+4) + 4 + n*(2*state.Depth+3)
		if got := Permutations(w); got != want {
			t.Errorf("%d updates: %d permutations, want %d", n, got, want)
		}
	}
	for _, n := range []int{-1, 0, 1, batch.MaxUpdates + 1} {
		if _, _, err := batch.Sample(n); err == nil {
			t.Errorf("Sample(%d) succeeded", n)
		}
	}
	if hash.Blocks(batch.AccountLeafElements) != 4 || hash.Blocks(batch.GlobalsLeafElements) != 2 {
		t.Fatal("leaf block counts changed: update the permutation count above")
	}
}

func TestParseWorkers(t *testing.T) {
	all := runtime.NumCPU()
	for _, tc := range []struct {
		cfg  string
		want int
		err  string
	}{
		{`{}`, all, ""},
		{`{"workers": null}`, all, ""},
		{`{"workers": 0}`, all, ""},
		{`{"workers": 3}`, 3, ""},
		{`{"workers": 1024}`, 1024, ""},
		{`{"workers": 1025}`, 0, "workers: Invalid number of workers: 1025 is not a whole number in 0..1024"},
		{`{"workers": -1}`, 0, "not a whole number"},
		{`{"workers": 1.5}`, 0, "not a whole number"},
		{`{"workers": 1e300}`, 0, "not a whole number"},
		{`{"workers": "2"}`, 0, "cannot unmarshal string"},
		{`{"threads": 2}`, 0, "unknown field"},
		{`[]`, 0, "cannot unmarshal"},
	} {
		got, err := ParseWorkers([]byte(tc.cfg))
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("%s: %d, %v; want %d", tc.cfg, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want an error containing %q", tc.cfg, err, tc.err)
		}
	}
	var ce *sdk.ConfigError
	if _, err := ParseWorkers([]byte(`{"workers": -3}`)); !errors.As(err, &ce) || ce.Path[0] != "workers" {
		t.Errorf("a bad workers value is not a ConfigError on workers: %v", err)
	}
}

func TestCheckJob(t *testing.T) {
	good, pub, w := sampleRequest(t, 3)
	if p, wit, err := CheckJob(good); err != nil || p != pub || len(wit.Updates) != len(w.Updates) {
		t.Fatalf("good job: %v", err)
	}
	other, _, _ := sampleRequest(t, 4)
	for _, tc := range []struct {
		name  string
		tweak func(r *proverv1.ProveRequest)
		is    error
		msg   string
	}{
		{"unknown statement", func(r *proverv1.ProveRequest) { r.Statement = "batch/v2" }, ErrStatement, `"batch/v2"; this prover proves "batch/v1"`},
		{"no statement", func(r *proverv1.ProveRequest) { r.Statement = "" }, ErrStatement, `""`},
		{"unknown params", func(r *proverv1.ProveRequest) { r.Params = "blowup-16" }, ErrParams, `"blowup-16"`},
		{"short public inputs", func(r *proverv1.ProveRequest) { r.PublicInputs = r.PublicInputs[:96] }, ErrJob, "public inputs"},
		{"non-canonical root", func(r *proverv1.ProveRequest) { copy(r.PublicInputs, []byte{0xff, 0xff, 0xff, 0xff}) }, ErrJob, "old root"},
		{"no witness", func(r *proverv1.ProveRequest) { r.Witness = nil }, ErrJob, "witness"},
		{"garbage witness", func(r *proverv1.ProveRequest) { r.Witness = []byte("not a witness at all, just some bytes") }, ErrJob, "witness"},
		{"truncated witness", func(r *proverv1.ProveRequest) { r.Witness = r.Witness[:len(r.Witness)-1] }, ErrJob, "witness"},
		{"update counts differ", func(r *proverv1.ProveRequest) { r.Witness = other.Witness }, ErrJob, "the witness has 4 updates, the public inputs say 3"},
	} {
		r := &proverv1.ProveRequest{Statement: good.Statement, PublicInputs: append([]byte(nil), good.PublicInputs...), Witness: append([]byte(nil), good.Witness...)}
		tc.tweak(r)
		_, _, err := CheckJob(r)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, err, tc.is, tc.msg)
		}
	}
	good.Params = ParamsDefault
	if _, _, err := CheckJob(good); err != nil {
		t.Errorf("params %q: %v", ParamsDefault, err)
	}
}

// configured returns a plugin ready to prove without the background
// measurement (which would take the job slot).
func configured() *Plugin {
	p := New(nil, cpuBackend)
	p.ready, p.workers, p.backend = true, 1, stark.NewCPU(1)
	return p
}

// TestQueue: beyond one running and MaxQueued waiting jobs a job is
// refused at once; a waiting job whose caller goes away leaves the queue.
func TestQueue(t *testing.T) {
	p := configured()
	req, _, _ := sampleRequest(t, 2)
	noProgress := func(*proverv1.Progress) error { return nil }

	p.admitted = 1 + MaxQueued
	_, err := p.Prove(context.Background(), req, noProgress)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "prover busy") {
		t.Fatalf("full queue: %v, want ResourceExhausted", err)
	}

	p.admitted = 1
	p.slot <- struct{}{} // a job runs
	ctx, cancel := context.WithCancel(context.Background())
	var stages []string
	_, err = p.Prove(ctx, req, func(pr *proverv1.Progress) error {
		stages = append(stages, pr.GetStage())
		cancel() // the caller goes away while the job waits
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(stages) != 1 || stages[0] != "queued" {
		t.Fatalf("cancelled while queued: %v after progress %q", err, stages)
	}
	if p.admitted != 1 {
		t.Fatalf("%d jobs admitted after the queued one left, want 1 (the running one)", p.admitted)
	}

	// A host that has gone (progress fails) while the job waits.
	gone := errors.New("stream closed")
	if _, err := p.Prove(context.Background(), req, func(*proverv1.Progress) error { return gone }); !errors.Is(err, gone) || p.admitted != 1 {
		t.Fatalf("host gone while queued: %v, %d admitted", err, p.admitted)
	}

	// The running job ends; a host gone by the start event starts nothing.
	<-p.slot
	p.admitted = 0
	if _, err := p.Prove(context.Background(), req, func(*proverv1.Progress) error { return gone }); !errors.Is(err, gone) || p.admitted != 0 || len(p.slot) != 0 || p.current != nil {
		t.Fatalf("host gone at start: %v, %d admitted, slot %d, current %v", err, p.admitted, len(p.slot), p.current)
	}
}

func TestProgressBox(t *testing.T) {
	p := New(nil, cpuBackend)
	job := &jobState{}
	b := &progressBox{job: job, owner: p}
	for _, r := range []struct {
		stage string
		f     float64
	}{{"trace", 0.2}, {"lde", -1}, {"lde", math.NaN()}, {"commit", 0.1}, {"fri", 7}} {
		b.report(r.stage, r.f)
	}
	stage, f, seq := b.latest()
	if stage != "fri" || f != 1 || seq != 4 || job.stage != "fri" || job.fraction != 1 {
		t.Fatalf("latest %q %v #%d, job %+v", stage, f, seq, job)
	}
	b2 := &progressBox{job: &jobState{}, owner: p}
	b2.report("trace", 0.5)
	b2.report("lde", 0.25)
	if _, f, _ := b2.latest(); f != 0.5 {
		t.Fatalf("fraction went back to %v", f)
	}
}

func TestNotConfigured(t *testing.T) {
	p := New(nil, cpuBackend)
	req, _, _ := sampleRequest(t, 2)
	if _, err := p.Prove(context.Background(), req, nil); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Errorf("Prove before Configure: %v", err)
	}
	if _, err := p.Capabilities(context.Background(), nil); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Errorf("Capabilities before Configure: %v", err)
	}
	if h := p.Health(context.Background()); h.Status != sdk.NotServing {
		t.Errorf("Health before Configure: %+v", h)
	}
	if err := p.ConfigSchema().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxTraceRows(t *testing.T) {
	for _, tc := range []struct{ perUpdate, want uint64 }{{0, 0}, {1, batch.MaxUpdates}, {3, 4 * batch.MaxUpdates}, {64, 64 * batch.MaxUpdates}} {
		if got := maxTraceRows(tc.perUpdate); got != tc.want {
			t.Errorf("maxTraceRows(%d) = %d, want %d", tc.perUpdate, got, tc.want)
		}
	}
}

// FuzzCheckJob: any job bytes give a decoded job or an error wrapping one
// of the sentinels, never a panic.
func FuzzCheckJob(f *testing.F) {
	pub, w, err := batch.Sample(2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(batch.Statement, "", pub.Encode(), w.Encode())
	f.Add(batch.Statement, ParamsDefault, pub.Encode(), w.Encode()[:100])
	f.Add("batch/v2", "", []byte{1}, []byte{1, 1, 0, 0, 0})
	f.Add(batch.Statement, "x", make([]byte, batch.PublicSize), []byte{})
	f.Fuzz(func(t *testing.T, st, params string, public, witness []byte) {
		p, wit, err := CheckJob(&proverv1.ProveRequest{Statement: st, Params: params, PublicInputs: public, Witness: witness})
		if err != nil {
			if !errors.Is(err, ErrStatement) && !errors.Is(err, ErrParams) && !errors.Is(err, ErrJob) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if wit == nil || len(wit.Updates) != int(p.Updates) {
			t.Fatalf("accepted a job with %d public updates and witness %v", p.Updates, wit)
		}
	})
}

// cpuBackend is the pure-Go backend under the test plugin's name.
var cpuBackend = Backend{Name: "cpu", Version: "test", Kind: "cpu",
	New: func(w int) (stark.Backend, error) { return stark.NewCPU(w), nil }}

// A backend that cannot start (a GPU backend without a usable device)
// fails Configure with its reason, so the host can fall back.
func TestBackendUnavailable(t *testing.T) {
	p := New(nil, Backend{Name: "gpu", Version: "test", Kind: "gpu",
		New: func(int) (stark.Backend, error) { return nil, errors.New("no usable CUDA device") }})
	err := p.Configure(context.Background(), sdk.ConfigureRequest{Config: []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "no usable CUDA device") || !strings.Contains(err.Error(), "gpu") {
		t.Fatalf("Configure = %v, want the backend's reason", err)
	}
	if p.Info().Name != "gpu" {
		t.Fatalf("Info %+v", p.Info())
	}
}
