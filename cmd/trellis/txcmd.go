package main

// trellis tx: build, sign and send transactions, then wait for their receipt.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-chain/trellis/core/keystore"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// defaultNode is the JSON-RPC endpoint the wallet talks to by default.
const defaultNode = "http://127.0.0.1:8545"

// callTimeout bounds each preparatory call to the node (chain id, account,
// fee quote, submission); -timeout bounds the wait for inclusion.
const callTimeout = 30 * time.Second

// pollInterval is how often the receipt is polled when the node's
// WebSocket subscription is not available.
var pollInterval = 500 * time.Millisecond

func cmdTx(args []string, stdout, stderr io.Writer) int {
	sub := map[string]func([]string, io.Writer, io.Writer) int{
		"transfer": txTransfer, "bond": txBond, "unbond": txUnbond, "delegate": txDelegate,
		"prover-register": txProverRegister, "prover-exit": txProverExit,
	}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprint(stderr, `Usage:
  trellis tx transfer -from NAME -to ADDR|NAME -amount N [flags]
  trellis tx bond     -from NAME -amount N [-bls-key FILE] [flags]
  trellis tx unbond   -from NAME [-validator ADDR|NAME] -amount N [flags]
  trellis tx delegate -from NAME -validator ADDR|NAME -amount N [flags]
  trellis tx prover-register -from NAME -amount BOND -kind KIND -throughput N -price N [flags]
  trellis tx prover-exit -from NAME [flags]

Amounts are plain integers in base units of the native token.
The transaction is signed with the key NAME of the wallet (see 'trellis keys'),
sent to -node (default `+defaultNode+`), and the command waits for its receipt.
Run 'trellis tx <command> -h' for every flag and an example.
`)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	return sub[args[0]](args[1:], stdout, stderr)
}

// optUint is a uint64 flag that remembers whether it was set.
type optUint struct {
	v   uint64
	set bool
}

func (o *optUint) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatUint(o.v, 10)
}

func (o *optUint) Set(s string) error {
	v, err := parseUint(s)
	if err != nil {
		return err
	}
	o.v, o.set = v, true
	return nil
}

// parseUint reads a plain base-10 integer: no sign, no decimals, no exponent.
func parseUint(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s does not fit in 64 bits", s)
		}
		return 0, fmt.Errorf("%q is not a whole number of base units", s)
	}
	return v, nil
}

// txFlags are the flags every tx command takes.
type txFlags struct {
	fs       *flag.FlagSet
	home     *string
	node     *string
	from     *string
	amount   optUint
	nonce    optUint
	gasLimit optUint
	maxFee   optUint
	tip      optUint
	belowFee *bool
	noAmount bool // the transaction moves no amount (-amount refused)
	wait     *bool
	timeout  *time.Duration
}

func newTxFlags(name, usageLine, example string, stderr io.Writer) *txFlags {
	f := &txFlags{fs: walletFlags(name, usageLine, example, stderr)}
	fs := f.fs
	f.from = fs.String("from", "", "`NAME` of the wallet key that signs and pays (required)")
	fs.Var(&f.amount, "amount", "amount `N` in base units, a plain integer (required)")
	f.home = homeFlag(fs)
	f.node = fs.String("node", defaultNode, "JSON-RPC `URL` of the node")
	fs.Var(&f.nonce, "nonce", "transaction `nonce` (default: the account's pending nonce from the node)")
	fs.Var(&f.gasLimit, "gas-limit", "`gas` limit (default: the gas this type of transaction uses)")
	fs.Var(&f.maxFee, "max-fee", "max `fee` per gas (default: the node's fee quote)")
	fs.Var(&f.tip, "tip", "max priority `fee` per gas (default: the node's fee quote)")
	f.belowFee = fs.Bool("below-base-fee", false, "send even if -max-fee is below the current base fee (it waits until the base fee falls that low, and holds back the account's later transactions)")
	f.wait = fs.Bool("wait", true, "wait for the transaction to be included and print its receipt")
	f.timeout = fs.Duration("timeout", 2*time.Minute, "how long to wait for inclusion")
	return f
}

