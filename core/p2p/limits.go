package p2p

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// Per-peer flood limits for the direct, sync and status protocols. A peer
// over them has its request dropped (the stream is reset) and is reported.
const (
	directMsgRate   = 500 // messages per second
	directMsgBurst  = 1000
	directByteRate  = 32 << 20 // bytes per second
	directByteBurst = 2 * MaxMessageSize
	syncRate        = 20 // requests per second
	syncBurst       = 40
	statusRate      = 10
	statusBurst     = 20
)

type peerLimits struct {
	directMsgs, directBytes, sync, status *rate.Limiter
}

type limiter struct {
	mu    sync.Mutex
	peers map[peer.ID]*peerLimits
}

func newLimiter() *limiter { return &limiter{peers: map[peer.ID]*peerLimits{}} }

func (l *limiter) get(p peer.ID) *peerLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
	pl := l.peers[p]
	if pl == nil {
		pl = &peerLimits{
			directMsgs:  rate.NewLimiter(directMsgRate, directMsgBurst),
			directBytes: rate.NewLimiter(directByteRate, directByteBurst),
			sync:        rate.NewLimiter(syncRate, syncBurst),
			status:      rate.NewLimiter(statusRate, statusBurst),
		}
		l.peers[p] = pl
	}
	return pl
}

// forget drops a disconnected peer's buckets. A peer that reconnects to
// refill them pays a handshake, and its reports and bans are kept.
func (l *limiter) forget(p peer.ID) {
	l.mu.Lock()
	delete(l.peers, p)
	l.mu.Unlock()
}
