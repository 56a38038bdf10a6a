package plugin

import (
	"context"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/trellis-chain/trellis/core/hostsvc"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
)

func benchEnv(b *testing.B) *env {
	b.Helper()
	return newEnvTB(b)
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkUnaryRoundTrip measures one host→plugin→host gRPC call (Health)
// over go-plugin's AutoMTLS unix socket.
func BenchmarkUnaryRoundTrip(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	spec := e.spec("fee", "probe")
	p, err := Start(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := p.Configure(ctx, []byte(`{}`), &pluginv1.NodeInfo{}, e.services(spec)); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := p.Common.Health(ctx, &pluginv1.HealthRequest{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkStreamHostToPlugin measures messages/s the host streams to a
// plugin: the probe (as a consensus plugin) subscribes to a topic through
// the Network host service and counts what arrives; the host publishes b.N
// 200-byte messages (a vote's size) and waits until all arrived.
func BenchmarkStreamHostToPlugin(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	spec := e.spec("consensus", "probe")
	p, err := Start(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	var nw *hostsvc.Network
	ns, err := e.db.Namespace("consensus.probe")
	if err != nil {
		b.Fatal(err)
	}
	hs := func(s *grpc.Server) { nw = e.svc.Register(s, ns, "consensus", "probe") }
	if err := p.Configure(ctx, []byte(`{}`), &pluginv1.NodeInfo{}, hs); err != nil {
		b.Fatal(err)
	}
	cc := p.Kind.(consensusv1.ConsensusClient)
	if _, err := cc.Start(ctx, &consensusv1.StartRequest{}); err != nil {
		b.Fatal(err)
	}
	received := func() int {
		st, err := cc.Status(ctx, &consensusv1.StatusRequest{})
		if err != nil {
			b.Fatal(err)
		}
		n, _ := strconv.Atoi(st.GetDetails()["received"])
		return n
	}
	msg := make([]byte, 200)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		if err := nw.PublishLocal(ctx, "bench", msg); err != nil {
			b.Fatal(err)
		}
	}
	for received() < b.N {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}

// BenchmarkRestartAfterKill measures the time from kill -9 of a plugin to
// its restarted process answering Health, after the first backoff step of a
// config file's default policy (200 ms). The backoff is held at that step so
// every iteration measures a first restart.
func BenchmarkRestartAfterKill(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	c := e.candidate(e.spec("fee", "probe"))
	c.Restart = RestartPolicy{MaxRestarts: 1 << 20, Window: time.Hour, InitialBackoff: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	s, err := Supervise(ctx, Options{Primary: c, Services: e.services})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	var total time.Duration
	lat := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		p, err := s.Process(ctx)
		if err != nil {
			b.Fatal(err)
		}
		pid := p.Pid()
		t0 := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		for {
			np, err := s.Process(ctx)
			if err == nil && np.Pid() != pid {
				if _, err := np.Health(ctx); err == nil {
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		d := time.Since(t0)
		total += d
		lat = append(lat, d)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/restart")
	b.ReportMetric(float64(percentile(lat, 0.99).Milliseconds()), "p99-ms")
}
