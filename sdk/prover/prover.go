package prover

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/sdk"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// Backend is what a prover plugin supplies: its name and identity, and the
// stark.Backend that runs the heavy kernels on a number of workers.
type Backend struct {
	Name    string // the plugin's name: plugin "prover" "<Name>" {}
	Version string // the plugin's version
	Kind    string // what Capabilities calls the backend: "cpu", "gpu"
	// New returns the kernels for workers goroutines; an error fails
	// Configure (a GPU backend with no usable device, say).
	New func(workers int) (stark.Backend, error)
}

// Tunables.
const (
	// MaxQueued is how many jobs wait behind the running one; more are
	// refused with ResourceExhausted.
	MaxQueued = 2
	// MaxWorkers bounds the workers setting.
	MaxWorkers = 1024
	// MeasureUpdates is the size (leaf updates) of the sample batch whose
	// proof measures the throughput Capabilities reports.
	MeasureUpdates = 64
	// progressEvery is the least time between two progress events.
	progressEvery = 250 * time.Millisecond
)

// ParamsDefault names batch/v1's one parameter set (batch.Params); an empty
// ProveRequest.params means the same.
const ParamsDefault = "default"

// Sentinel errors. Prove returns them as gRPC statuses whose message says
// which one and why.
var (
	ErrStatement    = errors.New("statement not supported")
	ErrParams       = errors.New("proof parameters not supported")
	ErrJob          = errors.New("malformed job")
	ErrBusy         = errors.New("prover busy")
	ErrInvalidProof = errors.New("the prover produced a proof that does not verify")
)

// Plugin is a prover plugin over one Backend. Every method is safe for
// concurrent use.
type Plugin struct {
	log hclog.Logger
	be  Backend

	// slot holds the one running computation; admitted counts running and
	// queued jobs (a cancelled job whose computation has not finished still
	// counts as running).
	slot chan struct{}

	mu       sync.Mutex
	ready    bool
	workers  int
	backend  stark.Backend
	admitted int
	current  *jobState // the running job, for Health
	proven   uint64
	failed   uint64
	measured chan struct{} // closed when the throughput measurement ended
	rate     float64       // permutations per second, 0 until measured
	rows     uint64        // trace rows per update of the sample, for max_trace_rows
	rateErr  error
}

type jobState struct {
	id       string
	stage    string
	fraction float64
}

// New returns an unconfigured plugin over be, logging to log (nil: no
// logs).
func New(log hclog.Logger, be Backend) *Plugin {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Plugin{log: log, be: be, slot: make(chan struct{}, 1)}
}

// Info implements sdk.Plugin.
func (p *Plugin) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindProver, Name: p.be.Name, Version: p.be.Version}
}

// ConfigSchema implements sdk.Plugin.
func (p *Plugin) ConfigSchema() *schema.Schema {
	return schema.New(
		schema.Number("workers").DefaultTo(cty.NumberIntVal(0)).
			Describe("Goroutines the prover's kernels run on; 0 uses every core."),
	)
}

type config struct {
	Workers *float64 `json:"workers"`
}

// ParseWorkers reads the workers setting: a whole number in 0..MaxWorkers
// (0: all cores). It returns the number of workers to use.
func ParseWorkers(raw []byte) (int, error) {
	var c config
	if err := schema.DecodeJSON(raw, &c); err != nil {
		return 0, err
	}
	if c.Workers == nil {
		return runtime.NumCPU(), nil
	}
	v := *c.Workers
	if v != math.Trunc(v) || v < 0 || v > MaxWorkers {
		return 0, &sdk.ConfigError{Path: []string{"workers"}, Summary: "Invalid number of workers",
			Detail: fmt.Sprintf("%v is not a whole number in 0..%d (0 uses every core)", v, MaxWorkers)}
	}
	if v == 0 {
		return runtime.NumCPU(), nil
	}
	return int(v), nil
}