// parse parses args, which must hold no positional argument, and checks
// the required flags.
func (f *txFlags) parse(args []string) (int, bool) {
	pos, extra, code, ok := parseMixed(f.fs, args)
	if !ok {
		return code, false
	}
	if len(pos) > 0 || len(extra) > 0 || *f.from == "" || f.amount.set == f.noAmount {
		switch {
		case len(pos) > 0 || len(extra) > 0:
		case f.noAmount && f.amount.set:
			fmt.Fprintln(f.fs.Output(), "error: this transaction moves no amount: drop -amount")
		case f.noAmount:
			fmt.Fprintln(f.fs.Output(), "error: -from is required")
		default:
			fmt.Fprintln(f.fs.Output(), "error: -from and -amount are required")
		}
		f.fs.Usage()
		return 2, false
	}
	return 0, true
}

// requiredAddress resolves the address or key name given to a required
// flag; ok is false with the exit code when it is missing or unknown.
func (f *txFlags) requiredAddress(flag, value string, stderr io.Writer) (addr account.Address, code int, ok bool) {
	if value == "" {
		fmt.Fprintf(stderr, "error: -%s is required\n", flag)
		f.fs.Usage()
		return addr, 2, false
	}
	addr, err := resolveAddress(*f.home, value)
	if err != nil {
		return addr, walletError(stderr, "-%s: %v", flag, err), false
	}
	return addr, 0, true
}

// bodyFunc builds a transaction body once the sender's account is known.
type bodyFunc func(from account.Address, acct *rpc.Account) (tx.Body, error)

func txTransfer(args []string, stdout, stderr io.Writer) int {
	f := newTxFlags("tx transfer", "tx transfer -from NAME -to ADDR|NAME -amount N [flags]",
		"  trellis tx transfer -from alice -to 0x2a…(64 hex digits) -amount 1000000\n"+
			"  trellis tx transfer -from alice -to bob -amount 5000 -tip 2 -wait=false", stderr)
	to := f.fs.String("to", "", "`ADDR|NAME` of the recipient: an address or a wallet key name (required)")
	if code, ok := f.parse(args); !ok {
		return code
	}
	toAddr, code, ok := f.requiredAddress("to", *to, stderr)
	if !ok {
		return code
	}
	return f.send(stdout, stderr, func(account.Address, *rpc.Account) (tx.Body, error) {
		return tx.Transfer{To: toAddr, Amount: f.amount.v}, nil
	})
}

func txBond(args []string, stdout, stderr io.Writer) int {
	f := newTxFlags("tx bond", "tx bond -from NAME -amount N [-bls-key FILE] [flags]",
		"  trellis tx bond -from validator -amount 1000000 -bls-key ./node/keys/validator_bls_key.json   # first bond: registers\n"+
			"  trellis tx bond -from validator -amount 500000                                                  # later bonds", stderr)
	blsKey := f.fs.String("bls-key", "", "BLS validator key `FILE` (validator_bls_key.json from 'trellis init'); required for the first bond, which registers the validator")
	if code, ok := f.parse(args); !ok {
		return code
	}
	return f.send(stdout, stderr, func(from account.Address, acct *rpc.Account) (tx.Body, error) {
		b := tx.Bond{Amount: f.amount.v}
		if acct.Validator != nil {
			if *blsKey == "" {
				return b, nil
			}
			sk, err := signer.LoadBLSKey(*blsKey)
			if err != nil {
				return nil, err
			}
			pk := sk.PublicKey().Bytes()
			if string(pk[:]) != string(acct.Validator.BLSPublicKey) {
				return nil, fmt.Errorf("%s is registered with BLS key %s, not the key in %s; a validator's BLS key cannot change", from, acct.Validator.BLSPublicKey, *blsKey)
			}
			fmt.Fprintf(stderr, "note: %s is already a registered validator; the BLS key is not sent again\n", from)
			return b, nil
		}
		if *blsKey == "" {
			return nil, fmt.Errorf("%s is not a validator yet: its first bond registers it and needs -bls-key FILE (the validator_bls_key.json of `trellis init`)", from)
		}
		sk, err := signer.LoadBLSKey(*blsKey)
		if err != nil {
			return nil, err
		}
		b.BLSPublicKey = sk.PublicKey().Bytes()
		b.ProofOfPossession = bls.ProofOfPossession(sk).Bytes()
		return b, nil
	})
}

