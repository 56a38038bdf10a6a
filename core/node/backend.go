package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/internal/securefile"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
)

// backend answers the user API from the chain, the mempool and the fee
// plugin.
type backend struct{ n *Node }

func (b backend) ChainID() string { return b.n.chain.ChainID() }

func (b backend) SubmitTx(ctx context.Context, raw []byte) (tx.Hash, error) {
	hs, errs := b.SubmitTxs(ctx, [][]byte{raw})
	return hs[0], errs[0]
}

var _ rpc.TxBatchSubmitter = backend{}

// SubmitTxs admits a JSON-RPC batch's transactions with one AddBatch, so
// their signatures are checked together (rpc.TxBatchSubmitter).
func (b backend) SubmitTxs(_ context.Context, raws [][]byte) ([]tx.Hash, []error) {
	hashes, errs := make([]tx.Hash, len(raws)), make([]error, len(raws))
	txs := make([]*tx.Tx, 0, len(raws))
	at := make([]int, 0, len(raws))
	for i, raw := range raws {
		t, err := tx.Decode(raw)
		if err != nil {
			errs[i] = err
			continue
		}
		hashes[i] = t.Hash()
		txs = append(txs, t)
		at = append(at, i)
	}
	for k, err := range b.n.pool.AddBatch(txs) {
		errs[at[k]] = err
		if err == nil {
			b.n.broadcastTx(txs[k])
		}
	}
	return hashes, errs
}

var finalityRPC = map[chain.Finality]rpc.Finality{
	chain.Pending: rpc.FinalityPending, chain.Canonical: rpc.FinalityCanonical, chain.Final: rpc.FinalityFinal, chain.Proven: rpc.FinalityProven,
}

// finality is how the API names a block's finality: on a longest-chain
// network (genesis longest_chain) final means k-deep, and says so.
func (b backend) finality(f chain.Finality) rpc.Finality {
	if f == chain.Final && b.n.chain.LongestChain() {
		return rpc.FinalityKDeep
	}
	return finalityRPC[f]
}

// txStatus is the status of a transaction in a block of finality f.
func (b backend) txStatus(f chain.Finality) rpc.TxStatus { return rpc.TxStatusOf(b.finality(f)) }

func (b backend) Tx(_ context.Context, h tx.Hash) (*rpc.TxResult, error) {
	c := b.n.chain
	loc, ok, err := c.TxLocation(h)
	if err != nil {
		return nil, err
	}
	if !ok {
		if t, ok := b.n.pool.Get(h); ok {
			return &rpc.TxResult{Tx: t, Status: rpc.TxPending}, nil
		}
		return nil, fmt.Errorf("%w: transaction %s", rpc.ErrNotFound, h)
	}
	blk, err := c.BlockByHash(loc.Block)
	if err != nil {
		return nil, err
	}
	rcpts, err := c.Receipts(loc.Block)
	if err != nil {
		return nil, err
	}
	if loc.Index >= len(blk.Txs) || loc.Index >= len(rcpts) {
		return nil, fmt.Errorf("%w: transaction %s indexed at %d of %d", chain.ErrCorrupt, h, loc.Index, len(blk.Txs))
	}
	bh := loc.Block
	st := b.txStatus(c.FinalityOf(&blk.Header))
	if st == "" {
		st = rpc.TxIncluded
	}
	return &rpc.TxResult{Tx: blk.Txs[loc.Index], Status: st, BlockHash: &bh, Height: blk.Header.Height, Index: loc.Index, Receipt: rcpts[loc.Index]}, nil
}

func (b backend) Account(_ context.Context, addr account.Address) (*rpc.AccountResult, error) {
	c := b.n.chain
	head, _ := c.Head()
	res := &rpc.AccountResult{Address: addr, Height: head.Header.Height, PendingNonce: b.n.pool.PendingNonce(addr)}
	idx, a, err := statedb.AccountAt(c.State(), addr)
	switch {
	case errors.Is(err, statedb.ErrNoAccount):
		res.Account.Address = addr
		return res, nil
	case err != nil:
		return nil, err
	}
	res.Exists, res.Index, res.Account = true, uint32(idx), *a
	for _, d := range a.Delegations {
		var worth uint64
		if _, v, err := statedb.AccountAt(c.State(), d.Validator); err == nil && v.Validator != nil {
			worth = v.Validator.Value(d.Shares)
		}
		res.DelegationValues = append(res.DelegationValues, worth)
	}
	return res, nil
}

func (b backend) Block(_ context.Context, ref rpc.BlockRef) (*rpc.BlockResult, error) {
	c := b.n.chain
	var blk *block.Block
	var err error
	switch {
	case ref.Hash != nil:
		blk, err = c.BlockByHash(*ref.Hash)
	case ref.Height != nil:
		blk, err = c.BlockByHeight(*ref.Height)
	case ref.Tag == rpc.TagFinalized:
		_, blk = c.Head()
	default:
		blk, _ = c.Head()
	}
	if errors.Is(err, chain.ErrUnknownBlock) {
		return nil, fmt.Errorf("%w: block %s", rpc.ErrNotFound, ref)
	}
	if err != nil {
		return nil, err
	}
	return b.result(blk)
}

