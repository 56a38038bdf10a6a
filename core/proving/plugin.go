package proving

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/protocol/batch"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
)

// PluginProver runs jobs on the prover plugin that get returns (nil when
// none is configured), logging their progress.
func PluginProver(get func() *plugin.Supervisor, log hclog.Logger) ProveFunc {
	return func(ctx context.Context, height uint64, pub batch.Public, w *batch.Witness) ([]byte, uint64, error) {
		return proveWithPlugin(ctx, get(), log, height, pub, w)
	}
}

func proveWithPlugin(ctx context.Context, s *plugin.Supervisor, log hclog.Logger, height uint64, pub batch.Public, w *batch.Witness) (proof []byte, rows uint64, err error) {
	pc, err := plugin.KindClient[proverv1.ProverClient](ctx, s, "prover")
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrNoProver, err)
	}
	id := binary.BigEndian.AppendUint64(nil, height)
	st, err := pc.Prove(ctx, &proverv1.ProveRequest{JobId: id, Statement: batch.Statement, PublicInputs: pub.Encode(), Witness: w.Encode()})
	if err != nil {
		return nil, 0, fmt.Errorf("prover plugin %s: %w", s.Status().Plugin, err)
	}
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("prover plugin %s ended the job for block %d without a proof", s.Status().Plugin, height)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("prover plugin %s, block %d: %w", s.Status().Plugin, height, err)
		}
		if pr := ev.GetProgress(); pr != nil {
			log.Trace("proving", "height", height, "stage", pr.GetStage(), "fraction", pr.GetFraction())
			continue
		}
		if r := ev.GetResult(); r != nil {
			return r.GetProof(), r.GetTraceRows(), nil
		}
	}
}