func txUnbond(args []string, stdout, stderr io.Writer) int {
	f := newTxFlags("tx unbond", "tx unbond -from NAME [-validator ADDR|NAME] -amount N [flags]",
		"  trellis tx unbond -from alice -validator 0x2a…(64 hex digits) -amount 1000   # undelegate\n"+
			"  trellis tx unbond -from validator -amount 1000                           # own bond", stderr)
	val := f.fs.String("validator", "", "validator the stake is bonded to: an `ADDR|NAME` (default: the sender's own bond)")
	if code, ok := f.parse(args); !ok {
		return code
	}
	var v *account.Address
	if *val != "" {
		a, err := resolveAddress(*f.home, *val)
		if err != nil {
			return walletError(stderr, "-validator: %v", err)
		}
		v = &a
	}
	return f.send(stdout, stderr, func(from account.Address, _ *rpc.Account) (tx.Body, error) {
		if v == nil {
			return tx.Unbond{Validator: from, Amount: f.amount.v}, nil
		}
		return tx.Unbond{Validator: *v, Amount: f.amount.v}, nil
	})
}

func txDelegate(args []string, stdout, stderr io.Writer) int {
	f := newTxFlags("tx delegate", "tx delegate -from NAME -validator ADDR|NAME -amount N [flags]",
		"  trellis tx delegate -from alice -validator 0x2a…(64 hex digits) -amount 250000", stderr)
	val := f.fs.String("validator", "", "validator to delegate to: an `ADDR|NAME` (required)")
	if code, ok := f.parse(args); !ok {
		return code
	}
	v, code, ok := f.requiredAddress("validator", *val, stderr)
	if !ok {
		return code
	}
	return f.send(stdout, stderr, func(account.Address, *rpc.Account) (tx.Body, error) {
		return tx.Delegate{Validator: v, Amount: f.amount.v}, nil
	})
}

func txProverRegister(args []string, stdout, stderr io.Writer) int {
	f := newTxFlags("tx prover-register", "tx prover-register -from NAME -amount BOND -kind KIND -throughput N -price N [flags]",
		"  trellis tx prover-register -from alice -amount 10000000 -kind cpu -throughput 100000 -price 1000", stderr)
	kind := f.fs.String("kind", "", "hardware class the prover declares, 1-16 of a-z 0-9 - _ . (required)")
	throughput := f.fs.Uint64("throughput", 0, "Poseidon2 `permutations` per second the prover claims (required)")
	price := f.fs.Uint64("price", 0, "tokens asked per proof `job`")
	if code, ok := f.parse(args); !ok {
		return code
	}
	if *kind == "" || *throughput == 0 {
		fmt.Fprintln(stderr, "error: -kind and -throughput are required")
		f.fs.Usage()
		return 2
	}
	return f.send(stdout, stderr, func(account.Address, *rpc.Account) (tx.Body, error) {
		return tx.ProverRegister{Kind: *kind, Throughput: *throughput, Price: *price, Bond: f.amount.v}, nil
	})
}

func txProverExit(args []string, stdout, stderr io.Writer) int {
	f := newTxFlags("tx prover-exit", "tx prover-exit -from NAME [flags]",
		"  trellis tx prover-exit -from alice", stderr)
	f.noAmount = true
	if code, ok := f.parse(args); !ok {
		return code
	}
	return f.send(stdout, stderr, func(account.Address, *rpc.Account) (tx.Body, error) {
		return tx.ProverExit{}, nil
	})
}

// nodeError prints an error from talking to the node: a rejection with the
// node's reason, an unreachable node with a hint.
func nodeError(stderr io.Writer, nodeURL string, err error) int {
	var re *rpc.Error
	var ne net.Error
	switch {
	case errors.As(err, &re) && re.Code == rpc.CodeTxRejected:
		return walletError(stderr, "transaction rejected (%s): %s", re.Reason, re.Message)
	case errors.As(err, &re):
		return walletError(stderr, "node %s: %s", nodeURL, re.Message)
	case errors.As(err, &ne):
		return walletError(stderr, "cannot reach the node at %s: %v (is it running? pass -node URL)", nodeURL, err)
	}
	return walletError(stderr, "%v", err)
}

