package hostsvc

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/store"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "n.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ns, err := db.Namespace("fee.test")
	if err != nil {
		t.Fatal(err)
	}
	return NewStore(ns)
}

func TestStoreCodes(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	big := make([]byte, store.MaxValueSize+1)
	manyOps := make([]*hostv1.BatchOp, store.MaxBatchOps+1)
	for i := range manyOps {
		manyOps[i] = &hostv1.BatchOp{Key: []byte{1}}
	}
	for _, tc := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"put ok", func() error {
			_, err := s.Put(ctx, &hostv1.PutRequest{Key: []byte("k"), Value: []byte("v")})
			return err
		}, codes.OK},
		{"put empty value ok", func() error { _, err := s.Put(ctx, &hostv1.PutRequest{Key: []byte("e")}); return err }, codes.OK},
		{"empty key", func() error { _, err := s.Put(ctx, &hostv1.PutRequest{Value: []byte("v")}); return err }, codes.InvalidArgument},
		{"key too long", func() error {
			_, err := s.Get(ctx, &hostv1.GetRequest{Key: make([]byte, store.MaxKeySize+1)})
			return err
		}, codes.InvalidArgument},
		{"value too large", func() error { _, err := s.Put(ctx, &hostv1.PutRequest{Key: []byte("k"), Value: big}); return err }, codes.InvalidArgument},
		{"batch too many ops", func() error { _, err := s.Batch(ctx, &hostv1.BatchRequest{Ops: manyOps}); return err }, codes.InvalidArgument},
		{"delete carrying a value", func() error {
			_, err := s.Batch(ctx, &hostv1.BatchRequest{Ops: []*hostv1.BatchOp{{Key: []byte("k"), Value: []byte("v"), Delete: true}}})
			return err
		}, codes.InvalidArgument},
		{"scan limit 0", func() error { _, err := s.Scan(ctx, &hostv1.ScanRequest{}); return err }, codes.InvalidArgument},
	} {
		if got := status.Code(tc.call()); got != tc.want {
			t.Errorf("%s: code %s, want %s", tc.name, got, tc.want)
		}
	}
	r, err := s.Get(ctx, &hostv1.GetRequest{Key: []byte("missing")})
	if err != nil || r.GetFound() {
		t.Fatalf("missing key: %v %v", r, err)
	}
	r, err = s.Get(ctx, &hostv1.GetRequest{Key: []byte("e")})
	if err != nil || !r.GetFound() || len(r.GetValue()) != 0 {
		t.Fatalf("empty value: %v %v", r, err)
	}
}

