package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-chain/trellis/internal/defaults"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
)

// RestartPolicy bounds how a crashed or hung plugin is restarted. More than
// MaxRestarts restarts within Window and the plugin has failed; MaxRestarts
// 0 (or negative) means the first failure is final, as HCL's
// `max_restarts = 0` says. The other zero fields take DefaultRestartPolicy's.
type RestartPolicy struct {
	MaxRestarts    int
	Window         time.Duration
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// DefaultRestartPolicy is the policy of a plugin whose HCL block has no
// restart block; its durations fill zero fields of any policy.
var DefaultRestartPolicy = RestartPolicy{MaxRestarts: 5, Window: 5 * time.Minute, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second}

func (r RestartPolicy) withDefaults() RestartPolicy {
	if r.MaxRestarts < 0 {
		r.MaxRestarts = 0
	}
	defaults.Positive(&r.Window, DefaultRestartPolicy.Window)
	defaults.Positive(&r.InitialBackoff, DefaultRestartPolicy.InitialBackoff)
	defaults.Positive(&r.MaxBackoff, DefaultRestartPolicy.MaxBackoff)
	if r.MaxBackoff < r.InitialBackoff {
		r.MaxBackoff = r.InitialBackoff
	}
	return r
}

// Backoff returns the wait before restart n (1-based): doubling from
// InitialBackoff up to MaxBackoff.
func (r RestartPolicy) Backoff(n int) time.Duration {
	r = r.withDefaults()
	d := r.InitialBackoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	if d > r.MaxBackoff {
		d = r.MaxBackoff
	}
	return d
}

// Candidate is one plugin block the supervisor may run: the primary, or
// its fallback.
type Candidate struct {
	Spec    Spec
	Restart RestartPolicy
	// Config decodes the candidate's config block against the schema the
	// started process declared and returns it as JSON. Its error is
	// returned as is (a *ConfigError, or diagnostics of the caller's own).
	Config func(p *Process) ([]byte, error)
}

// Options configure a Supervisor.
type Options struct {
	Primary  Candidate
	Fallback *Candidate
	Node     *pluginv1.NodeInfo
	// Services returns the host services for a candidate's process.
	Services func(spec Spec) HostServices
	// Ready runs after each configured start, e.g. to start consensus. An
	// error counts as a failed start.
	Ready func(ctx context.Context, p *Process) error
	// Stopping runs before a graceful stop, e.g. to stop consensus.
	Stopping func(ctx context.Context, p *Process)
	// HealthInterval is how often Health is polled (default 2 s);
	// HealthFailures consecutive failures or not-serving answers count as a
	// hang (default 3). Exits are noticed within 50 ms.
	HealthInterval time.Duration
	HealthFailures int
	Logger         hclog.Logger
}

// State of a supervised plugin.
type State string

// States.
const (
	StateStarting   State = "starting"
	StateRunning    State = "running"
	StateRestarting State = "restarting"
	StateFailed     State = "failed"
	StateStopped    State = "stopped"
)

// Status is a snapshot for operators.
type Status struct {
	Plugin    string    `json:"plugin"` // kind.name of the candidate running now
	State     State     `json:"state"`
	Pid       int       `json:"pid"`
	Restarts  int       `json:"restarts"`
	Fallback  bool      `json:"fallback"`
	LastError string    `json:"last_error"`
	Since     time.Time `json:"since"`
}

// Supervisor keeps one plugin kind running.
type Supervisor struct {
	opts   Options
	log    hclog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	cur      *Process
	cand     *Candidate
	fallback bool
	state    State
	restarts int // total, for NodeInfo.restarts
	// window holds the times of the current candidate's recent failures,
	// failed starts and crashes alike; only the supervising goroutine
	// (Supervise, then loop) touches it.
	window  []time.Time
	lastErr error
	since   time.Time
	ready   chan struct{} // closed while cur is usable
	err     error         // fatal
}

// permanent errors are the operator's to fix: restarting cannot help and a
// fallback would hide them.
func permanent(err error) bool {
	for _, e := range []error{ErrNotFound, ErrNotExecutable, ErrChecksum, ErrIdentity, ErrSchema, ErrConfig, ErrProtocolVersion} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Supervise starts the primary candidate and supervises it. A permanent
// error (missing or mismatched binary, wrong identity or protocol, a bad
// config) is returned at once. Other start failures are retried per the
// restart policy, then the fallback is tried.
func Supervise(ctx context.Context, opts Options) (*Supervisor, error) {
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 2 * time.Second
	}
	if opts.HealthFailures <= 0 {
		opts.HealthFailures = 3
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	opts.Primary.Restart = opts.Primary.Restart.withDefaults()
	if opts.Fallback != nil {
		opts.Fallback.Restart = opts.Fallback.Restart.withDefaults()
	}
	s := &Supervisor{opts: opts, log: opts.Logger.Named("supervisor").With("plugin", opts.Primary.Spec.ID()),
		done: make(chan struct{}), cand: &opts.Primary, state: StateStarting, ready: make(chan struct{}), since: time.Now()}
	p, err := s.startWithRetries(ctx)
	if err != nil {
		close(s.done)
		return nil, err
	}
	s.setRunning(p)
	lctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.loop(lctx)
	return s, nil
}

// failed counts a failure of the current candidate against its restart
// policy and says what follows: a wait before trying it again, or an
// immediate switch to the fallback (wait 0), or the end (error).
func (s *Supervisor) failed(cause error) (time.Duration, error) {
	r := s.cand.Restart
	now := time.Now()
	s.window = append(pruneBefore(s.window, now.Add(-r.Window)), now)
	n := len(s.window)
	if n <= r.MaxRestarts {
		return r.Backoff(n), nil
	}
	if !s.switchToFallback(cause) {
		return 0, fmt.Errorf("%w: plugin %s: %d failures within %s; last: %w", ErrFailed, s.cand.Spec.ID(), n, r.Window, cause)
	}
	s.window = nil
	return 0, nil
}

// startWithRetries starts the current candidate, retrying and falling back
// per policy. It returns the error that ends the plugin's life.
func (s *Supervisor) startWithRetries(ctx context.Context) (*Process, error) {
	for {
		p, err := s.startOnce(ctx)
		if err == nil {
			return p, nil
		}
		if permanent(err) || ctx.Err() != nil {
			return nil, err
		}
		s.noteErr(err)
		wait, ferr := s.failed(err)
		if ferr != nil {
			return nil, ferr
		}
		if wait > 0 {
			s.log.Warn("plugin start failed; retrying", "error", err, "backoff", wait)
			if !sleep(ctx, wait) {
				return nil, ctx.Err()
			}
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *Supervisor) startOnce(ctx context.Context) (*Process, error) {
	c := s.cand
	spec := c.Spec
	if spec.Logger == nil {
		spec.Logger = s.opts.Logger
	}
	p, err := Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	var cfg []byte
	if c.Config != nil {
		if cfg, err = c.Config(p); err != nil {
			p.Close()
			return nil, err
		}
	}
	node := &pluginv1.NodeInfo{}
	if s.opts.Node != nil {
		node = proto.Clone(s.opts.Node).(*pluginv1.NodeInfo)
	}
	s.mu.Lock()
	node.Restarts = uint32(s.restarts)
	s.mu.Unlock()
	var hs HostServices
	if s.opts.Services != nil {
		hs = s.opts.Services(spec)
	}
	if err := p.Configure(ctx, cfg, node, hs); err != nil {
		p.Close()
		return nil, err
	}
	if s.opts.Ready != nil {
		if err := s.opts.Ready(ctx, p); err != nil {
			p.Close()
			return nil, &StartError{Plugin: spec.ID(), Path: spec.Path, Phase: "ready", Err: err, Stderr: p.Stderr()}
		}
	}
	return p, nil
}

func (s *Supervisor) switchToFallback(cause error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fallback || s.opts.Fallback == nil {
		return false
	}
	s.log.Error("plugin keeps failing; switching to its fallback", "fallback", s.opts.Fallback.Spec.ID(), "error", cause)
	s.fallback = true
	s.cand = s.opts.Fallback
	return true
}

func (s *Supervisor) loop(ctx context.Context) {
	defer close(s.done)
	for {
		cause := s.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		old := s.cur
		s.cur, s.state, s.lastErr, s.since = nil, StateRestarting, cause, time.Now()
		s.ready = make(chan struct{})
		s.restarts++
		s.mu.Unlock()
		old.Close()
		wait, err := s.failed(cause)
		if err != nil {
			s.fail(err)
			return
		}
		if wait > 0 {
			s.log.Warn("plugin failed; restarting", "error", cause, "backoff", wait)
			if !sleep(ctx, wait) {
				return
			}
		}
		p, err := s.startWithRetries(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.fail(err)
			}
			return
		}
		s.setRunning(p)
		s.log.Info("plugin restarted", "pid", p.Pid())
	}
}

// watch returns why the current process must be replaced, or nil when ctx
// ends.
func (s *Supervisor) watch(ctx context.Context) error {
	s.mu.Lock()
	p := s.cur
	s.mu.Unlock()
	exitTick := time.NewTicker(50 * time.Millisecond)
	defer exitTick.Stop()
	healthTick := time.NewTicker(s.opts.HealthInterval)
	defer healthTick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-exitTick.C:
			if p.Exited() {
				return &StartError{Plugin: p.Spec.ID(), Path: p.Spec.Path, Phase: "running", Err: ErrExited, Stderr: p.Stderr()}
			}
		case <-healthTick.C:
			r, err := p.Health(ctx)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				failures++
				s.log.Warn("plugin health check failed", "error", err, "failures", failures)
			case r.GetStatus() == pluginv1.HealthResponse_STATUS_NOT_SERVING:
				failures++
				s.log.Warn("plugin reports not serving", "message", r.GetMessage(), "failures", failures)
			default:
				failures = 0
			}
			if failures >= s.opts.HealthFailures {
				return &StartError{Plugin: p.Spec.ID(), Path: p.Spec.Path, Phase: "running",
					Err: fmt.Errorf("%w: %d health checks failed in a row", ErrCallTimeout, failures), Stderr: p.Stderr()}
			}
		}
	}
}

