package main

// trellis query: read accounts, blocks and transactions from a node.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

func cmdQuery(args []string, stdout, stderr io.Writer) int {
	sub := map[string]func([]string, io.Writer, io.Writer) int{"account": queryAccount, "block": queryBlock, "tx": queryTx}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprint(stderr, `Usage:
  trellis query account ADDR|NAME [-node URL] [-json]
  trellis query block N|HASH|head|finalized [-txs] [-node URL] [-json]
  trellis query tx HASH [-node URL] [-json]

Readable text by default; -json prints the node's JSON objects.
Run 'trellis query <command> -h' for every flag and an example.
`)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	return sub[args[0]](args[1:], stdout, stderr)
}

// queryFlags are the flags every query takes.
type queryFlags struct {
	node    *string
	asJSON  *bool
	timeout *time.Duration
}

func addQueryFlags(fs *flag.FlagSet) queryFlags {
	return queryFlags{
		node:    fs.String("node", defaultNode, "JSON-RPC `URL` of the node"),
		asJSON:  fs.Bool("json", false, "print the node's JSON object"),
		timeout: fs.Duration("timeout", callTimeout, "how long to wait for the node's answer"),
	}
}

func (q queryFlags) dial() (*rpc.Client, context.Context, context.CancelFunc, error) {
	c, err := rpc.Dial(*q.node)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *q.timeout)
	return c, ctx, func() { cancel(); c.Close() }, nil
}

func queryAccount(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("query account", "query account ADDR|NAME [-node URL] [-home DIR] [-json]",
		"  trellis query account alice\n  trellis query account 0x2a…(64 hex digits) -node http://10.0.0.5:8545 -json", stderr)
	q := addQueryFlags(fs)
	home := homeFlag(fs)
	arg, code, ok := oneName(fs, args)
	if !ok {
		return code
	}
	addr, err := resolveAddress(*home, arg)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	c, ctx, done, err := q.dial()
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	defer done()
	a, err := c.Account(ctx, addr)
	if err != nil {
		return nodeError(stderr, *q.node, err)
	}
	if *q.asJSON {
		return printJSON(stdout, a)
	}
	printAccount(stdout, a)
	return 0
}

func printAccount(w io.Writer, a *rpc.Account) {
	fmt.Fprintf(w, "address:     %s\n", a.Address)
	if !a.Exists {
		fmt.Fprintf(w, "(no account at height %d: this address has received nothing yet)\n", a.Height)
		return
	}
	fmt.Fprintf(w, "balance:     %d\n", a.Balance)
	fmt.Fprintf(w, "nonce:       %d", a.Nonce)
	if a.PendingNonce != a.Nonce {
		fmt.Fprintf(w, " (next: %d, counting pending transactions)", a.PendingNonce)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "bonded:      %d\n", a.Bonded)
	for i, d := range a.Delegations {
		label := ""
		if i == 0 {
			label = "delegations:"
		}
		fmt.Fprintf(w, "%-12s %d to %s (%d shares of its pool)\n", label, d.Amount, d.Validator, d.Shares)
	}
	for i, u := range a.Unbonding {
		label := ""
		if i == 0 {
			label = "unbonding:"
		}
		fmt.Fprintf(w, "%-12s %d from %s, released at height %d\n", label, u.Amount, u.Validator, u.ReleaseHeight)
	}
	if v := a.Validator; v != nil {
		fmt.Fprintf(w, "validator:   stake %d (own %d + delegated %d), slashed %d\n", v.Stake, a.Bonded, v.Delegated, v.Slashed)
		fmt.Fprintf(w, "bls key:     %s\n", v.BLSPublicKey)
	}
	if p := a.Prover; p != nil {
		fmt.Fprintf(w, "prover:      %s, price %d, bond %d, reputation %d; proved %d, missed %d, slashed %d\n",
			p.Kind, p.Price, p.Bond, p.Reputation, p.Proved, p.Missed, p.Slashed)
	}
	if len(a.Provers) > 0 {
		fmt.Fprintf(w, "provers:     %d registered\n", len(a.Provers))
	}
	if len(a.Jobs) > 0 {
		fmt.Fprintf(w, "proof jobs:  %d open (heights %d..%d)\n", len(a.Jobs), a.Jobs[0].Height, a.Jobs[len(a.Jobs)-1].Height)
		for _, j := range a.Jobs {
			who := "unassigned"
			if !j.Prover.IsZero() {
				who = fmt.Sprintf("%s until %d", j.Prover, j.Deadline)
			}
			fmt.Fprintf(w, "  block %-8d reward %-10d %s, attempts %d\n", j.Height, j.Reward, who, j.Attempts)
		}
	}
	fmt.Fprintf(w, "height:      %d\n", a.Height)
}

