package node

import (
	"context"
	"fmt"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/rpc"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
)

// ConsensusStatus implements rpc.ConsensusBackend: the consensus plugin's
// Status with the chain's proven height.
func (b backend) ConsensusStatus(ctx context.Context) (*rpc.ConsensusStatus, error) {
	sup := b.n.Plugin(config.KindConsensus)
	if sup == nil {
		return nil, fmt.Errorf("no consensus plugin is configured")
	}
	cc, err := plugin.KindClient[consensusv1.ConsensusClient](ctx, sup, "consensus")
	if err != nil {
		return nil, err
	}
	r, err := cc.Status(ctx, &consensusv1.StatusRequest{})
	if err != nil {
		return nil, fmt.Errorf("consensus plugin: %w", err)
	}
	proven, err := b.n.chain.ProvenHeight()
	if err != nil {
		return nil, err
	}
	return &rpc.ConsensusStatus{Plugin: sup.Status().Plugin, Height: r.GetHeight(), FinalHeight: r.GetFinalHeight(),
		ProvenHeight: proven, Round: r.GetRound(), Step: r.GetStep(), Validator: r.GetValidator(), Details: r.GetDetails()}, nil
}
