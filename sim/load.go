package sim

import "time"

// load is a steady stream of transfers: transfer k (from 0) is submitted
// at start + k/rate, until stop. Every proposer sees every submitted
// transfer at once (a perfectly gossiped mempool).
type load struct {
	rate        float64
	start, stop time.Duration
	maxPerBlock uint64
}

// submitted is how many transfers were submitted by now.
func (l load) submitted(now time.Duration) uint64 {
	if l.rate <= 0 || now <= l.start {
		return 0
	}
	return uint64(float64(min(now, l.stop)-l.start) / float64(time.Second) * l.rate)
}

// at is when transfer k was submitted.
func (l load) at(k uint64) time.Duration {
	return l.start + time.Duration(float64(k)/l.rate*float64(time.Second))
}
