package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/trellis-chain/trellis/core/metrics"
)

const topicA = "/trellis/test-chain/test/a"

func TestConfigErrors(t *testing.T) {
	good := testConfig(t)
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"empty chain id", func(c *Config) { c.ChainID = "" }},
		{"chain id with slash", func(c *Config) { c.ChainID = "a/b" }},
		{"long chain id", func(c *Config) { c.ChainID = strings.Repeat("x", 65) }},
		{"short key", func(c *Config) { c.Key = c.Key[:10] }},
		{"bad listen", func(c *Config) { c.Listen = []string{"not-a-multiaddr"} }},
		{"bootstrap without id", func(c *Config) { c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mod(&cfg)
			if _, err := New(context.Background(), cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}

func TestPeerIDFromKeyAndAddrs(t *testing.T) {
	h := newHost(t)
	id, err := PeerIDFromKey(h.cfg.Key.Public().(ed25519.PublicKey))
	if err != nil || id != h.ID() {
		t.Fatalf("PeerIDFromKey = %q, %v; host id %q", id, err, h.ID())
	}
	if _, err := PeerIDFromKey(make([]byte, 5)); !errors.Is(err, ErrConfig) {
		t.Fatalf("short key: %v", err)
	}
	addrs := h.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("addrs %v, want tcp and quic", addrs)
	}
	for _, a := range addrs {
		if !strings.HasSuffix(a, "/p2p/"+h.ID()) {
			t.Fatalf("addr %q lacks /p2p/<id>", a)
		}
		if _, err := peer.AddrInfoFromString(a); err != nil {
			t.Fatalf("addr %q: %v", a, err)
		}
	}
}

func TestGossipReachesAllWithOwnMessages(t *testing.T) {
	reg := metrics.New()
	hs := newHosts(t, 4, func(c *Config) { c.Metrics = reg })
	// a line a-b-c-d: messages from the ends must be relayed
	connect(t, hs[0], hs[1])
	connect(t, hs[1], hs[2])
	connect(t, hs[2], hs[3])
	boxes := make([]*inbox, len(hs))
	for i, h := range hs {
		boxes[i] = &inbox{}
		if err := h.Join(topicA, nil, boxes[i].deliver); err != nil {
			t.Fatal(err)
		}
	}
	if err := hs[0].Join(topicA, nil, func(Message) {}); !errors.Is(err, ErrJoined) {
		t.Fatalf("second join: %v", err)
	}
	waitMeshEach(t, hs, topicA, []int{1, 2, 2, 1})
	for i, h := range hs {
		if err := h.Publish(context.Background(), topicA, []byte(fmt.Sprintf("msg-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range boxes {
		eventually(t, 20*time.Second, fmt.Sprintf("host %d gets all 4 messages", i), func() bool { return b.count() >= 4 })
		for _, m := range b.all() {
			var from int
			if _, err := fmt.Sscanf(string(m.Data), "msg-%d", &from); err != nil {
				t.Fatalf("unexpected message %q", m.Data)
			}
			want := hs[from].ID()
			if from == i {
				want = ""
			}
			if m.From != want || m.Topic != topicA || m.Direct || len(m.ID) == 0 {
				t.Fatalf("host %d: message %q from %q (want %q), topic %q, direct %v", i, m.Data, m.From, want, m.Topic, m.Direct)
			}
		}
	}
	if err := hs[0].Publish(context.Background(), topicA, make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized publish: %v", err)
	}
	tr := hs[1].Traffic()[topicA]
	if tr.SentMsgs != 1 || tr.RecvMsgs != 3 || tr.SentBytes == 0 || tr.RecvBytes == 0 {
		t.Fatalf("traffic of relaying host: %+v", tr)
	}
	eventually(t, 10*time.Second, "metrics flushed", func() bool {
		var sb strings.Builder
		_ = reg.WriteText(&sb)
		return strings.Contains(sb.String(), MetricSentMessages+`{topic="`+topicA+`"}`) &&
			strings.Contains(sb.String(), MetricRecvBytes) && strings.Contains(sb.String(), MetricPeers)
	})

	// Leave stops delivery
	hs[3].Leave(topicA)
	n := boxes[3].count()
	if err := hs[0].Publish(context.Background(), topicA, []byte("after-leave")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "host 2 gets the message", func() bool { return boxes[2].has("after-leave") })
	if boxes[3].count() != n {
		t.Fatal("delivered after Leave")
	}
}

func TestRejectDropsAndLowersScore(t *testing.T) {
	a, b := newHost(t), newHost(t)
	connect(t, a, b)
	got := &inbox{}
	reject := func(_ context.Context, _ string, data []byte) Verdict {
		switch {
		case strings.HasPrefix(string(data), "bad"):
			return Reject
		case strings.HasPrefix(string(data), "meh"):
			return Ignore
		}
		return Accept
	}
	if err := a.Join(topicA, reject, got.deliver); err != nil {
		t.Fatal(err)
	}
	if err := b.Join(topicA, nil, func(Message) {}); err != nil {
		t.Fatal(err)
	}
	waitMesh(t, []*Host{a, b}, topicA, 1)
	for i := 0; i < 3; i++ {
		for _, s := range []string{"bad", "meh", "good"} {
			if err := b.Publish(context.Background(), topicA, []byte(fmt.Sprintf("%s-%d", s, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, 20*time.Second, "good messages", func() bool { return got.count() >= 3 })
	eventually(t, 20*time.Second, "negative score of the sender", func() bool {
		s, ok := scoreOf(a, b.ID())
		return ok && s < 0
	})
	for _, m := range got.all() {
		if !strings.HasPrefix(string(m.Data), "good") || m.From != b.ID() {
			t.Fatalf("delivered %q from %q", m.Data, m.From)
		}
	}
	// own messages pass the validator too: a rejected own message fails Publish
	if err := a.Publish(context.Background(), topicA, []byte("bad-own")); err == nil {
		t.Fatal("own rejected message published")
	}
}

func TestReportBansPeer(t *testing.T) {
	a := newHost(t)
	b := newHost(t, func(c *Config) { c.Bootstrap = a.Addrs() })
	eventually(t, 20*time.Second, "bootstrap connection", func() bool { return connected(a, b) })
	for i := 0; i < 3; i++ {
		a.Report(b.ID(), "test")
	}
	if !connected(a, b) {
		t.Fatal("disconnected before the graylist threshold")
	}
	if s := a.appScore(b.self); s > -3*ReportPenalty+1 || s < -3*ReportPenalty {
		t.Fatalf("app score %v after 3 reports", s)
	}
	a.Report(b.ID(), "test")
	eventually(t, 10*time.Second, "disconnect", func() bool { return !connected(a, b) })
	for _, p := range a.Peers() {
		if p.ID == b.ID() {
			t.Fatal("banned peer still listed")
		}
	}
	// b's bootstrap loop keeps re-dialling; a refuses
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.h.Connect(ctx, peer.AddrInfo{ID: a.self, Addrs: a.h.Addrs()}); err == nil {
		// the dial may complete on b's side before a's gater closes it
		eventually(t, 10*time.Second, "refused reconnect", func() bool { return !connected(a, b) })
	}
	a.Report("not-a-peer-id", "ignored") // no panic
}

func TestSendDirect(t *testing.T) {
	a, b := newHost(t), newHost(t)
	connect(t, a, b)
	got := &inbox{}
	val := func(_ context.Context, from string, data []byte) Verdict {
		if string(data) == "bad" {
			return Reject
		}
		return Accept
	}
	if err := b.Join(topicA, val, got.deliver); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range []string{"bad", "hello"} {
		if err := a.Send(ctx, b.ID(), topicA, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Send(ctx, b.ID(), "/trellis/test-chain/unknown", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, b.ID(), topicA, []byte("self")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "direct messages", func() bool { return got.has("hello") && got.has("self") })
	for _, m := range got.all() {
		switch string(m.Data) {
		case "hello":
			if m.From != a.ID() || !m.Direct || m.Topic != topicA || len(m.ID) != 32 {
				t.Fatalf("direct message %+v", m)
			}
		case "self":
			if m.From != "" || !m.Direct {
				t.Fatalf("self message %+v", m)
			}
		default:
			t.Fatalf("delivered %q", m.Data)
		}
	}
	if b.appScore(a.self) >= 0 {
		t.Fatal("rejected direct message did not lower the sender's score")
	}
	if err := a.Send(ctx, "junk", topicA, nil); !errors.Is(err, ErrBadPeer) {
		t.Fatalf("bad peer id: %v", err)
	}
	if err := a.Send(ctx, b.ID(), topicA, make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized send: %v", err)
	}
	if tr := a.Traffic()[topicA]; tr.SentMsgs != 0 {
		// a never joined or published topicA: it is not a known topic there
		t.Fatalf("unknown topic counted: %+v", tr)
	}
	if tr := b.Traffic()[topicA]; tr.RecvMsgs != 1 || tr.WireRecvMsgs != 2 {
		t.Fatalf("direct traffic at receiver: %+v", tr)
	}
}

func TestSetBlockedPartitionsAndHeals(t *testing.T) {
	hs := newHosts(t, 4)
	connectAll(t, hs)
	boxes := make([]*inbox, len(hs))
	for i, h := range hs {
		boxes[i] = &inbox{}
		if err := h.Join(topicA, nil, boxes[i].deliver); err != nil {
			t.Fatal(err)
		}
	}
	waitMesh(t, hs, topicA, 3)
	// {0,1} | {2,3}
	left, right := []string{hs[0].ID(), hs[1].ID()}, []string{hs[2].ID(), hs[3].ID()}
	hs[0].SetBlocked(right)
	hs[1].SetBlocked(right)
	hs[2].SetBlocked(left)
	hs[3].SetBlocked(left)
	eventually(t, 10*time.Second, "partition", func() bool {
		return !connected(hs[0], hs[2]) && !connected(hs[0], hs[3]) && !connected(hs[1], hs[2]) && !connected(hs[1], hs[3])
	})
	if err := hs[0].Publish(context.Background(), topicA, []byte("split")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "delivery inside the partition", func() bool { return boxes[1].has("split") })
	if boxes[2].has("split") || boxes[3].has("split") {
		t.Fatal("message crossed the partition")
	}
	if err := hs[0].h.Connect(context.Background(), peer.AddrInfo{ID: hs[2].self, Addrs: hs[2].h.Addrs()}); err == nil {
		t.Fatal("dial across the partition succeeded")
	}
	for _, h := range hs {
		h.SetBlocked(nil)
	}
	eventually(t, 20*time.Second, "healed connections", func() bool { return connected(hs[0], hs[2]) && connected(hs[1], hs[3]) })
	waitMesh(t, hs, topicA, 2)
	if err := hs[3].Publish(context.Background(), topicA, []byte("healed")); err != nil {
		t.Fatal(err)
	}
	for i, b := range boxes {
		eventually(t, 20*time.Second, fmt.Sprintf("host %d after heal", i), func() bool { return b.has("healed") })
	}
}

func TestHandshakeRejectsOtherChain(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"other genesis", func(c *Config) { c.Genesis = [32]byte{9} }},
		{"other chain id", func(c *Config) { c.ChainID = "other-chain" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newHost(t)
			x := newHost(t, tc.mod)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = x.h.Connect(ctx, peer.AddrInfo{ID: a.self, Addrs: a.h.Addrs()})
			eventually(t, 20*time.Second, "disconnect", func() bool { return !connected(a, x) })
			eventually(t, 10*time.Second, "ban", func() bool { return a.isBlocked(x.self) || x.isBlocked(a.self) })
			if err := x.h.Connect(ctx, peer.AddrInfo{ID: a.self, Addrs: a.h.Addrs()}); err == nil {
				eventually(t, 10*time.Second, "refused reconnect", func() bool { return !connected(a, x) })
			}
		})
	}
}

func TestTransportsAlone(t *testing.T) {
	for _, tc := range []struct{ name, listen, want string }{
		{"tcp", "/ip4/127.0.0.1/tcp/0", "/tcp/"},
		{"quic", "/ip4/127.0.0.1/udp/0/quic-v1", "/quic-v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			only := func(c *Config) { c.Listen = []string{tc.listen} }
			a := newHost(t, only)
			b := newHost(t, only, func(c *Config) { c.Bootstrap = a.Addrs() })
			eventually(t, 20*time.Second, "connection", func() bool { return connected(a, b) })
			for _, c := range b.h.Network().ConnsToPeer(a.self) {
				if !strings.Contains(c.RemoteMultiaddr().String(), tc.want) {
					t.Fatalf("connection over %s", c.RemoteMultiaddr())
				}
			}
			got := &inbox{}
			if err := a.Join(topicA, nil, got.deliver); err != nil {
				t.Fatal(err)
			}
			if err := b.Send(context.Background(), a.ID(), topicA, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "direct message", func() bool { return got.has("ping") })
			eventually(t, 10*time.Second, "status exchanged", func() bool {
				ps := b.Peers()
				return len(ps) == 1 && ps[0].Status != nil && ps[0].Status.ChainID == "test-chain"
			})
		})
	}
}

func TestDHTDiscovery(t *testing.T) {
	dhtOn := func(c *Config) { c.DHT = true }
	a := newHost(t, dhtOn)
	b := newHost(t, dhtOn, func(c *Config) { c.Bootstrap = a.Addrs() })
	c := newHost(t, dhtOn, func(c *Config) { c.Bootstrap = a.Addrs() })
	eventually(t, 60*time.Second, "c discovers b through a", func() bool { return connected(c, b) })
}

func TestSyncFloodIsThrottled(t *testing.T) {
	a, b := newHost(t), newHost(t)
	a.ServeSync(newChainSource(10, 100, 0))
	connect(t, a, b)
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		go func() {
			var last error
			for i := 0; i < 20; i++ {
				if _, err := b.FetchBlocks(context.Background(), a.ID(), 1, 1); err != nil {
					last = err
				}
			}
			errs <- last
		}()
	}
	failed := 0
	for g := 0; g < 16; g++ {
		if <-errs != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("320 requests at once were all served")
	}
	if a.appScore(b.self) >= 0 {
		t.Fatal("flooding peer not reported")
	}
}

func TestPublishBeforeMeshReachesSubscribers(t *testing.T) {
	a, b := newHost(t, func(c *Config) { c.Heartbeat = time.Hour }), newHost(t, func(c *Config) { c.Heartbeat = time.Hour })
	connect(t, a, b)
	got := &inbox{}
	if err := a.Join(topicA, nil, func(Message) {}); err != nil {
		t.Fatal(err)
	}
	if err := b.Join(topicA, nil, got.deliver); err != nil {
		t.Fatal(err)
	}
	// subscriptions known, but no heartbeat has built a mesh
	eventually(t, 20*time.Second, "subscription seen", func() bool { return len(a.TopicPeers(topicA)) == 1 })
	if err := a.Publish(context.Background(), topicA, []byte("early")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "flood-published message", func() bool { return got.has("early") })
}

// TestAnnounceAndLatency: a host with announce addresses tells peers only
// those (a peer that learned it from identify holds nothing else), and
// every connected peer gets a measured round trip.
func TestAnnounceAndLatency(t *testing.T) {
	const fake = "/ip4/127.0.0.1/udp/9/quic-v1"
	a := newHost(t, func(c *Config) { c.Announce = []string{fake} })
	b := newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.h.Connect(ctx, peer.AddrInfo{ID: a.self, Addrs: a.h.Network().ListenAddresses()}); err != nil {
		t.Fatal(err) // dialled at a's real address
	}
	if got := a.Addrs(); len(got) != 1 || !strings.HasPrefix(got[0], fake) {
		t.Fatalf("a tells %v, want only %s", got, fake)
	}
	eventually(t, 20*time.Second, "identify and a round trip", func() bool {
		addrs := b.h.Peerstore().Addrs(a.self)
		ps := b.Peers()
		return len(addrs) == 1 && addrs[0].String() == fake && len(ps) == 1 && ps[0].Latency > 0
	})
}
