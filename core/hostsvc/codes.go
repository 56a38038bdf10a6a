package hostsvc

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/core/metrics"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/vote"
)

// errTable maps domain errors to gRPC codes, first match wins. It is the one
// place where the host decides what a plugin sees.
var errTable = []struct {
	err  error
	code codes.Code
}{
	{store.ErrInvalidKey, codes.InvalidArgument},
	{store.ErrInvalidOp, codes.InvalidArgument},
	{store.ErrInvalidLimit, codes.InvalidArgument},
	{store.ErrValueTooLarge, codes.InvalidArgument},
	{store.ErrBatchTooLarge, codes.InvalidArgument},
	{store.ErrInvalidName, codes.InvalidArgument},
	{store.ErrReadOnly, codes.FailedPrecondition},
	{store.ErrNoNamespace, codes.FailedPrecondition},
	{store.ErrClosed, codes.Unavailable},
	{store.ErrCorrupt, codes.DataLoss},
	{metrics.ErrInvalid, codes.InvalidArgument},
	{metrics.ErrConflict, codes.FailedPrecondition},
	{metrics.ErrLimit, codes.ResourceExhausted},
	{chain.ErrInvalidBlock, codes.InvalidArgument},
	{chain.ErrUnknownParent, codes.NotFound},
	{chain.ErrUnknownBlock, codes.NotFound},
	{chain.ErrRevertFinal, codes.FailedPrecondition},
	{chain.ErrNotCanonical, codes.FailedPrecondition},
	{chain.ErrCorrupt, codes.DataLoss},
	{chain.ErrProofLag, codes.FailedPrecondition},
	{exec.ErrPricing, codes.Unavailable},
	{signer.ErrConflict, codes.FailedPrecondition},
	{signer.ErrRegression, codes.FailedPrecondition},
	{signer.ErrInvalid, codes.InvalidArgument},
	{signer.ErrCorrupt, codes.DataLoss},
	{vote.ErrInvalid, codes.InvalidArgument},
	{vote.ErrNoConflict, codes.InvalidArgument},
	{errInvalid, codes.InvalidArgument},
	{errTooLarge, codes.InvalidArgument},
	{ErrBusClosed, codes.Unavailable},
	{ErrNoPeers, codes.FailedPrecondition},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

var (
	errInvalid  = errors.New("invalid request")
	errTooLarge = errors.New("request too large")
)

// toStatus converts err to a gRPC status error with its mapped code.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range errTable {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}
