package hostsvc

import (
	"context"
	"testing"
	"time"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// TestSleepOnOwnClock: Sleep's deadline is on the clock Now serves, so a
// plugin that adds its timeout to Now waits that timeout, however far the
// clock is from the wall.
func TestSleepOnOwnClock(t *testing.T) {
	for _, skew := range []time.Duration{-time.Hour, 0, time.Hour} {
		c := &Clock{now: func() time.Time { return time.Now().Add(skew) }}
		now, err := c.Now(context.Background(), &hostv1.NowRequest{})
		if err != nil {
			t.Fatal(err)
		}
		until := now.GetUnixNano() + int64(20*time.Millisecond)
		r, err := c.Sleep(context.Background(), &hostv1.SleepRequest{UntilUnixNano: until})
		if err != nil {
			t.Fatalf("skew %s: %v", skew, err)
		}
		if r.GetUnixNano() < until {
			t.Fatalf("skew %s: returned at %d, before the deadline %d", skew, r.GetUnixNano(), until)
		}
	}
}