// Configure implements sdk.Plugin. It starts the throughput measurement in
// the background: Configure must answer within the host's call timeout,
// and Capabilities waits for the figure instead.
func (p *Plugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	w, err := ParseWorkers(req.Config)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready {
		return errors.New("prover already configured")
	}
	b, err := p.be.New(w)
	if err != nil {
		return fmt.Errorf("prover %s: %w", p.be.Name, err)
	}
	p.ready, p.workers, p.backend = true, w, b
	p.measured = make(chan struct{})
	go p.measure()
	p.log.Info("prover configured", "workers", w, "statement", batch.Statement)
	return nil
}

// Health implements sdk.Plugin.
func (p *Plugin) Health(context.Context) sdk.Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ready {
		return sdk.Health{Status: sdk.NotServing, Message: "not configured"}
	}
	d := map[string]string{
		"workers": strconv.Itoa(p.workers), "jobs_proven": strconv.FormatUint(p.proven, 10),
		"jobs_failed": strconv.FormatUint(p.failed, 10), "jobs_admitted": strconv.Itoa(p.admitted),
	}
	if p.rate > 0 {
		d["permutations_per_second"] = strconv.FormatFloat(p.rate, 'f', 0, 64)
	}
	h := sdk.Health{Status: sdk.Serving, Message: "idle", Details: d}
	if j := p.current; j != nil {
		h.Message = fmt.Sprintf("proving job %s: %s %.0f%%", j.id, j.stage, 100*j.fraction)
	}
	if p.rateErr != nil {
		h.Status, h.Message = sdk.Degraded, "the sample proof failed: "+p.rateErr.Error()
	}
	return h
}

// measure proves the sample batch once and records the throughput. It
// takes the job slot, so it never competes with a job for the cores.
func (p *Plugin) measure() {
	p.mu.Lock()
	b, done := p.backend, p.measured
	p.mu.Unlock()
	defer close(done)
	rate, rows, err := Measure(b, MeasureUpdates, func() func() {
		p.slot <- struct{}{}
		return func() { <-p.slot }
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate, p.rows, p.rateErr = rate, rows, err
	if err != nil {
		p.log.Error("throughput measurement failed", "error", err)
		return
	}
	p.log.Info("throughput measured", "permutations_per_second", int64(rate), "sample_updates", MeasureUpdates)
}

// Measure proves a batch.Sample of the given size on b twice and returns the
// permutations proven per second (Permutations over the time the faster
// batch.Prove took: the first run also pays one-time set-up, such as FFT
// twiddles, that later jobs do not) and the trace rows per update. hold, if
// not nil, is called just before the proofs start and its result just after
// they end.
func Measure(b stark.Backend, updates int, hold func() func()) (rate float64, rowsPerUpdate uint64, err error) {
	pub, w, err := batch.Sample(updates)
	if err != nil {
		return 0, 0, err
	}
	var release func()
	if hold != nil {
		release = hold()
	}
	var proof []byte
	took := time.Duration(math.MaxInt64)
	for range 2 {
		start := time.Now()
		proof, err = safeProve(pub, w, b, nil)
		took = min(took, time.Since(start))
		if err != nil {
			break
		}
	}
	if release != nil {
		release()
	}
	if err != nil {
		return 0, 0, err
	}
	if err := batch.Verify(pub, proof); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	rows, err := TraceRows(proof)
	if err != nil {
		return 0, 0, err
	}
	return float64(Permutations(w)) / took.Seconds(), (rows + uint64(updates) - 1) / uint64(updates), nil
}

// TraceRows returns the trace length a proof was made over.
func TraceRows(proof []byte) (uint64, error) {
	sp, err := stark.DecodeProof(proof)
	if err != nil {
		return 0, err
	}
	return 1 << sp.LogTraceLength, nil
}

// safeProve is batch.Prove with a panic turned into an error: a witness
// that slipped past the checks must not take the process down.
func safeProve(pub batch.Public, w *batch.Witness, b stark.Backend, progress stark.Progress) (proof []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			proof, err = nil, fmt.Errorf("prover panicked: %v", r)
		}
	}()
	return batch.Prove(pub, w, b, progress)
}

