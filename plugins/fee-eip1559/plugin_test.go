package fee

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/trellis-chain/trellis/sdk"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// memStore is a host Store in memory whose Put can be held or failed.
type memStore struct {
	hostv1.UnimplementedStoreServer
	mu   sync.Mutex
	kv   map[string][]byte
	hold chan struct{} // Put waits on it when not nil
	fail error
}

func (s *memStore) Get(_ context.Context, r *hostv1.GetRequest) (*hostv1.GetResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[string(r.GetKey())]
	return &hostv1.GetResponse{Found: ok, Value: v}, nil
}

func (s *memStore) Put(_ context.Context, r *hostv1.PutRequest) (*hostv1.PutResponse, error) {
	s.mu.Lock()
	hold, fail := s.hold, s.fail
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail != nil {
		return nil, fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kv[string(r.GetKey())] = r.GetValue()
	return &hostv1.PutResponse{}, nil
}

func (s *memStore) get(key []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kv[string(key)]
}

func hostWith(t *testing.T, st *memStore) *sdk.Host {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	hostv1.RegisterStoreServer(srv, st)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return sdk.NewHost(cc)
}

func configured(t *testing.T, h *sdk.Host) *Plugin {
	t.Helper()
	p := New()
	if err := p.Configure(context.Background(), sdk.ConfigureRequest{Config: []byte("{}"), Host: h}); err != nil {
		t.Fatal(err)
	}
	return p
}

func priceOne(t *testing.T, p *Plugin, tip uint64) {
	t.Helper()
	parent := &feev1.Parent{Height: 1, BaseFee: 10, GasUsed: 0, GasLimit: 1_000_000}
	r, err := p.PriceBlock(context.Background(), &feev1.PriceBlockRequest{Parent: parent,
		Txs: []*feev1.TxFee{{GasUsed: 1000, GasLimit: 1000, MaxFeePerGas: 1000, MaxPriorityFeePerGas: tip}}})
	if err != nil || r.GetTxs()[0].GetReject() != feev1.TxPrice_REJECT_NONE {
		t.Fatalf("price: %v %v", r, err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // only stops a hung test
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Pricing is on the host's block path: it must answer while the Store is
// slow, save the tips afterwards, and keep working (Degraded) when the
// Store fails; a restarted plugin quotes from the saved tips.
func TestPriceBlockDoesNotWaitForTheStore(t *testing.T) {
	st := &memStore{kv: map[string][]byte{}, hold: make(chan struct{})}
	h := hostWith(t, st)
	p := configured(t, h)
	done := make(chan struct{})
	go func() {
		priceOne(t, p, 7)
		priceOne(t, p, 9)
		close(done)
	}()
	select {
	case <-done: // answered while the Store's Put is held
	case <-time.After(20 * time.Second):
		t.Fatal("PriceBlock waited for the Store")
	}
	st.mu.Lock()
	close(st.hold)
	st.hold = nil
	st.mu.Unlock()
	eventually(t, "the tips to be saved", func() bool { return len(st.get(recentTipsKey)) == 16 })

	p2 := configured(t, h)
	if got := p2.snapshotTips(); len(got) != 2 || got[0] != 7 || got[1] != 9 {
		t.Fatalf("restarted plugin's tips %v, want [7 9]", got)
	}

	st.mu.Lock()
	st.fail = errors.New("disk full")
	st.mu.Unlock()
	priceOne(t, p2, 11)
	eventually(t, "Health to say the tips are not saved", func() bool {
		hl := p2.Health(context.Background())
		return hl.Status == sdk.Degraded && strings.Contains(hl.Message, "disk full")
	})
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	priceOne(t, p2, 12)
	eventually(t, "Health to recover", func() bool { return p2.Health(context.Background()).Status == sdk.Serving })
}
