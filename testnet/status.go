//go:build linux

package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
)

// NodeStatus is one node as `testnet status` shows it.
type NodeStatus struct {
	Node        string   `json:"node"`
	PID         int      `json:"pid"`
	State       string   `json:"state"` // up, down, paused
	HeadHeight  *uint64  `json:"head_height"`
	FinalHeight *uint64  `json:"final_height"`
	FinalHash   string   `json:"final_hash,omitempty"`
	StateRoot   string   `json:"state_root,omitempty"` // of the final block
	Peers       *int     `json:"peers"`
	Blocked     int      `json:"blocked_peers"`
	Plugins     []string `json:"plugins"`
	Healthy     *bool    `json:"healthy"`
	RPC         string   `json:"rpc"`
	// Consensus is the consensus plugin's view (trellis_consensusStatus):
	// for a longest-chain node the k-deep and proven heights and the
	// reorgs it saw.
	Consensus *rpc.ConsensusStatus `json:"consensus,omitempty"`
	Error     string               `json:"error,omitempty"`
}

// Status reads every node at once.
func (t *Net) Status() []NodeStatus {
	rows := make([]NodeStatus, len(t.State.Nodes))
	done := make(chan struct{})
	for i, n := range t.State.Nodes {
		go func() { rows[i] = QueryNode(n); done <- struct{}{} }()
	}
	for range rows {
		<-done
	}
	return rows
}

// QueryNode reads one node's process, RPC and /health.
func QueryNode(n Node) NodeStatus {
	r := NodeStatus{Node: n.Name, PID: n.PID, State: "down", RPC: n.RPC}
	ps, ok := NodeProc(n)
	if !ok {
		if g := NodeGroup(n); len(g) > 0 {
			r.Error = fmt.Sprintf("node process gone, %d plugin process(es) of its session still alive", len(g))
		}
		return r
	}
	if ps.State == 'T' || ps.State == 't' {
		r.State = "paused"
		return r
	}
	r.State = "up"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer c.Close()
	info, err := c.NodeInfo(ctx)
	var re *rpc.Error
	switch {
	case err == nil:
		peers := len(info.Peers)
		r.Peers, r.Blocked = &peers, len(info.BlockedPeers)
		r.HeadHeight, r.FinalHeight = &info.HeadHeight, &info.FinalHeight
	case errors.As(err, &re) && re.Code == rpc.CodeMethodNotFound:
		// A node without the network methods: heights from the blocks.
	default:
		r.Error = "rpc: " + err.Error()
		return r
	}
	if head, err := c.Head(ctx); err == nil {
		r.HeadHeight = &head.Height
	}
	if fb, err := c.BlockByTag(ctx, rpc.TagFinalized, false); err == nil {
		r.FinalHeight, r.FinalHash, r.StateRoot = &fb.Height, fb.Hash.String(), fb.StateRoot.String()
	} else {
		r.Error = "rpc: " + err.Error()
	}
	if cs, err := c.ConsensusStatus(ctx); err == nil {
		r.Consensus = cs
	}
	h, herr := fetchHealth(ctx, n.Metrics+"/health")
	if herr != nil {
		r.Error = strings.TrimPrefix(r.Error+"; health: "+herr.Error(), "; ")
	} else {
		healthy := true
		for _, p := range h.Plugins {
			r.Plugins = append(r.Plugins, p.Plugin+":"+p.State)
			healthy = healthy && p.State == "running"
		}
		r.Healthy = &healthy
	}
	return r
}

// nodeHealth is the part of a node's /health JSON that status shows.
type nodeHealth struct {
	Plugins []struct {
		Plugin string `json:"plugin"`
		State  string `json:"state"`
	} `json:"plugins"`
}

func fetchHealth(ctx context.Context, url string) (*nodeHealth, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var h nodeHealth
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&h); err != nil {
		return nil, fmt.Errorf("%s: HTTP %s: %w", url, res.Status, err)
	}
	return &h, nil
}