// Capabilities implements sdk.Prover. It waits for the throughput
// measurement that Configure started (a few seconds, once per process).
func (p *Plugin) Capabilities(ctx context.Context, _ *proverv1.CapabilitiesRequest) (*proverv1.CapabilitiesResponse, error) {
	p.mu.Lock()
	done, workers := p.measured, p.workers
	p.mu.Unlock()
	if done == nil {
		return nil, sdk.ErrNotConfigured
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("capabilities: the throughput measurement has not finished: %w", ctx.Err())
	}
	p.mu.Lock()
	rate, rows := p.rate, p.rows
	p.mu.Unlock()
	return &proverv1.CapabilitiesResponse{
		Backend: p.be.Kind, Cores: uint32(min(workers, runtime.NumCPU())), Statements: []string{batch.Statement},
		PermutationsPerSecond: rate, MaxTraceRows: maxTraceRows(rows),
	}, nil
}

// maxTraceRows is the trace length of the largest statement the prover
// takes (batch.MaxUpdates updates), from the rows per update the sample
// proof used; 0 when the measurement failed.
func maxTraceRows(rowsPerUpdate uint64) uint64 {
	if rowsPerUpdate == 0 {
		return 0
	}
	n := rowsPerUpdate * batch.MaxUpdates
	r := uint64(1)
	for r < n {
		r <<= 1
	}
	return r
}

// admit counts a job in, or refuses it when one runs and MaxQueued wait.
func (p *Plugin) admit() (func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admitted >= 1+MaxQueued {
		return nil, fmt.Errorf("%w: %d jobs running or queued, the most this prover takes; retry later or use another prover", ErrBusy, p.admitted)
	}
	p.admitted++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.admitted--
			p.mu.Unlock()
		})
	}, nil
}

// CheckJob checks a job's statement and parameters and decodes its public
// inputs and witness. Every error wraps ErrStatement, ErrParams or ErrJob
// and says what is wrong.
func CheckJob(req *proverv1.ProveRequest) (batch.Public, *batch.Witness, error) {
	if req.GetStatement() != batch.Statement {
		return batch.Public{}, nil, fmt.Errorf("%w: %q; this prover proves %q", ErrStatement, req.GetStatement(), batch.Statement)
	}
	if ps := req.GetParams(); ps != "" && ps != ParamsDefault {
		return batch.Public{}, nil, fmt.Errorf("%w: %q; %s proofs use one parameter set, named %q or left empty", ErrParams, ps, batch.Statement, ParamsDefault)
	}
	pub, err := batch.DecodePublic(req.GetPublicInputs())
	if err != nil {
		return batch.Public{}, nil, fmt.Errorf("%w: public inputs: %w", ErrJob, err)
	}
	w, err := batch.DecodeWitness(req.GetWitness())
	if err != nil {
		return batch.Public{}, nil, fmt.Errorf("%w: witness: %w", ErrJob, err)
	}
	if len(w.Updates) != int(pub.Updates) {
		return batch.Public{}, nil, fmt.Errorf("%w: the witness has %d updates, the public inputs say %d", ErrJob, len(w.Updates), pub.Updates)
	}
	return pub, w, nil
}

// outcome is what the background computation hands back.
type outcome struct {
	proof []byte
	took  time.Duration
	err   error
}

// progressBox keeps the latest progress the prover reported.
type progressBox struct {
	mu       sync.Mutex
	stage    string
	fraction float64
	seq      uint64
	job      *jobState
	owner    *Plugin
}

