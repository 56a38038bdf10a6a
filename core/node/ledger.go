package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/hashicorp/hcl/v2"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/exec"
	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	consensusv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/consensus/v1"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
)

// errNoFee is returned when a fee call finds no fee plugin running.
var errNoFee = errors.New("fee plugin unavailable")

// fees reaches the fee plugin through its supervisor on every call, so a
// restarted plugin is used as soon as it answers again.
type fees struct{ n *Node }

func (f fees) client(ctx context.Context) (feev1.FeeClient, error) {
	c, err := plugin.KindClient[feev1.FeeClient](ctx, f.n.Plugin(config.KindFee), config.KindFee)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoFee, err)
	}
	return c, nil
}

func (f fees) BaseFee(ctx context.Context, req *feev1.BaseFeeRequest) (*feev1.BaseFeeResponse, error) {
	c, err := f.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.BaseFee(ctx, req)
}

func (f fees) PriceBlock(ctx context.Context, req *feev1.PriceBlockRequest) (*feev1.PriceBlockResponse, error) {
	c, err := f.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.PriceBlock(ctx, req)
}

func (f fees) Quote(ctx context.Context, req *feev1.QuoteRequest) (*feev1.QuoteResponse, error) {
	c, err := f.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.Quote(ctx, req)
}

// verifyPoP checks a validator's BLS proof of possession.
func verifyPoP(pub [account.BLSPublicKeySize]byte, pop [account.BLSSignatureSize]byte) error {
	return bls.VerifyEncodedProofOfPossession(pub[:], pop[:])
}

// openLedger loads the genesis and opens the chain and mempool, unless the
// configuration has no genesis. Errors about the file are diagnostics.
func (n *Node) openLedger() error {
	cfg := n.cfg
	if _, err := os.Stat(cfg.Node.Genesis); errors.Is(err, os.ErrNotExist) && !cfg.Node.GenesisSet {
		n.log.Warn("no genesis file: running plugins only, without a ledger or RPC", "looked_for", cfg.Node.Genesis)
		return nil
	}
	diag := func(summary string, err error) error {
		subject := cfg.Node.DeclRange
		if r, ok := cfg.Range("node.genesis"); ok {
			subject = r
		}
		return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: err.Error(), Subject: subject.Ptr()}}}
	}
	g, err := genesis.Load(cfg.Node.Genesis)
	if err != nil {
		return diag("Cannot load the genesis file", err)
	}
	if g.ChainID != cfg.Node.ChainID {
		return diag("Genesis is for another chain", fmt.Errorf("%s has chain_id %q, node.chain_id is %q", cfg.Node.Genesis, g.ChainID, cfg.Node.ChainID))
	}
	if cfg.Primary(config.KindFee) == nil {
		return diag("A ledger needs a fee plugin", fmt.Errorf("add a plugin \"fee\" block: every block is priced by the fee plugin"))
	}
	c, err := chain.Open(n.db, chain.Config{
		Genesis: g, VerifyPoP: verifyPoP, Fees: feeclient.Client{Service: fees{n}}, Logger: n.log.Named("chain"), Workers: runtime.GOMAXPROCS(0),
	})
	if err != nil {
		if errors.Is(err, genesis.ErrInvalid) || errors.Is(err, chain.ErrGenesisMismatch) {
			return diag("Cannot start the chain", err)
		}
		return n.storageDiag(err)
	}
	n.chain = c
	n.pool = mempool.New(mempool.Config{ChainID: g.ChainID,
		ProofCheck: func(t *tx.Tx) error { return exec.CheckProofTx(c.State(), t) }}, mempool.HeadState{DB: c.State()})
	c.SetPool(mempool.ChainPool{Pool: n.pool, DB: c.State()})
	n.svc.Chain, n.svc.Pool = c, n.pool
	head, final := c.Head()
	n.log.Info("chain open", "chain_id", g.ChainID, "genesis", c.Genesis(), "head", head.Header.Height, "final", final.Header.Height,
		"state_root", head.Header.StateRoot, "accounts", c.State().Globals().Accounts)
	return nil
}

// Chain returns the node's chain, nil without a ledger.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Mempool returns the node's mempool, nil without a ledger.
func (n *Node) Mempool() *mempool.Mempool { return n.pool }

// startConsensus hands a (re)started consensus plugin the chain's head.
func (n *Node) startConsensus(ctx context.Context, p *plugin.Process) error {
	c, ok := p.Kind.(consensusv1.ConsensusClient)
	if !ok {
		return fmt.Errorf("%w: plugin is not a consensus plugin", plugin.ErrConfig)
	}
	head, final := n.chain.Head()
	_, err := c.Start(ctx, &consensusv1.StartRequest{Head: hostsvc.BlockProto(head, false), Finalized: hostsvc.BlockProto(final, false), Validator: true})
	return err
}

// stopConsensus asks the consensus plugin to stop before it is shut down.
func (n *Node) stopConsensus(ctx context.Context, p *plugin.Process) {
	if c, ok := p.Kind.(consensusv1.ConsensusClient); ok {
		if _, err := c.Stop(ctx, &consensusv1.StopRequest{}); err != nil {
			n.log.Warn("consensus plugin did not stop cleanly", "error", err)
		}
	}
}
