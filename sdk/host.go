package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Host reaches the services the host offers. A service the host lacks (see
// NodeInfo.HostCapabilities) answers codes.Unimplemented.
type Host struct {
	Chain   hostv1.ChainClient
	Network hostv1.NetworkClient
	Signer  hostv1.SignerClient
	Clock   hostv1.ClockClient
	Metrics hostv1.MetricsClient
	// Store is the plugin's own key-value namespace in the node's database.
	Store *Store

	conn *grpc.ClientConn
}

func dialHost(b *plugin.GRPCBroker, id uint32, _ []string) (*Host, error) {
	if b == nil {
		return nil, errors.New("no broker")
	}
	if id == 0 {
		return nil, errors.New("host sent no host-services broker id")
	}
	cc, err := b.Dial(id)
	if err != nil {
		return nil, err
	}
	return NewHost(cc), nil
}

// NewHost wraps a connection to the host services. Plugins get theirs from
// Configure; NewHost is for tests and tools.
func NewHost(cc *grpc.ClientConn) *Host {
	return &Host{
		Chain:   hostv1.NewChainClient(cc),
		Network: hostv1.NewNetworkClient(cc),
		Signer:  hostv1.NewSignerClient(cc),
		Clock:   hostv1.NewClockClient(cc),
		Metrics: hostv1.NewMetricsClient(cc),
		Store:   &Store{c: hostv1.NewStoreClient(cc)},
		conn:    cc,
	}
}

// Close closes the connection to the host services.
func (h *Host) Close() error {
	if h == nil || h.conn == nil {
		return nil
	}
	return h.conn.Close()
}

// ErrNotFound is returned by Store.Get for a missing key.
var ErrNotFound = errors.New("key not found")

// Store is a plugin's key-value namespace, persisted in the node's bbolt
// file. Writes are durable when the call returns.
type Store struct {
	c hostv1.StoreClient
}

// Get returns the value of key, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	r, err := s.c.Get(ctx, &hostv1.GetRequest{Key: key})
	if err != nil {
		return nil, fmt.Errorf("store get: %w", err)
	}
	if !r.GetFound() {
		return nil, ErrNotFound
	}
	return r.GetValue(), nil
}

// Put writes key.
func (s *Store) Put(ctx context.Context, key, value []byte) error {
	if _, err := s.c.Put(ctx, &hostv1.PutRequest{Key: key, Value: value}); err != nil {
		return fmt.Errorf("store put: %w", err)
	}
	return nil
}

// Delete removes key; a missing key is no error.
func (s *Store) Delete(ctx context.Context, key []byte) error {
	if _, err := s.c.Delete(ctx, &hostv1.DeleteRequest{Key: key}); err != nil {
		return fmt.Errorf("store delete: %w", err)
	}
	return nil
}

// Op is one write of a Batch: a put, or a delete when Delete is set.
type Op struct {
	Key, Value []byte
	Delete     bool
}

// Batch applies every op atomically, or none.
func (s *Store) Batch(ctx context.Context, ops []Op) error {
	req := &hostv1.BatchRequest{Ops: make([]*hostv1.BatchOp, len(ops))}
	for i, op := range ops {
		req.Ops[i] = &hostv1.BatchOp{Key: op.Key, Value: op.Value, Delete: op.Delete}
	}
	if _, err := s.c.Batch(ctx, req); err != nil {
		return fmt.Errorf("store batch: %w", err)
	}
	return nil
}

// KV is one key and its value.
type KV struct{ Key, Value []byte }

// Scan returns up to limit pairs whose key has prefix and sorts after
// startAfter, and whether more follow.
func (s *Store) Scan(ctx context.Context, prefix, startAfter []byte, limit int) ([]KV, bool, error) {
	if limit < 0 || limit > 1<<20 {
		return nil, false, fmt.Errorf("store scan: limit %d out of range", limit)
	}
	r, err := s.c.Scan(ctx, &hostv1.ScanRequest{Prefix: prefix, StartAfter: startAfter, Limit: uint32(limit)})
	if err != nil {
		return nil, false, fmt.Errorf("store scan: %w", err)
	}
	out := make([]KV, len(r.GetItems()))
	for i, kv := range r.GetItems() {
		out[i] = KV{Key: kv.GetKey(), Value: kv.GetValue()}
	}
	return out, r.GetMore(), nil
}
