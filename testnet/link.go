package testnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// LinkShape is what every link of a testnet adds: one-way delay (each
// direction, so a round trip gains twice it), uniform jitter of ± Jitter
// on each datagram, and the fraction of datagrams lost. Nodes reach each
// other over QUIC through a userspace UDP relay in front of each node
// (these kernels have no netem qdisc), so the delay and loss are on real
// datagrams and QUIC's own loss recovery and congestion control see them.
type LinkShape struct {
	Delay  time.Duration `json:"delay"`
	Jitter time.Duration `json:"jitter"`
	Loss   float64       `json:"loss"`
}

func (l LinkShape) String() string {
	return fmt.Sprintf("delay %s ± %s, loss %.1f%%", l.Delay, l.Jitter, 100*l.Loss)
}

// Limits of a relay.
const (
	relayMaxFlows    = 1024 // client addresses per relay
	relayQueue       = 8192 // datagrams in flight per direction of a flow
	relayMaxDatagram = 64 << 10
)

// relay forwards datagrams between the peers that dial a node and the
// node's real QUIC port, delaying and dropping them as its shape says.
// Each direction of each flow is a FIFO: a datagram never overtakes an
// earlier one (jitter delays those behind it too), so there is no
// reordering.
type relay struct {
	shape  LinkShape
	front  *net.UDPConn
	target *net.UDPAddr

	mu    sync.Mutex
	rng   *rand.Rand
	flows map[string]*flow
	done  chan struct{}
	wg    sync.WaitGroup

	Forwarded, Dropped atomic.Int64
}

// flow is one client address: its upstream socket to the node and the
// pipes of both directions.
type flow struct {
	up          *net.UDPConn
	toNode      chan packet
	toClient    chan packet
	lastRelease [2]time.Time // per direction, under relay.mu
}

type packet struct {
	at   time.Time
	data []byte
}

// startRelay listens on udp addr listen and forwards to target.
func startRelay(listen, target string, shape LinkShape, seed uint64) (*relay, error) {
	la, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, err
	}
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", la)
	if err != nil {
		return nil, fmt.Errorf("link relay on %s: %w", listen, err)
	}
	r := &relay{shape: shape, front: c, target: ta, rng: rand.New(rand.NewPCG(seed, 0x7e11)),
		flows: map[string]*flow{}, done: make(chan struct{})}
	r.wg.Add(1)
	go r.readFront()
	return r, nil
}

// release decides a datagram's fate: false to drop it, else when to send.
func (r *relay) release(f *flow, dir int) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shape.Loss > 0 && r.rng.Float64() < r.shape.Loss {
		return time.Time{}, false
	}
	d := r.shape.Delay
	if j := r.shape.Jitter; j > 0 {
		d += time.Duration(r.rng.Int64N(int64(2*j)+1)) - j
	}
	at := time.Now().Add(d)
	if at.Before(f.lastRelease[dir]) {
		at = f.lastRelease[dir]
	}
	f.lastRelease[dir] = at
	return at, true
}

func (r *relay) readFront() {
	defer r.wg.Done()
	buf := make([]byte, relayMaxDatagram)
	for {
		n, from, err := r.front.ReadFromUDP(buf)
		if err != nil {
			return // closed
		}
		f := r.flowOf(from)
		if f == nil {
			r.Dropped.Add(1)
			continue
		}
		r.enqueue(f, 0, f.toNode, buf[:n])
	}
}

func (r *relay) enqueue(f *flow, dir int, ch chan packet, b []byte) {
	at, ok := r.release(f, dir)
	if !ok {
		r.Dropped.Add(1)
		return
	}
	select {
	case ch <- packet{at, append([]byte(nil), b...)}:
	default: // queue full: dropped, as a router's would be
		r.Dropped.Add(1)
	}
}

// flowOf finds or opens the flow of a client address; nil past the limit.
func (r *relay) flowOf(from *net.UDPAddr) *flow {
	key := from.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.flows[key]; ok {
		return f
	}
	if len(r.flows) >= relayMaxFlows {
		return nil
	}
	up, err := net.DialUDP("udp", nil, r.target)
	if err != nil {
		return nil
	}
	f := &flow{up: up, toNode: make(chan packet, relayQueue), toClient: make(chan packet, relayQueue)}
	r.flows[key] = f
	client := *from
	r.wg.Add(3)
	go r.pipe(f.toNode, func(b []byte) error { _, err := up.Write(b); return err })
	go r.pipe(f.toClient, func(b []byte) error { _, err := r.front.WriteToUDP(b, &client); return err })
	go func() {
		defer r.wg.Done()
		buf := make([]byte, relayMaxDatagram)
		for {
			n, err := up.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && !ne.Timeout() {
					select {
					case <-r.done:
						return
					default:
						continue // e.g. ECONNREFUSED while the node restarts
					}
				}
				return
			}
			r.enqueue(f, 1, f.toClient, buf[:n])
		}
	}()
	return f
}

// pipe sends each datagram of ch at its release time, in order.
func (r *relay) pipe(ch chan packet, send func([]byte) error) {
	defer r.wg.Done()
	for {
		select {
		case <-r.done:
			return
		case p := <-ch:
			if d := time.Until(p.at); d > 0 {
				select {
				case <-r.done:
					return
				case <-time.After(d):
				}
			}
			if send(p.data) == nil {
				r.Forwarded.Add(1)
			}
		}
	}
}

// Close stops the relay and waits for its goroutines.
func (r *relay) Close() {
	close(r.done)
	_ = r.front.Close()
	r.mu.Lock()
	for _, f := range r.flows {
		_ = f.up.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
