package sdk

import (
	"context"

	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	dav1 "github.com/trellis-chain/trellis/sdk/proto/trellis/da/v1"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
	proverv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/prover/v1"
)

// The kind interfaces take and return the protocol's own messages, as ABCI
// does, so the Go interface and the published .proto never drift apart.
// Every method may be called concurrently; ctx ends when the host's call
// is cancelled or times out.

// Fee prices blocks. Every call covers a whole block.
type Fee interface {
	Plugin
	// BaseFee returns the base fee of the child of req.Parent.
	BaseFee(ctx context.Context, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error)
	// PriceBlock prices every transaction of a block, in order. A
	// transaction that cannot pay is marked rejected, not an error.
	PriceBlock(ctx context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error)
	// Quote suggests fees for inclusion within req.WithinBlocks blocks.
	Quote(ctx context.Context, req *feev1.QuoteRequest) (*feev1.QuoteResponse, error)
}

// Consensus agrees on blocks, driving the host through Host.Chain,
// Host.Network and Host.Signer.
type Consensus interface {
	Plugin
	// Start begins participation. It returns once the plugin runs; the
	// plugin works in its own goroutines until Stop.
	Start(ctx context.Context, req *consensusv1.StartRequest) (*consensusv1.StartResponse, error)
	// Stop ends participation after persisting what a restart needs.
	Stop(ctx context.Context, req *consensusv1.StopRequest) (*consensusv1.StopResponse, error)
	// VerifyBlock checks consensus data of a block received by sync.
	VerifyBlock(ctx context.Context, req *consensusv1.VerifyBlockRequest) (*consensusv1.VerifyBlockResponse, error)
	// ForkChoice picks the canonical head among candidates.
	ForkChoice(ctx context.Context, req *consensusv1.ForkChoiceRequest) (*consensusv1.ForkChoiceResponse, error)
	// Status reports the plugin's view for operators.
	Status(ctx context.Context, req *consensusv1.StatusRequest) (*consensusv1.StatusResponse, error)
}

// Prover proves block statements.
type Prover interface {
	Plugin
	// Capabilities reports the backend and its measured throughput.
	Capabilities(ctx context.Context, req *proverv1.CapabilitiesRequest) (*proverv1.CapabilitiesResponse, error)
	// Prove proves one job. progress may be called any number of times
	// with a fraction in [0,1]; it returns an error once the host has gone.
	Prove(ctx context.Context, req *proverv1.ProveRequest, progress func(*proverv1.Progress) error) (*proverv1.Result, error)
}

// DA encodes, samples and verifies block data.
type DA interface {
	Plugin
	Encode(ctx context.Context, req *dav1.EncodeRequest) (*dav1.EncodeResponse, error)
	Sample(ctx context.Context, req *dav1.SampleRequest) (*dav1.SampleResponse, error)
	Verify(ctx context.Context, req *dav1.VerifyRequest) (*dav1.VerifyResponse, error)
	Reconstruct(ctx context.Context, req *dav1.ReconstructRequest) (*dav1.ReconstructResponse, error)
}
