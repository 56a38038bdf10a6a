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

// hostClockRefresh is how often HostClock re-reads the host's offset;
// hostClockSamples how many calls one reading takes.
const (
	hostClockRefresh = 10 * time.Second
	hostClockSamples = 3
)

// HostClock is a Clock on the host's Clock service. Now is the local
// clock plus the host's offset, read at the first call and every 10 s
// after (a few calls, not one per reading); After uses local timers,
// since a host clock that is skewed by a constant has the same
// durations. Without a host clock (nil), or while it fails, it is the
// local clock.
//
// The host read its clock at some local instant within the call, so a
// call bounds the offset to an interval as wide as its round trip; the
// offset taken is the point of that interval nearest zero (so a host on
// this machine's clock, the common case, reads as exactly zero however
// slow the call), from the call with the shortest round trip of each
// reading. A reading whose best round trip is more than twice the best
// seen so far keeps the previous offset: a cached error would last until
// the next reading.
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
	best   time.Duration // shortest round trip of an accepted reading
	read   time.Time     // local time of the last reading; zero before the first
}

// sample is one call: the host's offset and the call's round trip.
func (h *hostClock) sample() (offset, rtt time.Duration, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	before := time.Now()
	r, err := h.c.Now(ctx, &hostv1.NowRequest{})
	after := time.Now()
	if err != nil {
		return 0, 0, false
	}
	host := time.Unix(0, r.GetUnixNano())
	lo, hi := host.Sub(after), host.Sub(before) // the offset is in [lo, hi]
	switch {
	case lo > 0:
		offset = lo
	case hi < 0:
		offset = hi
	}
	return offset, after.Sub(before), true
}

func (h *hostClock) Now() time.Time {
	local := time.Now()
	h.mu.Lock()
	stale := h.read.IsZero() || local.Sub(h.read) > hostClockRefresh
	h.mu.Unlock()
	if stale {
		var off, rtt time.Duration
		got := false
		for range hostClockSamples {
			if o, r, ok := h.sample(); ok && (!got || r < rtt) {
				off, rtt, got = o, r, true
			}
		}
		h.mu.Lock()
		h.read = time.Now() // on failure: the last offset, tried again later
		if got && (h.best == 0 || rtt <= 2*h.best) {
			h.offset = off
			if h.best == 0 || rtt < h.best {
				h.best = max(rtt, time.Microsecond)
			}
		}
		h.mu.Unlock()
		local = time.Now()
	}
	h.mu.Lock()
	off := h.offset
	h.mu.Unlock()
	return local.Add(off)
}

func (h *hostClock) After(d time.Duration) <-chan time.Time { return systemClock{}.After(d) }

// systemClock is the local clock.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