func queryBlock(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("query block", "query block N|HASH|head|finalized [-txs] [-node URL] [-json]",
		"  trellis query block head\n  trellis query block 42 -txs\n  trellis query block finalized -json", stderr)
	q := addQueryFlags(fs)
	full := fs.Bool("txs", false, "include the transactions and their receipts")
	arg, code, ok := oneName(fs, args)
	if !ok {
		return code
	}
	c, ctx, done, err := q.dial()
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	defer done()
	var b *rpc.Block
	switch {
	case arg == rpc.TagHead || arg == rpc.TagFinalized:
		b, err = c.BlockByTag(ctx, arg, *full)
	case strings.HasPrefix(arg, "0x") || strings.HasPrefix(arg, "0X") || len(arg) == 2*block.HashSize:
		var h tx.Hash
		if h, err = tx.ParseHash(arg); err != nil {
			return walletError(stderr, "%v", strings.Replace(err.Error(), "invalid hash", "invalid block hash", 1))
		}
		b, err = c.BlockByHash(ctx, block.Hash(h), *full)
	default:
		n, perr := strconv.ParseUint(arg, 10, 64)
		if perr != nil {
			return walletError(stderr, "%q is not a block height, hash, head or finalized", arg)
		}
		b, err = c.BlockByNumber(ctx, n, *full)
	}
	if errors.Is(err, rpc.ErrNotFound) {
		return walletError(stderr, "no block %s on the node at %s", arg, *q.node)
	}
	if err != nil {
		return nodeError(stderr, *q.node, err)
	}
	if *q.asJSON {
		return printJSON(stdout, b)
	}
	printBlock(stdout, b)
	return 0
}

func printBlock(w io.Writer, b *rpc.Block) {
	fmt.Fprintf(w, "height:      %d\n", b.Height)
	fmt.Fprintf(w, "hash:        %s\n", b.Hash)
	fmt.Fprintf(w, "finality:    %s\n", b.Finality)
	fmt.Fprintf(w, "parent:      %s\n", b.ParentHash)
	fmt.Fprintf(w, "time:        %s\n", time.UnixMilli(b.TimestampMs).UTC().Format("2006-01-02 15:04:05.000 UTC"))
	fmt.Fprintf(w, "proposer:    %s\n", b.Proposer)
	fmt.Fprintf(w, "chain id:    %s\n", b.ChainID)
	fmt.Fprintf(w, "state root:  %s\n", b.StateRoot)
	fmt.Fprintf(w, "base fee:    %d\n", b.BaseFee)
	fmt.Fprintf(w, "gas:         %d used of %d\n", b.GasUsed, b.GasLimit)
	if len(b.Proofs) > 0 {
		fmt.Fprintf(w, "proofs:      %d, of blocks", len(b.Proofs))
		for _, p := range b.Proofs {
			fmt.Fprintf(w, " %d", p.Height)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "txs:         %d\n", b.TxCount)
	if len(b.Transactions) > 0 {
		for i, t := range b.Transactions {
			line := fmt.Sprintf("  %s  %-8s %d from %s", t.Hash, t.Type, t.Amount, t.From)
			if i < len(b.Receipts) && b.Receipts[i] != nil {
				r := b.Receipts[i]
				line += fmt.Sprintf("  %s, fee %d", r.Status, r.FeePaid)
				if r.Reason != "" {
					line += ": " + r.Reason
				}
			}
			fmt.Fprintln(w, line)
		}
		return
	}
	for _, h := range b.TxHashes {
		fmt.Fprintf(w, "  %s\n", h)
	}
}

func queryTx(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("query tx", "query tx HASH [-node URL] [-json]", "  trellis query tx 0x5f…(64 hex digits)", stderr)
	q := addQueryFlags(fs)
	arg, code, ok := oneName(fs, args)
	if !ok {
		return code
	}
	h, err := tx.ParseHash(arg)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	c, ctx, done, err := q.dial()
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	defer done()
	t, err := c.Transaction(ctx, h)
	if errors.Is(err, rpc.ErrNotFound) {
		return walletError(stderr, "no transaction %s on the node at %s", h, *q.node)
	}
	if err != nil {
		return nodeError(stderr, *q.node, err)
	}
	var r *rpc.Receipt
	if t.BlockHash != nil {
		r, err = c.Receipt(ctx, h)
		if err != nil && !errors.Is(err, rpc.ErrNotIncluded) {
			return nodeError(stderr, *q.node, err)
		}
	}
	if *q.asJSON {
		return printJSON(stdout, struct {
			Transaction *rpc.Transaction `json:"transaction"`
			Receipt     *rpc.Receipt     `json:"receipt"`
		}{t, r})
	}
	printTx(stdout, t, r)
	return 0
}

func printTx(w io.Writer, t *rpc.Transaction, r *rpc.Receipt) {
	fmt.Fprintf(w, "tx hash:   %s\n", t.Hash)
	fmt.Fprintf(w, "type:      %s of %d", t.Type, t.Amount)
	switch {
	case t.To != nil:
		fmt.Fprintf(w, " to %s", t.To)
	case t.Validator != nil && t.Type == tx.TypeUnbond.String():
		fmt.Fprintf(w, " from validator %s", t.Validator)
	case t.Validator != nil:
		fmt.Fprintf(w, " to validator %s", t.Validator)
	case len(t.BLSPublicKey) > 0:
		fmt.Fprintf(w, ", registering BLS key %s", t.BLSPublicKey)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "from:      %s, nonce %d\n", t.From, t.Nonce)
	fmt.Fprintf(w, "fees:      gas limit %d, max fee %d/gas, tip %d/gas\n", t.GasLimit, t.MaxFeePerGas, t.MaxPriorityFeePerGas)
	status := string(t.Status)
	if status == "" {
		status = "unknown"
	}
	if t.BlockHash != nil && t.BlockHeight != nil {
		status += fmt.Sprintf(" in block %d (%s)", *t.BlockHeight, t.BlockHash)
		if t.Index != nil {
			status += fmt.Sprintf(", index %d", *t.Index)
		}
	}
	fmt.Fprintf(w, "status:    %s\n", status)
	if r != nil {
		printReceipt(w, r)
	}
}
