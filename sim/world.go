package sim

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math/rand/v2"
	"time"
)

// Epoch is the wall time the virtual clock starts at: fixed, so a run
// does not depend on when it ran.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// event is one thing the world does at a time; seq orders events of one
// instant in the order they were scheduled.
type event struct {
	at  time.Duration
	seq uint64
	f   func()
}

type events []*event

func (q events) Len() int { return len(q) }
func (q events) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q events) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// World is the simulation's one thread of time: an event queue on a
// virtual clock, a seeded random source, and the running hash of the
// trace.
type World struct {
	now   time.Duration
	seq   uint64
	q     events
	rng   *rand.Rand
	trace hash.Hash
	// Events counts the events run.
	Events uint64
}

// NewWorld starts a world at Epoch with the given seed.
func NewWorld(seed uint64) *World {
	return &World{rng: rand.New(rand.NewPCG(seed, 0x5eed)), trace: sha256.New()}
}

// Now is the virtual time since the start.
func (w *World) Now() time.Duration { return w.now }

// At schedules f at virtual time t (not before now).
func (w *World) At(t time.Duration, f func()) {
	if t < w.now {
		t = w.now
	}
	w.seq++
	heap.Push(&w.q, &event{at: t, seq: w.seq, f: f})
}

// After schedules f d from now.
func (w *World) After(d time.Duration, f func()) { w.At(w.now+d, f) }

// Run runs events in time order until none is left before until.
func (w *World) Run(until time.Duration) {
	for len(w.q) > 0 && w.q[0].at <= until {
		e := heap.Pop(&w.q).(*event)
		w.now = e.at
		w.Events++
		e.f()
	}
	if w.now < until {
		w.now = until
	}
}

// Note adds a line to the trace: what happened, when.
func (w *World) Note(kind byte, a, b uint64, data []byte) {
	var buf [25]byte
	binary.BigEndian.PutUint64(buf[0:], uint64(w.now))
	buf[8] = kind
	binary.BigEndian.PutUint64(buf[9:], a)
	binary.BigEndian.PutUint64(buf[17:], b)
	w.trace.Write(buf[:])
	w.trace.Write(data)
}

// TraceHash is the hash of everything noted so far.
func (w *World) TraceHash() [32]byte {
	var out [32]byte
	w.trace.Sum(out[:0])
	return out
}

// clock is one node's view of the world's time: bft.Scheduler.
type clock struct{ w *World }

func (c clock) Now() time.Time { return Epoch.Add(c.w.now) }

// After exists for sdk.Clock; simulated engines use AfterFunc.
func (c clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.w.After(d, func() { ch <- Epoch.Add(c.w.now) })
	return ch
}

func (c clock) AfterFunc(d time.Duration, f func()) { c.w.After(d, f) }
