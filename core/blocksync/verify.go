package blocksync

import (
	"context"
	"fmt"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/protocol/block"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
)

// PluginVerifier asks the running consensus plugin (trellis.consensus.v1
// VerifyBlock) whether a certificate makes a block final. Plugin returns
// the plugin's supervisor, nil when none is configured.
type PluginVerifier struct {
	Chain  *chain.Chain
	Plugin func() *plugin.Supervisor
}

// VerifyFinal implements FinalityVerifier.
func (v PluginVerifier) VerifyFinal(ctx context.Context, blk *block.Block, certificate []byte) error {
	cc, err := plugin.KindClient[consensusv1.ConsensusClient](ctx, v.Plugin(), "consensus")
	if err != nil {
		return fmt.Errorf("%w: verifying block %d: %w", ErrLocal, blk.Header.Height, err)
	}
	set, err := hostsvc.ValidatorSetProto(v.Chain, blk.Header.Height-1)
	if err != nil {
		return fmt.Errorf("%w: validator set for block %d: %w", ErrLocal, blk.Header.Height, err)
	}
	bp := hostsvc.BlockProto(blk, true)
	bp.Certificate = certificate
	r, err := cc.VerifyBlock(ctx, &consensusv1.VerifyBlockRequest{Block: bp, Validators: set})
	if err != nil {
		return fmt.Errorf("%w: consensus plugin verifying block %d: %w", ErrLocal, blk.Header.Height, err)
	}
	if !r.GetValid() || !r.GetFinal() {
		return fmt.Errorf("%w: block %d %s not proven final: %s", ErrBadBlock, blk.Header.Height, blk.Hash(), r.GetReason())
	}
	return nil
}
