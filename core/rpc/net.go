package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// NetBackend is what a node with a peer-to-peer network adds to Backend.
// The server finds it by type assertion on the Backend: a node without a
// network leaves it out, and trellis_nodeInfo and admin_setBlockedPeers
// then answer CodeMethodNotFound saying why.
type NetBackend interface {
	// NodeInfo describes this node on the network: its peer id, the
	// addresses it listens on and the peers it blocks.
	NodeInfo() NodeInfo
	// Peers lists the connected peers.
	Peers() []PeerInfo
	// SetBlockedPeers replaces the set of blocked peers: the node closes
	// its connections to them and refuses to dial or accept them until the
	// set no longer names them. An empty set unblocks everyone. A string
	// that is not a peer id gives an error wrapping ErrBadPeerID, and
	// nothing changes.
	SetBlockedPeers(ids []string) error
}

// ErrBadPeerID is wrapped by NetBackend.SetBlockedPeers for a string that is
// not a peer id; it maps to CodeInvalidParams.
var ErrBadPeerID = errors.New("not a peer id")

// MaxBlockedPeers bounds the list of admin_setBlockedPeers.
const MaxBlockedPeers = 4096

// NodeInfo is the network part of trellis_nodeInfo.
type NodeInfo struct {
	// PeerID is the node's libp2p peer id (derived from its node key).
	PeerID string `json:"peerId"`
	// ListenAddrs are the multiaddrs the node listens on.
	ListenAddrs []string `json:"listenAddrs"`
	// BlockedPeers are the peer ids admin_setBlockedPeers set.
	BlockedPeers []string `json:"blockedPeers"`
}

// PeerInfo is a connected peer.
type PeerInfo struct {
	PeerID string `json:"peerId"`
	// Addr is the multiaddr of the connection.
	Addr string `json:"addr"`
	// Direction is "inbound" or "outbound".
	Direction string `json:"direction"`
	// Score is the gossip peer score (0 when the router keeps none).
	Score float64 `json:"score"`
	// LatencyMs is the last measured round trip, 0 if unknown.
	LatencyMs float64 `json:"latencyMs"`
}

// NodeInfoResult is the answer of trellis_nodeInfo: the network view with
// the chain's head and final heights, so a status display needs one call.
type NodeInfoResult struct {
	ChainID string `json:"chainId"`
	NodeInfo
	Peers       []PeerInfo `json:"peers"`
	HeadHeight  uint64     `json:"headHeight"`
	FinalHeight uint64     `json:"finalHeight"`
}

func (s *Server) netBackend(method string) (NetBackend, error) {
	nb, ok := s.b.(NetBackend)
	if !ok {
		return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("method %q is unavailable: this node has no peer-to-peer network", method)}
	}
	return nb, nil
}

func nodeInfo(ctx context.Context, s *Server, _ params, _ *call) (any, error) {
	nb, err := s.netBackend("trellis_nodeInfo")
	if err != nil {
		return nil, err
	}
	head, err := s.block(ctx, BlockRef{Tag: TagHead})
	if err != nil {
		return nil, err
	}
	final, err := s.block(ctx, BlockRef{Tag: TagFinalized})
	if err != nil {
		return nil, err
	}
	out := &NodeInfoResult{ChainID: s.b.ChainID(), NodeInfo: nb.NodeInfo(), Peers: nb.Peers(),
		HeadHeight: head.Block.Header.Height, FinalHeight: final.Block.Header.Height}
	if out.ListenAddrs == nil {
		out.ListenAddrs = []string{}
	}
	if out.BlockedPeers == nil {
		out.BlockedPeers = []string{}
	}
	if out.Peers == nil {
		out.Peers = []PeerInfo{}
	}
	return out, nil
}

// setBlockedPeers is admin_setBlockedPeers(ids): it answers the number of
// peers now blocked.
func setBlockedPeers(_ context.Context, s *Server, p params, _ *call) (any, error) {
	nb, err := s.netBackend("admin_setBlockedPeers")
	if err != nil {
		return nil, err
	}
	ids, err := p.peerIDs(0)
	if err != nil {
		return nil, err
	}
	if err := nb.SetBlockedPeers(ids); err != nil {
		if errors.Is(err, ErrBadPeerID) {
			return nil, &ParamError{Index: 0, Name: "peer ids", Err: err}
		}
		return nil, fmt.Errorf("blocking peers: %w", err)
	}
	return len(ids), nil
}

// peerIDs reads a list of non-empty, distinct strings (the backend checks
// that they are peer ids).
func (p params) peerIDs(i int) ([]string, error) {
	const name = "peer ids"
	if i >= len(p) {
		return nil, &ParamError{Index: i, Name: name, Err: errors.New("missing")}
	}
	var ids []string
	if err := json.Unmarshal(p[i], &ids); err != nil {
		return nil, &ParamError{Index: i, Name: name, Err: fmt.Errorf("want an array of strings, got %s", kindOf(p[i]))}
	}
	if len(ids) > MaxBlockedPeers {
		return nil, &ParamError{Index: i, Name: name, Err: fmt.Errorf("%d ids exceed the limit of %d", len(ids), MaxBlockedPeers)}
	}
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for j, id := range ids {
		if id == "" || len(id) > 128 {
			return nil, &ParamError{Index: i, Name: name, Err: fmt.Errorf("id %d: want 1 to 128 characters, got %d", j, len(id))}
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}
