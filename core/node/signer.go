package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/sdk"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
)

// openSigner loads the node's keys from node.key_dir into the host
// services (the Signer service and Chain.ReportEvidence), when the node
// has a ledger and a validator key. Without a BLS key file the signer is
// off, and checkKeyless refuses a consensus plugin that does not declare
// sdk.CapConsensusKeyless, with a diagnostic naming the file.
func (n *Node) openSigner() error {
	if n.chain == nil {
		return nil
	}
	dir := n.cfg.Node.KeyDir
	blsPath := filepath.Join(dir, signer.BLSKeyFile)
	if _, err := os.Stat(blsPath); errors.Is(err, os.ErrNotExist) {
		n.missingKey = blsPath
		n.log.Info("no validator key: the signer host service is off", "looked_for", blsPath)
		return nil
	}
	s, err := signer.Open(n.db, dir)
	if err != nil {
		if errors.Is(err, signer.ErrCorrupt) {
			return n.storageDiag(err)
		}
		return n.signerDiag("Cannot load the node's keys", err)
	}
	sink := &evidenceSink{chain: n.chain, pool: n.pool, signer: s, quote: n.quoteFees, broadcast: n.broadcastTx, sent: map[account.Address]tx.Hash{}}
	n.signer, n.svc.Signer, n.svc.Evidence = s, s, sink.report
	k := s.PublicKeys()
	n.log.Info("signer ready", "address", k.Address, "bls_public_key", fmt.Sprintf("%x", k.BLSPublicKey))
	return nil
}

// checkKeyless is the consensus plugin's start check on a node without a
// validator key: the plugin must declare that it signs nothing.
func (n *Node) checkKeyless(proc *plugin.Process) error {
	if n.missingKey == "" || slices.Contains(proc.Info.GetCapabilities(), sdk.CapConsensusKeyless) {
		return nil
	}
	err := n.signerDiag("Validator BLS key missing", fmt.Errorf(
		"consensus plugin %s votes with the host's BLS key, and %s does not exist: copy the validator's key file there or set node.key_dir",
		proc.Spec.ID(), n.missingKey))
	return &configDiags{diags: err.(*DiagnosticsError).Diags}
}

func (n *Node) signerDiag(summary string, err error) error {
	subject := n.cfg.Node.DeclRange
	if r, ok := n.cfg.Range("node.key_dir"); ok {
		subject = r
	}
	return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: err.Error(), Subject: subject.Ptr()}}}
}

// quoteFees asks the fee plugin for the fee caps of a transaction to be
// included in the next block, as the wallet does.
func (n *Node) quoteFees(ctx context.Context) (maxFee, tip uint64, err error) {
	head, _ := n.chain.Head()
	q, err := fees{n}.Quote(ctx, &feev1.QuoteRequest{Parent: &feev1.Parent{Height: head.Header.Height, BaseFee: head.Header.BaseFee,
		GasUsed: head.Header.GasUsed, GasLimit: head.Header.GasLimit}})
	if err != nil {
		return 0, 0, err
	}
	return q.GetMaxFeePerGas(), q.GetMaxPriorityFeePerGas(), nil
}

// evidenceSink turns double-sign evidence from plugins into slashing
// transactions signed by the node's account and queued in the mempool,
// which gossips them.
type evidenceSink struct {
	chain  *chain.Chain
	pool   *mempool.Mempool
	signer *signer.Signer
	quote  func(ctx context.Context) (maxFee, tip uint64, err error)
	// broadcast gossips the transaction to peers.
	broadcast func(*tx.Tx)

	mu   sync.Mutex // one report at a time: each takes the next nonce
	sent map[account.Address]tx.Hash
}

// report implements hostsvc.EvidenceFunc. It verifies the evidence
// against the offender's key in the head state first, so that a plugin or
// peer cannot spend the node's fees on reports that would fail. It returns
// the zero hash for a validator already tombstoned, or one whose slashing
// transaction from this node is pending or in the chain.
func (s *evidenceSink) report(ctx context.Context, e *vote.Evidence) (tx.Hash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, a, err := statedb.AccountAt(s.chain.State(), e.Validator)
	if errors.Is(err, statedb.ErrNoAccount) || (err == nil && a.Validator == nil) {
		return tx.Hash{}, fmt.Errorf("%w: %s is not a validator", vote.ErrInvalid, e.Validator)
	}
	if err != nil {
		return tx.Hash{}, err
	}
	if a.Validator.Slashed > 0 {
		return tx.Hash{}, nil
	}
	pk, err := bls.PublicKeyFromBytes(a.Validator.BLSPublicKey[:])
	if err != nil {
		return tx.Hash{}, fmt.Errorf("%w: %s's registered BLS key is unusable: %w", vote.ErrInvalid, e.Validator, err)
	}
	if err := e.Verify(s.chain.ChainID(), pk); err != nil {
		return tx.Hash{}, fmt.Errorf("%w: evidence against %s: %w", vote.ErrInvalid, e.Validator, err)
	}
	if h, ok := s.sent[e.Validator]; ok {
		if _, pending := s.pool.Get(h); pending {
			return tx.Hash{}, nil
		}
		if _, included, err := s.chain.TxLocation(h); err != nil || included {
			return tx.Hash{}, err
		}
	}
	maxFee, tip, err := s.quote(ctx)
	if err != nil {
		return tx.Hash{}, fmt.Errorf("pricing the slashing transaction: %w", err)
	}
	addr := s.signer.PublicKeys().Address
	t := &tx.Tx{ChainID: s.chain.ChainID(), Nonce: s.pool.PendingNonce(addr), GasLimit: tx.IntrinsicGas(tx.TypeSlash),
		MaxFeePerGas: maxFee, MaxPriorityFeePerGas: tip, Body: tx.Slash{Evidence: string(e.Encode())}}
	s.signer.SignTx(t)
	if err := s.pool.Add(t); err != nil {
		return tx.Hash{}, fmt.Errorf("queueing slashing transaction %s from %s: %w", t.Hash(), addr, err)
	}
	s.sent[e.Validator] = t.Hash()
	if s.broadcast != nil {
		s.broadcast(t)
	}
	return t.Hash(), nil
}
