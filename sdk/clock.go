package sdk

import (
	"context"
	"sync"
	"time"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Clock is the time a plugin lives by. In a node it is the host's clock
// (HostClock); a simulator hands the plugin a virtual one. A plugin that
// reads time.Now or starts its own timers instead cannot be run on
// simulated time, nor tested against a skewed host.
type Clock interface {
	// Now is the current time on this clock.
	Now() time.Time
	// After sends the time on the channel once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// hostClockRefresh is how often HostClock re-reads the host's offset.
const hostClockRefresh = 10 * time.Second

// HostClock is a Clock on the host's Clock service. Now is the local
// monotonic clock plus the host's offset, read at the first call and
// every 10 s after (one call, not one per reading); After uses local
// timers, since a host clock that is skewed by a constant has the same
// durations. Without a host clock (nil), or while it fails, it is the
// local clock.
func HostClock(c hostv1.ClockClient) Clock {
	if c == nil {
		return systemClock{}
	}
	return &hostClock{c: c}
}

type hostClock struct {
	c      hostv1.ClockClient
	mu     sync.Mutex
	offset time.Duration
	read   time.Time // local time of the last read; zero before the first
}

func (h *hostClock) Now() time.Time {
	local := time.Now()
	h.mu.Lock()
	stale := h.read.IsZero() || local.Sub(h.read) > hostClockRefresh
	off := h.offset
	h.mu.Unlock()
	if stale {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		r, err := h.c.Now(ctx, &hostv1.NowRequest{})
		cancel()
		after := time.Now()
		h.mu.Lock()
		h.read = after // on failure: the last offset, tried again later
		if err == nil {
			// the host read its clock about halfway through the call
			mid := local.Add(after.Sub(local) / 2)
			h.offset = time.Unix(0, r.GetUnixNano()).Sub(mid)
		}
		off = h.offset
		h.mu.Unlock()
		local = after
	}
	return local.Add(off)
}

func (h *hostClock) After(d time.Duration) <-chan time.Time { return systemClock{}.After(d) }

// systemClock is the local clock.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