func (b backend) result(blk *block.Block) (*rpc.BlockResult, error) {
	h := blk.Hash()
	rc, err := b.n.chain.Receipts(h)
	if err != nil {
		return nil, err
	}
	return &rpc.BlockResult{Block: blk, Hash: h, Finality: b.finality(b.n.chain.FinalityOf(&blk.Header)), Receipts: rc}, nil
}

func (b backend) FeeQuote(ctx context.Context, within uint32) (*rpc.FeeQuote, error) {
	head, _ := b.n.chain.Head()
	q, err := fees(b).Quote(ctx, &feev1.QuoteRequest{Parent: &feev1.Parent{Height: head.Header.Height, BaseFee: head.Header.BaseFee,
		GasUsed: head.Header.GasUsed, GasLimit: head.Header.GasLimit}, WithinBlocks: within})
	if err != nil {
		return nil, err
	}
	return &rpc.FeeQuote{BaseFee: q.GetBaseFee(), MaxFeePerGas: q.GetMaxFeePerGas(), MaxPriorityFeePerGas: q.GetMaxPriorityFeePerGas()}, nil
}

// Subscribe merges chain and mempool events into the API's events: new
// and final heads, and transaction status changes.
func (b backend) Subscribe(ctx context.Context) (<-chan rpc.Event, error) {
	chainEv, stopChain := b.n.chain.Subscribe()
	poolEv, stopPool := b.n.pool.Subscribe()
	out := make(chan rpc.Event, 1024)
	go func() {
		defer close(out)
		defer stopChain()
		defer stopPool()
		var missed uint64
		send := func(e rpc.Event) {
			e.Missed = missed
			select {
			case out <- e:
				missed = 0
			default:
				missed++
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-chainEv:
				if !ok {
					return
				}
				b.chainEvent(e, send)
			case e, ok := <-poolEv:
				if !ok {
					return
				}
				switch e.Kind {
				case mempool.Added:
					send(rpc.Event{Kind: rpc.EventTxStatus, Tx: &rpc.TxEvent{Hash: e.Hash, Status: rpc.TxPending}})
				case mempool.Replaced, mempool.Evicted:
					send(rpc.Event{Kind: rpc.EventTxStatus, Tx: &rpc.TxEvent{Hash: e.Hash, Status: rpc.TxDropped, Reason: e.Reason}})
				}
			}
		}
	}()
	return out, nil
}

func (b backend) chainEvent(e chain.Event, send func(rpc.Event)) {
	var kind rpc.EventKind
	var st rpc.TxStatus
	blocks := e.Applied
	switch e.Kind {
	case chain.EventHead:
		kind, st = rpc.EventNewHead, rpc.TxIncluded
	case chain.EventFinal:
		kind, st, blocks = rpc.EventFinalized, b.txStatus(chain.Final), []*block.Block{e.Block}
	default:
		return
	}
	r, err := b.result(e.Block)
	if err != nil {
		return
	}
	ev := rpc.Event{Kind: kind, Block: r}
	if kind == rpc.EventNewHead {
		ev.Reverted = e.Reverted
	}
	send(ev)
	for _, blk := range blocks {
		bh := blk.Hash()
		rc, _ := b.n.chain.Receipts(bh)
		for i, t := range blk.Txs {
			ev := &rpc.TxEvent{Hash: t.Hash(), Status: st, Height: blk.Header.Height, BlockHash: &bh}
			if i < len(rc) && rc[i].Status == block.StatusFailed {
				ev.Reason = rc[i].Reason
			}
			send(rpc.Event{Kind: rpc.EventTxStatus, Tx: ev})
		}
	}
}

func (n *Node) serveRPC(ctx context.Context) error {
	var be rpc.Backend = backend{n}
	if n.net != nil {
		be = netBackend{backend{n}}
	}
	opts := rpc.Options{Logger: n.log.Named("rpc"), Admin: n.cfg.RPC.Admin}
	if opts.Admin {
		path := filepath.Join(n.cfg.Node.DataDir, rpc.AdminTokenFile)
		tok, err := adminToken(path)
		if err != nil {
			return n.rpcDiag("Cannot set up the admin API's token", err)
		}
		opts.AdminToken = tok
		n.log.Info("admin API on: callers present the token in the file", "token_file", path)
	}
	n.rpc = rpc.NewServer(be, opts)
	addr, _, err := n.rpc.Start(context.WithoutCancel(ctx), n.cfg.RPC.Listen)
	if err != nil {
		return n.rpcDiag("Cannot listen for RPC", err)
	}
	n.rpcAddr = addr
	n.log.Info("rpc endpoint", "http", "http://"+addr.String(), "ws", "ws://"+addr.String()+"/ws")
	return nil
}

// RPCAddr is the address of the JSON-RPC endpoint, or nil.
func (n *Node) RPCAddr() net.Addr { return n.rpcAddr }

func (n *Node) rpcDiag(summary string, err error) error {
	subject := n.cfg.RPC.DeclRange
	if r, ok := n.cfg.Range("rpc.listen"); ok {
		subject = r
	}
	return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary,
		Detail: err.Error(), Subject: subject.Ptr()}}}
}

// adminToken reads the admin API's token from path, or makes one (32
// random bytes in hex, mode 0600) the first time, so the admin methods are
// never open to any caller that reaches the listener.
func adminToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 || len(tok) > 256 {
			return "", fmt.Errorf("%s holds a token of %d characters, want 32 to 256", path, len(tok))
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	if err := securefile.WriteAtomic(path, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return tok, nil
}
