package hostsvc

import (
	"context"
	"errors"

	"github.com/trellis-chain/trellis/core/store"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Store serves one plugin's namespace.
type Store struct {
	hostv1.UnimplementedStoreServer
	ns *store.Namespace
}

// NewStore serves ns.
func NewStore(ns *store.Namespace) *Store { return &Store{ns: ns} }

func (s *Store) Get(_ context.Context, req *hostv1.GetRequest) (*hostv1.GetResponse, error) {
	v, err := s.ns.Get(req.GetKey())
	if errors.Is(err, store.ErrNotFound) {
		return &hostv1.GetResponse{}, nil
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.GetResponse{Found: true, Value: v}, nil
}

func (s *Store) Put(_ context.Context, req *hostv1.PutRequest) (*hostv1.PutResponse, error) {
	if err := s.ns.Put(req.GetKey(), nonNil(req.GetValue())); err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.PutResponse{}, nil
}

func (s *Store) Delete(_ context.Context, req *hostv1.DeleteRequest) (*hostv1.DeleteResponse, error) {
	if err := s.ns.Delete(req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.DeleteResponse{}, nil
}

// Batch leaves validation (op count, sizes, a delete carrying a value) to
// the store, which checks the whole batch before writing any of it.
func (s *Store) Batch(_ context.Context, req *hostv1.BatchRequest) (*hostv1.BatchResponse, error) {
	ops := make([]store.Op, len(req.GetOps()))
	for i, op := range req.GetOps() {
		if op.GetDelete() {
			ops[i] = store.Op{Kind: store.OpDelete, Key: op.GetKey(), Value: op.GetValue()}
		} else {
			ops[i] = store.PutOp(op.GetKey(), nonNil(op.GetValue()))
		}
	}
	if err := s.ns.Batch(ops); err != nil {
		return nil, toStatus(err)
	}
	return &hostv1.BatchResponse{}, nil
}

func (s *Store) Scan(_ context.Context, req *hostv1.ScanRequest) (*hostv1.ScanResponse, error) {
	kvs, more, err := s.ns.Scan(req.GetPrefix(), req.GetStartAfter(), int(req.GetLimit()))
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &hostv1.ScanResponse{More: more, Items: make([]*hostv1.KV, len(kvs))}
	for i, kv := range kvs {
		resp.Items[i] = &hostv1.KV{Key: kv.Key, Value: kv.Value}
	}
	return resp, nil
}

// nonNil keeps "empty value" distinct from "no value" for bbolt.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
