package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/trellis-chain/trellis/core/evidence"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/signer"
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
	n.submit = &mempool.Submitter{ChainID: n.chain.ChainID(), Pool: n.pool, From: s.PublicKeys().Address, Sign: s.SignTx,
		Quote: n.quoteFees, Broadcast: n.broadcastTx}
	sink := evidence.New(evidence.Config{Chain: n.chain, Pool: n.pool, Submit: n.submit})
	n.signer, n.svc.Signer, n.svc.Evidence = s, s, sink.Report
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
