package hostsvc

import (
	"context"
	"fmt"
	"time"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// MaxSleep bounds one Sleep call; plugins loop for longer waits.
const MaxSleep = 10 * time.Minute

// Clock serves the wall clock. The deterministic simulator serves its own.
type Clock struct {
	hostv1.UnimplementedClockServer
	now func() time.Time
}

// NewClock serves time.Now.
func NewClock() *Clock { return &Clock{now: time.Now} }

// NewSkewedClock serves time.Now shifted by skew.
func NewSkewedClock(skew time.Duration) *Clock {
	if skew == 0 {
		return NewClock()
	}
	return &Clock{now: func() time.Time { return time.Now().Add(skew) }}
}

func (c *Clock) Now(context.Context, *hostv1.NowRequest) (*hostv1.NowResponse, error) {
	return &hostv1.NowResponse{UnixNano: c.now().UnixNano()}, nil
}

func (c *Clock) Sleep(ctx context.Context, req *hostv1.SleepRequest) (*hostv1.SleepResponse, error) {
	d := time.Unix(0, req.GetUntilUnixNano()).Sub(c.now()) // on this clock, which may be skewed
	if d > MaxSleep {
		return nil, toStatus(fmt.Errorf("%w: sleep of %s exceeds %s", errInvalid, d.Round(time.Second), MaxSleep))
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, toStatus(ctx.Err())
		case <-t.C:
		}
	}
	return &hostv1.SleepResponse{UnixNano: c.now().UnixNano()}, nil
}