func (s *Supervisor) setRunning(p *Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.state, s.since = p, StateRunning, time.Now()
	close(s.ready)
}

func (s *Supervisor) noteErr(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

func (s *Supervisor) fail(err error) {
	s.log.Error("plugin failed for good", "error", err)
	s.mu.Lock()
	s.state, s.err, s.lastErr, s.since = StateFailed, err, err, time.Now()
	s.mu.Unlock()
}

// Process returns the running process, waiting while it restarts until ctx
// ends. It returns ErrUnavailable once the plugin has failed or stopped.
func (s *Supervisor) Process(ctx context.Context) (*Process, error) {
	for {
		s.mu.Lock()
		p, ready, state, ferr := s.cur, s.ready, s.state, s.err
		s.mu.Unlock()
		if p != nil && state == StateRunning {
			return p, nil
		}
		if state == StateFailed || state == StateStopped {
			if ferr == nil {
				ferr = errors.New(string(state))
			}
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, ferr)
		}
		select {
		case <-ready:
		case <-s.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s is restarting: %w", ErrUnavailable, s.opts.Primary.Spec.ID(), ctx.Err())
		}
	}
}

// Done is closed when supervision ends: after Close, or when the plugin
// failed for good (Err says why).
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Err is the reason the plugin failed for good, or nil.
func (s *Supervisor) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Status returns a snapshot.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Plugin: s.cand.Spec.ID(), State: s.state, Restarts: s.restarts, Fallback: s.fallback, Since: s.since}
	if s.cur != nil {
		st.Pid = s.cur.Pid()
	}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	return st
}

// Close stops supervision and the plugin gracefully: Stopping runs first,
// bounded by ctx, then the process is asked to exit and killed after 2 s.
func (s *Supervisor) Close(ctx context.Context) {
	if s.cancel != nil {
		s.cancel()
	}
	<-s.done
	s.mu.Lock()
	p := s.cur
	s.cur = nil
	if s.state != StateFailed {
		s.state = StateStopped
	}
	s.mu.Unlock()
	if p == nil {
		return
	}
	if s.opts.Stopping != nil && !p.Exited() {
		s.opts.Stopping(ctx, p)
	}
	p.Close()
}

func pruneBefore(ts []time.Time, cutoff time.Time) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if t.After(cutoff) {
			out = append(out, t)
		}
	}
	return out
}