// send builds, signs and sends the transaction, then waits for it.
func (f *txFlags) send(stdout, stderr io.Writer, build bodyFunc) int {
	if f.amount.v == 0 && !f.noAmount {
		return walletError(stderr, "-amount must be positive")
	}
	ks, err := openKeystore(*f.home)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	info, err := ks.Show(*f.from)
	if err != nil {
		return walletError(stderr, "-from: %v", err)
	}
	client, err := rpc.Dial(*f.node)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	defer client.Close()

	base, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(base, callTimeout)
	defer cancel()

	chainID, err := client.ChainID(ctx)
	if err != nil {
		return nodeError(stderr, *f.node, err)
	}
	acct, err := client.Account(ctx, info.Address)
	if err != nil {
		return nodeError(stderr, *f.node, err)
	}
	body, err := build(info.Address, acct)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	t := &tx.Tx{ChainID: chainID, Body: body, Nonce: acct.PendingNonce, GasLimit: tx.BodyGas(body)}
	if info.Scheme == keystore.SchemeHashSig {
		t.GasLimit += tx.GasHashSig
	}
	if f.nonce.set {
		t.Nonce = f.nonce.v
	}
	if f.gasLimit.set {
		t.GasLimit = f.gasLimit.v
	}
	t.MaxFeePerGas, t.MaxPriorityFeePerGas = f.maxFee.v, f.tip.v
	q, err := client.FeeQuote(ctx, 0)
	if err != nil {
		return nodeError(stderr, *f.node, err)
	}
	if f.maxFee.set && f.maxFee.v < q.BaseFee && !*f.belowFee {
		return walletError(stderr, "-max-fee %d is below the current base fee %d: the transaction could not be included now, and would hold back this account's later transactions until the base fee fell that low; raise -max-fee, or pass -below-base-fee to send it anyway", f.maxFee.v, q.BaseFee)
	}
	if !f.maxFee.set || !f.tip.set {
		switch {
		case !f.maxFee.set && !f.tip.set:
			t.MaxFeePerGas, t.MaxPriorityFeePerGas = q.MaxFeePerGas, q.MaxPriorityFeePerGas
		case !f.tip.set: // a max fee of one's own: the quoted tip, capped by it
			t.MaxPriorityFeePerGas = min(q.MaxPriorityFeePerGas, t.MaxFeePerGas)
		default: // a tip of one's own on top of the quoted base fee
			t.MaxFeePerGas = max(q.MaxFeePerGas, q.BaseFee+t.MaxPriorityFeePerGas)
		}
	}

	if info.Scheme == keystore.SchemeHashSig {
		if err := signHashSig(ks, *f.from, t, stderr); err != nil {
			return walletError(stderr, "%v", err)
		}
	} else {
		priv, err := unlockKey(ks, *f.from, stderr)
		if err != nil {
			return walletError(stderr, "%v", err)
		}
		t.Sign(priv)
		clear(priv)
	}
	if err := t.CheckStateless(chainID); err != nil {
		return walletError(stderr, "invalid transaction, not sent: %v", err)
	}

	h, err := client.SendRawTransaction(ctx, t.Encode())
	if err != nil {
		return nodeError(stderr, *f.node, err)
	}
	if h != t.Hash() {
		fmt.Fprintf(stderr, "warning: the node reports hash %s for transaction %s\n", h, t.Hash())
	}
	printSent(stdout, t, info)
	if !*f.wait {
		fmt.Fprintf(stdout, "status:    pending (follow it with: trellis query tx %s -node %s)\n", h, *f.node)
		return 0
	}
	return waitAndPrint(base, client, h, *f.timeout, *f.node, stdout, stderr)
}

func printSent(w io.Writer, t *tx.Tx, from keystore.Info) {
	fmt.Fprintf(w, "tx hash:   %s\n", t.Hash())
	fmt.Fprintf(w, "type:      %s of %d", t.Type(), t.Amount())
	switch b := t.Body.(type) {
	case tx.Transfer:
		fmt.Fprintf(w, " to %s", b.To)
	case tx.Delegate:
		fmt.Fprintf(w, " to validator %s", b.Validator)
	case tx.Unbond:
		fmt.Fprintf(w, " from validator %s", b.Validator)
	case tx.Bond:
		if b.HasKey() {
			fmt.Fprintf(w, ", registering BLS key 0x%x", b.BLSPublicKey)
		}
	case tx.ProverRegister:
		fmt.Fprintf(w, " bond, kind %s, %d permutations/s, price %d per job", b.Kind, b.Throughput, b.Price)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "from:      %s (%s), nonce %d\n", from.Address, from.Name, t.Nonce)
	maxFee, _ := t.MaxFee()
	fmt.Fprintf(w, "fees:      gas limit %d, max fee %d/gas, tip %d/gas (at most %d)\n",
		t.GasLimit, t.MaxFeePerGas, t.MaxPriorityFeePerGas, maxFee)
}

