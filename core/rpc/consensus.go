package rpc

import (
	"context"
	"fmt"
)

// ConsensusBackend is what a node running a consensus plugin adds to
// Backend (found by type assertion, as NetBackend).
type ConsensusBackend interface {
	// ConsensusStatus asks the consensus plugin for its view.
	ConsensusStatus(ctx context.Context) (*ConsensusStatus, error)
}

// ConsensusStatus is the answer of trellis_consensusStatus: the consensus
// plugin's own view (its height, step and plugin-specific details, such
// as a longest-chain node's reorg counts) beside the chain's heights.
type ConsensusStatus struct {
	Plugin      string `json:"plugin"`
	Height      uint64 `json:"height"`
	FinalHeight uint64 `json:"finalHeight"`
	// ProvenHeight is the highest final block whose validity proof is on
	// the chain in a final block (0: none).
	ProvenHeight uint64            `json:"provenHeight"`
	Round        uint32            `json:"round"`
	Step         string            `json:"step"`
	Validator    bool              `json:"validator"`
	Details      map[string]string `json:"details"`
}

func consensusStatus(ctx context.Context, s *Server, _ params, _ *call) (any, error) {
	cb, ok := s.b.(ConsensusBackend)
	if !ok {
		return nil, &Error{Code: CodeMethodNotFound, Message: "method \"trellis_consensusStatus\" is unavailable: this node runs no consensus plugin"}
	}
	st, err := cb.ConsensusStatus(ctx)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: fmt.Sprintf("consensus status: %v", err)}
	}
	if st.Details == nil {
		st.Details = map[string]string{}
	}
	return st, nil
}

// ConsensusStatus returns the consensus plugin's view.
func (c *Client) ConsensusStatus(ctx context.Context) (*ConsensusStatus, error) {
	var r *ConsensusStatus
	if err := c.Call(ctx, "trellis_consensusStatus", &r); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("rpc: empty consensus status")
	}
	return r, nil
}
