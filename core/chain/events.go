package chain

import (
	"sync"
	"sync/atomic"

	"github.com/trellis-chain/trellis/protocol/block"
)

// EventKind says what happened.
type EventKind int

// Event kinds.
const (
	// EventCommitted: a block joined the block tree.
	EventCommitted EventKind = iota + 1
	// EventHead: the canonical head moved.
	EventHead
	// EventFinal: a block became final.
	EventFinal
)

// Event is a chain event.
type Event struct {
	Kind  EventKind
	Block *block.Block
	// Reverted (newest first) and Applied (oldest first) are the blocks a
	// head change rolled back and forward; Applied ends with Block.
	Reverted []block.Hash
	Applied  []*block.Block
}

// subBuffer is each subscriber's queue. A subscriber that falls this far
// behind loses events rather than stalling the chain; Dropped counts them.
const subBuffer = 1024

type subscribers struct {
	mu      sync.Mutex
	next    int
	chans   map[int]chan Event
	dropped atomic.Uint64
}

func newSubscribers() *subscribers { return &subscribers{chans: make(map[int]chan Event)} }

func (s *subscribers) publish(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.chans {
		select {
		case ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// Subscribe returns a channel of chain events and a function that ends the
// subscription and closes the channel. A reader that falls behind by more
// than 1024 events misses events (see DroppedEvents).
func (c *Chain) Subscribe() (<-chan Event, func()) {
	s := c.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	ch := make(chan Event, subBuffer)
	s.chans[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.chans, id)
			close(ch)
			s.mu.Unlock()
		})
	}
}

// DroppedEvents counts events lost to slow subscribers.
func (c *Chain) DroppedEvents() uint64 { return c.subs.dropped.Load() }
