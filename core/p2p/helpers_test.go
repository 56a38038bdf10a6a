package p2p

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

var testGenesis = [32]byte{1, 2, 3}

var bothTransports = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

func testConfig(tb testing.TB) Config {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	logger := hclog.NewNullLogger()
	if os.Getenv("P2P_TEST_LOG") != "" {
		logger = hclog.New(&hclog.LoggerOptions{Name: tb.Name(), Level: hclog.Debug})
	}
	return Config{
		ChainID: "test-chain", Genesis: testGenesis, Key: key, Listen: bothTransports,
		MaxPeers: 32, MaxStreams: 4096, MaxMemoryMB: 256, QueueSize: 1024,
		Heartbeat: 100 * time.Millisecond, Logger: logger, BanDuration: time.Minute,
	}
}

func newHost(tb testing.TB, mod ...func(*Config)) *Host {
	tb.Helper()
	cfg := testConfig(tb)
	for _, m := range mod {
		m(&cfg)
	}
	h, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("new host: %v", err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

func newHosts(tb testing.TB, n int, mod ...func(*Config)) []*Host {
	hs := make([]*Host, n)
	for i := range hs {
		hs[i] = newHost(tb, mod...)
	}
	return hs
}

func connect(tb testing.TB, a, b *Host) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.h.Connect(ctx, peer.AddrInfo{ID: b.self, Addrs: b.h.Addrs()}); err != nil {
		tb.Fatalf("connect %s -> %s: %v", a.self.ShortString(), b.self.ShortString(), err)
	}
}

func connectAll(tb testing.TB, hs []*Host) {
	for i := range hs {
		for j := i + 1; j < len(hs); j++ {
			connect(tb, hs[i], hs[j])
		}
	}
}

func connected(a, b *Host) bool { return a.h.Network().Connectedness(b.self) == network.Connected }

// eventually polls cond until it holds or the (generous) timeout passes.
func eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMesh waits until every host sees at least want peers on the topic.
func waitMesh(tb testing.TB, hs []*Host, topic string, want int) {
	tb.Helper()
	wants := make([]int, len(hs))
	for i := range wants {
		wants[i] = want
	}
	waitMeshEach(tb, hs, topic, wants)
}

// waitMeshEach waits until host i has at least wants[i] mesh and topic
// peers. A sparse topology needs every link in the mesh before a test
// publishes: a message published while a link is still grafting reaches the
// far side only through gossip, whose window is a few heartbeats.
func waitMeshEach(tb testing.TB, hs []*Host, topic string, wants []int) {
	tb.Helper()
	eventually(tb, 20*time.Second, fmt.Sprintf("mesh peers %v on %s", wants, topic), func() bool {
		for i, h := range hs {
			if len(h.MeshPeers(topic)) < wants[i] || len(h.TopicPeers(topic)) < wants[i] {
				return false
			}
		}
		return true
	})
}

// inbox collects delivered messages.
type inbox struct {
	mu   sync.Mutex
	msgs []Message
}

func (b *inbox) deliver(m Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

func (b *inbox) all() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Message(nil), b.msgs...)
}

func (b *inbox) count() int { return len(b.all()) }

func (b *inbox) has(data string) bool {
	for _, m := range b.all() {
		if string(m.Data) == data {
			return true
		}
	}
	return false
}

func scoreOf(h *Host, id string) (float64, bool) {
	for _, p := range h.Peers() {
		if p.ID == id {
			return p.Score, true
		}
	}
	return 0, false
}