func (b *progressBox) report(stage string, fraction float64) {
	if math.IsNaN(fraction) {
		return
	}
	fraction = min(max(fraction, 0), 1)
	b.mu.Lock()
	// Stages may restart their own count; the job's fraction never goes back.
	b.stage, b.fraction = stage, max(fraction, b.fraction)
	b.seq++
	st, fr := b.stage, b.fraction
	b.mu.Unlock()
	b.owner.mu.Lock()
	b.job.stage, b.job.fraction = st, fr
	b.owner.mu.Unlock()
}

func (b *progressBox) latest() (string, float64, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stage, b.fraction, b.seq
}

// Prove implements sdk.Prover.
func (p *Plugin) Prove(ctx context.Context, req *proverv1.ProveRequest, progress func(*proverv1.Progress) error) (*proverv1.Result, error) {
	p.mu.Lock()
	b := p.backend
	p.mu.Unlock()
	if b == nil {
		return nil, sdk.ErrNotConfigured
	}
	pub, w, err := CheckJob(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	release, err := p.admit()
	if err != nil {
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	}
	id := hex.EncodeToString(req.GetJobId())
	if len(id) > 64 {
		id = id[:64] + "…"
	}
	select {
	case p.slot <- struct{}{}:
	default:
		if err := progress(&proverv1.Progress{Stage: "queued", Fraction: 0}); err != nil {
			release()
			return nil, err
		}
		select {
		case p.slot <- struct{}{}:
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	// Tell the host the job left the queue; a host that has gone by now
	// gets nothing started.
	if err := progress(&proverv1.Progress{Stage: "start", Fraction: 0}); err != nil {
		<-p.slot
		release()
		return nil, err
	}
	job := &jobState{id: id, stage: "start"}
	p.mu.Lock()
	p.current = job
	p.mu.Unlock()
	box := &progressBox{job: job, owner: p}
	done := make(chan outcome, 1)
	p.log.Info("proving", "job", id, "updates", pub.Updates, "old_root", pub.OldRoot, "new_root", pub.NewRoot)
	go func() {
		defer func() {
			p.mu.Lock()
			if p.current == job {
				p.current = nil
			}
			p.mu.Unlock()
			<-p.slot
			release()
		}()
		start := time.Now()
		proof, err := safeProve(pub, w, b, box.report)
		took := time.Since(start)
		if err == nil {
			if verr := batch.Verify(pub, proof); verr != nil {
				err = fmt.Errorf("%w: %w", ErrInvalidProof, verr)
			}
		}
		p.mu.Lock()
		if err == nil {
			p.proven++
		} else {
			p.failed++
		}
		p.mu.Unlock()
		done <- outcome{proof: proof, took: took, err: err}
	}()

	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	var sent uint64
	for {
		select {
		case <-ctx.Done():
			p.log.Warn("job cancelled; its computation finishes in the background and holds the prover until then", "job", id)
			return nil, ctx.Err()
		case <-tick.C:
			stage, fr, seq := box.latest()
			if seq == sent {
				continue
			}
			sent = seq
			if err := progress(&proverv1.Progress{Stage: stage, Fraction: fr}); err != nil {
				return nil, err
			}
		case o := <-done:
			return p.result(id, o)
		}
	}
}

func (p *Plugin) result(id string, o outcome) (*proverv1.Result, error) {
	if o.err != nil {
		p.log.Error("job failed", "job", id, "error", o.err)
		switch {
		case errors.Is(o.err, ErrInvalidProof):
			return nil, status.Error(codes.Internal, o.err.Error())
		case errors.Is(o.err, batch.ErrWitness), errors.Is(o.err, batch.ErrPublic):
			return nil, status.Error(codes.InvalidArgument, o.err.Error())
		}
		return nil, status.Error(codes.Internal, o.err.Error())
	}
	rows, err := TraceRows(o.proof)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v: %v", ErrInvalidProof, err)
	}
	p.log.Info("proved", "job", id, "trace_rows", rows, "proof_bytes", len(o.proof), "took", o.took)
	return &proverv1.Result{Proof: o.proof, TraceRows: rows, ProveNanos: o.took.Nanoseconds()}, nil
}
