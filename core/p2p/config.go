package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/internal/defaults"
)

// Config configures a Host. Zero values take the defaults named on each field.
type Config struct {
	ChainID   string             // scopes every protocol id and the DHT; 1..64 bytes
	Genesis   [32]byte           // status handshake: a peer with another genesis or chain id is disconnected
	Key       ed25519.PrivateKey // the libp2p identity
	Listen    []string           // multiaddrs, e.g. /ip4/127.0.0.1/tcp/0 and /ip4/127.0.0.1/udp/0/quic-v1; none = dial only
	Bootstrap []string           // multiaddrs ending in /p2p/<id>; dialled at start and re-dialled with backoff
	Announce  []string           // multiaddrs told to peers instead of the listen addresses; none = the listen addresses
	MaxPeers  int                // connection manager high water; default 64
	DHT       bool               // Kademlia discovery scoped to the chain id, rendezvous on the chain id
	// MaxStreams and MaxMemoryMB are the resource manager's limits for the whole
	// host (defaults 8192 streams, 1024 MiB). They are set explicitly, never
	// derived from the machine, because many hosts may share one machine.
	MaxStreams, MaxMemoryMB int
	QueueSize               int           // gossipsub per-peer outbound queue, subscription and validation buffers; default 1024
	Heartbeat               time.Duration // gossipsub heartbeat; default 700ms
	Logger                  hclog.Logger  // default: no logging
	Metrics                 *metrics.Registry

	// BanDuration is how long a peer that failed the handshake or fell below
	// the graylist threshold stays disconnected and refused; default 1 minute.
	BanDuration time.Duration
}

// Defaults applied by New, and the HCL defaults of the network block
// (config takes them from here; docs/configuration.md lists them, checked
// by config's tests). Limits are for one host of many on a machine:
// libp2p's autoscaling assumes one host owns it.
const (
	DefaultMaxPeers    = 50
	DefaultMaxStreams  = 1024
	DefaultMaxMemoryMB = 256
	DefaultQueueSize   = 1024
	DefaultHeartbeat   = 700 * time.Millisecond
	DefaultBan         = time.Minute
)

// Errors.
var (
	ErrConfig      = errors.New("p2p: invalid config")
	ErrClosed      = errors.New("p2p: host closed")
	ErrTooLarge    = errors.New("p2p: message too large")
	ErrJoined      = errors.New("p2p: topic already joined")
	ErrBadPeer     = errors.New("p2p: bad peer id")
	ErrNoPeers     = errors.New("p2p: no peer can serve the request")
	ErrNoSource    = errors.New("p2p: peer serves no blocks")
	ErrBadResponse = errors.New("p2p: bad response")
	// ErrBadBlock may be wrapped by Download's apply to say that the block it
	// was given is invalid: the peer that sent it is reported and excluded,
	// and the heights from there on are fetched again from other peers. Any
	// other error from apply stops Download.
	ErrBadBlock = errors.New("p2p: bad block")
)

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.ChainID == "" || len(out.ChainID) > MaxChainIDLen {
		return out, fmt.Errorf("%w: chain id length %d not in 1..%d", ErrConfig, len(out.ChainID), MaxChainIDLen)
	}
	for _, r := range out.ChainID {
		if r <= ' ' || r == '/' || r > '~' {
			return out, fmt.Errorf("%w: chain id %q: printable ASCII without '/' or spaces", ErrConfig, out.ChainID)
		}
	}
	if len(out.Key) != ed25519.PrivateKeySize {
		return out, fmt.Errorf("%w: ed25519 key of %d bytes, want %d", ErrConfig, len(out.Key), ed25519.PrivateKeySize)
	}
	defaults.Positive(&out.MaxPeers, DefaultMaxPeers)
	defaults.Positive(&out.MaxStreams, DefaultMaxStreams)
	defaults.Positive(&out.MaxMemoryMB, DefaultMaxMemoryMB)
	defaults.Positive(&out.QueueSize, DefaultQueueSize)
	defaults.Positive(&out.Heartbeat, DefaultHeartbeat)
	defaults.Positive(&out.BanDuration, DefaultBan)
	if out.Logger == nil {
		out.Logger = hclog.NewNullLogger()
	}
	return out, nil
}
