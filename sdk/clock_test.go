package sdk

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// skewedClock is a host Clock service that runs skew ahead, counting calls.
type skewedClock struct {
	hostv1.ClockClient
	skew  time.Duration
	calls atomic.Int64
	fail  bool
	// slow delays the answer after the host read its clock, as a starved
	// machine does.
	slow atomic.Int64
}

func (c *skewedClock) Now(context.Context, *hostv1.NowRequest, ...grpc.CallOption) (*hostv1.NowResponse, error) {
	c.calls.Add(1)
	if c.fail {
		return nil, errors.New("host clock down")
	}
	now := time.Now().Add(c.skew)
	time.Sleep(time.Duration(c.slow.Load()))
	return &hostv1.NowResponse{UnixNano: now.UnixNano()}, nil
}

// TestHostClockIgnoresSlowReadings: a host on this machine's clock reads
// as offset zero even over slow calls (a starved machine), where the
// midpoint of the call would be off by half the round trip.
func TestHostClockIgnoresSlowReadings(t *testing.T) {
	h := &skewedClock{}
	c := HostClock(h).(*hostClock)
	h.slow.Store(int64(50 * time.Millisecond))
	c.Now()
	h.slow.Store(int64(200 * time.Millisecond))
	c.mu.Lock()
	c.read = time.Now().Add(-time.Minute) // due for a reading
	c.mu.Unlock()
	c.Now()
	c.mu.Lock()
	d := c.offset
	c.mu.Unlock()
	if d != 0 {
		t.Fatalf("after a slow reading the offset is %s; the host runs on this clock", d)
	}
}

// TestHostClockFollowsTheHost: Now carries the host's skew, reading the
// host once for many readings; After waits the duration asked.
func TestHostClockFollowsTheHost(t *testing.T) {
	h := &skewedClock{skew: 30 * time.Second}
	c := HostClock(h)
	for range 100 {
		before := time.Now()
		got := c.Now()
		if got.Before(before.Add(h.skew - time.Second)) {
			t.Fatalf("Now %s, host is %s ahead of %s", got, h.skew, before)
		}
	}
	if n := h.calls.Load(); n != hostClockSamples {
		t.Fatalf("%d calls to the host for 100 readings, want %d (one reading)", n, hostClockSamples)
	}
	start := time.Now()
	<-c.After(20 * time.Millisecond)
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("After(20ms) fired after %s", d)
	}
}

// TestHostClockFallsBack: without a host clock, or while it fails, the
// clock is the local one.
func TestHostClockFallsBack(t *testing.T) {
	for name, c := range map[string]Clock{"none": HostClock(nil), "failing": HostClock(&skewedClock{skew: time.Hour, fail: true})} {
		if d := time.Until(c.Now()); d > time.Second || d < -time.Second {
			t.Errorf("%s: Now is %s from local time", name, d)
		}
	}
}
