package mempool

import (
	"fmt"
	"sync"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// EventKind says what happened to a transaction.
type EventKind uint8

// Event kinds.
const (
	// Added: the transaction entered the pool.
	Added EventKind = iota + 1
	// Replaced: the transaction was replaced by one with the same sender
	// and nonce (whose Added event follows).
	Replaced
	// Evicted: the pool was full and a better-paying transaction took its
	// place.
	Evicted
	// Dropped: it was included or replayed, became unaffordable, or was
	// removed (Remove), together with the later nonces of its sender.
	Dropped
)

func (k EventKind) String() string {
	switch k {
	case Added:
		return "added"
	case Replaced:
		return "replaced"
	case Evicted:
		return "evicted"
	case Dropped:
		return "dropped"
	}
	return fmt.Sprintf("event kind %d", uint8(k))
}

// Event reports a change to the pool's contents. Reason is empty for Added.
type Event struct {
	Hash   tx.Hash
	Kind   EventKind
	Reason string
}

// EventBuffer is the number of events a subscriber may fall behind by
// before it loses events.
const EventBuffer = 4096

// Subscribe returns a channel of events in the order the pool applied them
// and a function that ends the subscription and closes the channel (safe to
// call more than once). The pool never waits for a subscriber: when a
// subscriber's buffer of EventBuffer events is full, further events for it
// are discarded and counted in LostEvents, so a subscriber that must see
// everything should read promptly and resynchronise (Get, Len) when
// LostEvents grows.
func (m *Mempool) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, EventBuffer)
	m.mu.Lock()
	m.nextSub++
	id := m.nextSub
	m.subs[id] = ch
	m.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs, id)
			close(ch)
			m.mu.Unlock()
		})
	}
}

// LostEvents returns how many events were discarded, over all subscribers,
// because a subscriber's buffer was full.
func (m *Mempool) LostEvents() uint64 { return m.lostEvents.Load() }

// emit delivers an event to every subscriber without blocking; reason (nil
// for none) is only called when someone listens. m.mu must be held for
// writing.
func (m *Mempool) emit(h tx.Hash, kind EventKind, reason func() string) {
	if len(m.subs) == 0 {
		return
	}
	ev := Event{Hash: h, Kind: kind}
	if reason != nil {
		ev.Reason = reason()
	}
	for _, ch := range m.subs {
		select {
		case ch <- ev:
		default:
			m.lostEvents.Add(1)
		}
	}
}