func TestStoreBatchAndScan(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var ops []*hostv1.BatchOp
	for _, k := range []string{"a1", "a2", "a3", "b1"} {
		ops = append(ops, &hostv1.BatchOp{Key: []byte(k), Value: []byte("v" + k)})
	}
	if _, err := s.Batch(ctx, &hostv1.BatchRequest{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var after []byte
	for {
		r, err := s.Scan(ctx, &hostv1.ScanRequest{Prefix: []byte("a"), StartAfter: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range r.GetItems() {
			keys = append(keys, string(kv.GetKey()))
			after = kv.GetKey()
		}
		if !r.GetMore() {
			break
		}
	}
	if strings.Join(keys, ",") != "a1,a2,a3" {
		t.Fatalf("scan = %v", keys)
	}
}

func TestNetworkTopicsAndOrder(t *testing.T) {
	bus := NewBus()
	defer bus.Close()
	a := NewNetwork(bus, nil, "c", "consensus.bft")
	b := NewNetwork(bus, nil, "c", "consensus.other")
	for _, bad := range []string{"", "sp ace", strings.Repeat("x", MaxTopicLen+1), "ü"} {
		if _, err := a.topic(bad); err == nil {
			t.Errorf("topic %q accepted", bad)
		}
	}
	ta, _ := a.topic("votes")
	sub, err := bus.Subscribe(ta)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Another plugin's topic of the same name is another topic.
	if err := b.PublishLocal(ctx, "votes", []byte("other")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := a.Publish(ctx, &hostv1.PublishRequest{Topic: "votes", Data: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		m := <-sub.C
		if !bytes.Equal(m.Data, []byte{byte(i)}) {
			t.Fatalf("message %d = %v", i, m.Data)
		}
	}
	if _, err := a.Publish(ctx, &hostv1.PublishRequest{Topic: "votes", Data: make([]byte, MaxGossipBytes+1)}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("oversized publish: %v", err)
	}
	bus.Close()
	if _, err := a.Publish(ctx, &hostv1.PublishRequest{Topic: "votes"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("publish on closed bus: %v", err)
	}
}

func TestMetricsLabelsThePlugin(t *testing.T) {
	reg := metrics.New()
	m := NewMetrics(reg, "fee.eip1559")
	ctx := context.Background()
	if _, err := m.Record(ctx, &hostv1.RecordRequest{Metrics: []*hostv1.Metric{{Name: "blocks_total", Type: hostv1.Metric_TYPE_COUNTER, Value: 2}}}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Record(ctx, &hostv1.RecordRequest{Metrics: []*hostv1.Metric{{Name: "x", Type: hostv1.Metric_TYPE_GAUGE, Labels: map[string]string{"plugin": "forged"}}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("forged plugin label: %v", err)
	}
	if _, err := m.Record(ctx, &hostv1.RecordRequest{Metrics: []*hostv1.Metric{{Name: "bad name", Type: hostv1.Metric_TYPE_GAUGE}}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad name: %v", err)
	}
	var b strings.Builder
	_ = reg.WriteText(&b)
	if !strings.Contains(b.String(), `trellis_plugin_blocks_total{plugin="fee.eip1559"} 2`) {
		t.Fatalf("metrics:\n%s", b.String())
	}
}

// fakeTransport records what the Network service hands the network.
type fakeTransport struct {
	joined, published, sent, reported []string
}

func (f *fakeTransport) Join(t string) error { f.joined = append(f.joined, t); return nil }
func (f *fakeTransport) Publish(_ context.Context, t string, _ []byte) error {
	f.published = append(f.published, t)
	return nil
}
func (f *fakeTransport) Send(_ context.Context, p, t string, _ []byte) error {
	f.sent = append(f.sent, p+" "+t)
	return nil
}
func (f *fakeTransport) Report(p, r string)    { f.reported = append(f.reported, p+" "+r) }
func (f *fakeTransport) Peers() []*hostv1.Peer { return []*hostv1.Peer{{Id: "p1", Score: -3}} }

func TestNetworkOverTransport(t *testing.T) {
	bus := NewBus()
	defer bus.Close()
	ctx := context.Background()
	tr := &fakeTransport{}
	n := NewNetwork(bus, tr, "c", "consensus.bft")
	if _, err := n.Publish(ctx, &hostv1.PublishRequest{Topic: "vote", Data: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(ctx, &hostv1.SendRequest{Peer: "p1", Topic: "vote", Data: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Report(ctx, &hostv1.ReportRequest{Peer: "p1", Reason: "bad signature"}); err != nil {
		t.Fatal(err)
	}
	full := Topic("c", "consensus.bft", "vote")
	if len(tr.published) != 1 || tr.published[0] != full || len(tr.sent) != 1 || tr.sent[0] != "p1 "+full || tr.reported[0] != "p1 bad signature" {
		t.Fatalf("transport saw %+v", tr)
	}
	if r, _ := n.Peers(ctx, &hostv1.PeersRequest{}); len(r.GetPeers()) != 1 || r.GetPeers()[0].GetScore() != -3 {
		t.Fatalf("peers = %v", r)
	}
	for name, c := range map[string]struct {
		req  *hostv1.SendRequest
		code codes.Code
	}{
		"no peer":   {&hostv1.SendRequest{Topic: "vote"}, codes.InvalidArgument},
		"bad topic": {&hostv1.SendRequest{Peer: "p", Topic: "a b"}, codes.InvalidArgument},
		"too large": {&hostv1.SendRequest{Peer: "p", Topic: "vote", Data: make([]byte, MaxGossipBytes+1)}, codes.InvalidArgument},
	} {
		if _, err := n.Send(ctx, c.req); status.Code(err) != c.code {
			t.Errorf("%s: %v, want %v", name, err, c.code)
		}
	}
	if _, err := n.Report(ctx, &hostv1.ReportRequest{Peer: "p", Reason: strings.Repeat("x", MaxReasonLen+1)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("long reason: %v", err)
	}
	alone := NewNetwork(bus, nil, "c", "consensus.bft")
	if _, err := alone.Send(ctx, &hostv1.SendRequest{Peer: "p1", Topic: "vote"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("send without a network: %v", err)
	}
}