// waitAndPrint waits up to timeout for the transaction's receipt, showing
// its progress on stderr, and prints the outcome.
func waitAndPrint(base context.Context, c *rpc.Client, h tx.Hash, timeout time.Duration, nodeURL string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(base, timeout)
	defer cancel()
	fmt.Fprintf(stderr, "waiting for inclusion (up to %s)...\n", timeout)
	status, r, reason, err := waitReceipt(ctx, c, h, stderr)
	switch {
	case err != nil && ctx.Err() != nil && base.Err() == nil:
		return walletError(stderr, "not included after %s; it may still be: trellis query tx %s -node %s", timeout, h, nodeURL)
	case err != nil && base.Err() != nil:
		return walletError(stderr, "interrupted; follow the transaction with: trellis query tx %s", h)
	case err != nil:
		return nodeError(stderr, nodeURL, err)
	case status == rpc.TxDropped:
		fmt.Fprintf(stdout, "status:    dropped\n")
		if reason == "" {
			reason = "no reason given"
		}
		return walletError(stderr, "transaction dropped by the node: %s", reason)
	}
	fmt.Fprintf(stdout, "status:    %s in block %d (%s)\n", status, r.BlockHeight, r.BlockHash)
	printReceipt(stdout, r)
	if r.Status != "ok" {
		return walletError(stderr, "transaction failed: %s", r.Reason)
	}
	return 0
}

func printReceipt(w io.Writer, r *rpc.Receipt) {
	res := r.Status
	if r.Reason != "" {
		res += ": " + r.Reason
	}
	fmt.Fprintf(w, "result:    %s\ngas used:  %d\nfee paid:  %d (tip %d)\n", res, r.GasUsed, r.FeePaid, r.Tip)
}

// inBlock reports whether a status means the transaction is in a block.
func inBlock(s rpc.TxStatus) bool {
	return s == rpc.TxIncluded || s == rpc.TxFinal || s == rpc.TxKDeep || s == rpc.TxProven
}

// waitReceipt follows the transaction through the node's txStatus
// subscription, or by polling when the node offers no WebSocket, until it is
// in a block (returning its receipt) or dropped.
func waitReceipt(ctx context.Context, c *rpc.Client, h tx.Hash, stderr io.Writer) (rpc.TxStatus, *rpc.Receipt, string, error) {
	last := rpc.TxStatus("")
	progress := func(s rpc.TxStatus) {
		if s != last {
			fmt.Fprintf(stderr, "  %s\n", s)
			last = s
		}
	}
	if sub, err := c.SubscribeTxStatus(ctx, h); err == nil {
		defer func() {
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = sub.Unsubscribe(uctx)
			cancel()
		}()
		for u := range sub.C {
			progress(u.Status)
			switch {
			case u.Status == rpc.TxDropped:
				return u.Status, nil, u.Reason, nil
			case inBlock(u.Status):
				r, err := c.Receipt(ctx, h)
				if errors.Is(err, rpc.ErrNotIncluded) {
					continue // reorganised out meanwhile: keep following
				}
				return u.Status, r, "", err
			}
		}
		if err := ctx.Err(); err != nil {
			return "", nil, "", err
		}
		// The subscription ended (connection lost): poll instead.
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		t, err := c.Transaction(ctx, h)
		switch {
		case err == nil && t.Status == rpc.TxDropped:
			progress(t.Status)
			return t.Status, nil, "", nil
		case err == nil && inBlock(t.Status):
			progress(t.Status)
			r, err := c.Receipt(ctx, h)
			if !errors.Is(err, rpc.ErrNotIncluded) {
				return t.Status, r, "", err
			}
		case err == nil:
			progress(t.Status)
		case errors.Is(err, rpc.ErrNotFound):
			progress("unknown to the node")
		case ctx.Err() == nil && !isTransient(err):
			return "", nil, "", err
		}
		select {
		case <-ctx.Done():
			return "", nil, "", ctx.Err()
		case <-tick.C:
		}
	}
}

// isTransient reports errors worth retrying while polling.
func isTransient(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || strings.Contains(err.Error(), "connection reset")
}
