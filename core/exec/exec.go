package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Params are the chain's execution parameters, fixed at genesis.
type Params struct {
	ChainID string
	// UnbondingDelay is the number of blocks unbonded stake waits.
	UnbondingDelay uint64
	// VerifyPoP checks a validator's BLS proof of possession at
	// registration. Nil rejects every registration.
	VerifyPoP func(pub [account.BLSPublicKeySize]byte, pop [account.BLSSignatureSize]byte) error
	// Workers bounds the goroutines of signature checks (0: all CPUs).
	Workers int
	// Market holds the prover market's rules; the zero value means
	// account.DefaultMarketParams().
	Market MarketParams
}

// Env is the block being executed.
type Env struct {
	Height   uint64
	Proposer account.Address
	BaseFee  uint64
	GasLimit uint64
	// Parent is what the fee market sees of the parent block.
	Parent FeeParent
	// ParentStatement is the batch statement of the parent block (its state
	// transition): the block opens the proof job for it. Nil when the
	// parent is genesis, which needs no proof.
	ParentStatement *batch.Public
}

// Mode says what to do with a transaction that cannot be in the block.
type Mode int

const (
	// Validate fails the block at the first such transaction.
	Validate Mode = iota
	// Build leaves it out and reports it in Result.Dropped.
	Build
)

// Result is an executed block.
type Result struct {
	Delta    *statedb.Delta
	Txs      []*tx.Tx // the transactions in the block
	Receipts []*block.Receipt
	GasUsed  uint64
	Totals   FeeSplit
	// NextBaseFee is the fee plugin's base fee for the child block.
	NextBaseFee uint64
	// Dropped are transactions left out in Build mode, with the reason.
	Dropped []Dropped
}

// Dropped is a transaction Build left out.
type Dropped struct {
	Tx  *tx.Tx
	Err error
}

// Execute runs txs on r as block env. In Validate mode, checked says the
// stateless checks (signatures) already passed; otherwise they run first,
// in parallel. Build mode assumes they passed (the mempool ran them).
func Execute(ctx context.Context, r statedb.Reader, p Params, env Env, txs []*tx.Tx, pricer Pricer, mode Mode, checked bool) (*Result, error) {
	if _, err := p.market(); err != nil {
		return nil, err
	}
	if mode == Validate && !checked {
		for i, err := range tx.CheckAll(txs, p.ChainID, p.Workers) {
			if err != nil {
				return nil, &TxError{Index: i, Hash: txs[i].Hash(), Err: err}
			}
		}
	}
	var dropped []Dropped
	verified := map[tx.Hash]error{}
	for attempt := 0; ; attempt++ {
		res, rejected, err := run(ctx, r, p, env, txs, pricer, mode, verified)
		if err != nil {
			return nil, err
		}
		dropped = append(dropped, res.Dropped...)
		if len(rejected) == 0 {
			res.Dropped = dropped
			return res, nil
		}
		if attempt == 2 {
			return nil, fmt.Errorf("%w: the fee plugin still rejects transactions after %d attempts", ErrPricing, attempt+1)
		}
		// Build mode: the fee plugin refused some; run again with the
		// transactions that were admitted, less those.
		skip := make(map[int]error, len(rejected))
		for _, rj := range rejected {
			skip[rj.index] = rj.err
		}
		keep := make([]*tx.Tx, 0, len(res.Txs))
		for i, t := range res.Txs {
			if err, ok := skip[i]; ok {
				dropped = append(dropped, Dropped{Tx: t, Err: err})
				continue
			}
			keep = append(keep, t)
		}
		txs = keep
	}
}

type rejection struct {
	index int
	err   error
}

func run(ctx context.Context, r statedb.Reader, p Params, env Env, txs []*tx.Tx, pricer Pricer, mode Mode, verified map[tx.Hash]error) (*Result, []rejection, error) {
	m, err := p.market()
	if err != nil {
		return nil, nil, err
	}
	d := statedb.NewDelta(r)
	res := &Result{Delta: d}
	if err := begin(d, env.Height); err != nil {
		return nil, nil, err
	}
	if err := beginMarket(d, m, env); err != nil {
		return nil, nil, fmt.Errorf("prover market at height %d: %w", env.Height, err)
	}
	type pending struct {
		sender account.Index
		maxFee uint64
		rcpt   *block.Receipt
	}
	var pend []pending
	fees := make([]TxFee, 0, len(txs))
	for i, t := range txs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		var idx account.Index
		var maxFee uint64
		err := admitProof(d, t, verified)
		if err == nil {
			idx, maxFee, err = admit(d, env, t, res.GasUsed)
		}
		if err != nil {
			if mode == Validate {
				return nil, nil, &TxError{Index: i, Hash: t.Hash(), Err: err}
			}
			res.Dropped = append(res.Dropped, Dropped{Tx: t, Err: err})
			continue
		}
		rc := &block.Receipt{TxHash: t.Hash(), GasUsed: t.Gas()}
		if err := applyBody(d, p, m, env, idx, t); err != nil {
			var fe *failure
			if !errors.As(err, &fe) {
				return nil, nil, err // state read failure: not the transaction's fault
			}
			rc.Status, rc.Reason = block.StatusFailed, fe.Error()
		}
		res.GasUsed += t.Gas()
		res.Txs = append(res.Txs, t)
		pend = append(pend, pending{sender: idx, maxFee: maxFee, rcpt: rc})
		fees = append(fees, TxFee{GasUsed: t.Gas(), MaxFeePerGas: t.MaxFeePerGas, MaxPriorityFeePerGas: t.MaxPriorityFeePerGas, GasLimit: t.GasLimit})
	}
	price, err := pricer.PriceBlock(ctx, env.Parent, env.GasLimit, fees)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrPricing, err)
	}
	if len(price.Txs) != len(fees) {
		return nil, nil, fmt.Errorf("%w: fee plugin priced %d transactions, the block has %d", ErrPricing, len(price.Txs), len(fees))
	}
	if price.BaseFee != env.BaseFee {
		// Validating, the header claimed the base fee: the block is wrong.
		// Building, the base fee came from the plugin: it contradicts itself.
		sentinel := ErrBaseFee
		if mode == Build {
			sentinel = ErrPricing
		}
		return nil, nil, fmt.Errorf("%w: base fee %d, the fee plugin gives %d", sentinel, env.BaseFee, price.BaseFee)
	}
	var rejected []rejection
	for i, tp := range price.Txs {
		if tp.Rejected {
			err := fmt.Errorf("%w: %s", ErrFeeRejected, tp.Reason)
			if mode == Validate {
				return nil, nil, &TxError{Index: i, Hash: res.Txs[i].Hash(), Err: err}
			}
			rejected = append(rejected, rejection{index: i, err: err})
		}
	}
	if len(rejected) > 0 {
		return res, rejected, nil
	}
	// Settle: refunds, then the split.
	var sum FeeSplit
	for i, tp := range price.Txs {
		pd := pend[i]
		fee := tp.Fee
		if fee > pd.maxFee || tp.Tip > fee {
			return nil, nil, fmt.Errorf("%w: transaction %d charged %d (tip %d), above its reserved %d", ErrPricing, i, fee, tp.Tip, pd.maxFee)
		}
		s := tp.Split
		if total, ok := s.sum(); !ok || total != fee {
			return nil, nil, fmt.Errorf("%w: transaction %d's split does not sum to its fee %d", ErrPricing, i, fee)
		}
		if err := credit(d, pd.sender, pd.maxFee-fee); err != nil {
			return nil, nil, err
		}
		pd.rcpt.FeePaid, pd.rcpt.Tip = fee, tp.Tip
		res.Receipts = append(res.Receipts, pd.rcpt)
		sum.Burn += s.Burn
		sum.Treasury += s.Treasury
		sum.Sequencer += s.Sequencer
		sum.Prover += s.Prover
	}
	if err := settle(d, env, sum); err != nil {
		return nil, nil, err
	}
	res.Totals = sum
	res.NextBaseFee = price.NextBaseFee
	return res, nil, nil
}

// begin releases the unbonding entries due at height.
func begin(d *statedb.Delta, height uint64) error {
	due, err := d.Due(height)
	if err != nil {
		return err
	}
	for _, idx := range due {
		a, err := d.Account(idx)
		if err != nil {
			return fmt.Errorf("unbonding queue names account %d: %w", idx, err)
		}
		keep := a.Unbonding[:0]
		for _, u := range a.Unbonding {
			if u.Release <= height {
				a.Balance += u.Amount
				continue
			}
			keep = append(keep, u)
		}
		a.Unbonding = keep
		if len(a.Unbonding) == 0 {
			a.Unbonding = nil
		}
		if err := d.Put(idx, a); err != nil {
			return err
		}
		d.QueueDel(height, idx)
	}
	return nil
}

// admitProof runs checkProof for a proof transaction; nil for the others.
func admitProof(d *statedb.Delta, t *tx.Tx, verified map[tx.Hash]error) error {
	if b, ok := t.Body.(tx.Proof); ok {
		return checkProof(d, t, b, verified)
	}
	return nil
}

// admit runs the checks that decide whether t can be in the block, then
// reserves its maximum fee and advances the nonce.
func admit(d *statedb.Delta, env Env, t *tx.Tx, gasSoFar uint64) (account.Index, uint64, error) {
	if env.GasLimit-gasSoFar < t.Gas() || gasSoFar > env.GasLimit {
		return 0, 0, fmt.Errorf("%w: %d gas left of %d, the transaction uses %d", ErrBlockFull, env.GasLimit-min(gasSoFar, env.GasLimit), env.GasLimit, t.Gas())
	}
	if t.MaxFeePerGas < env.BaseFee {
		return 0, 0, fmt.Errorf("%w: max fee per gas %d is below the base fee %d", ErrFeeCap, t.MaxFeePerGas, env.BaseFee)
	}
	idx, a, err := statedb.AccountAt(d, t.Sender())
	if errors.Is(err, statedb.ErrNoAccount) {
		return 0, 0, fmt.Errorf("%w: sender %s has no account", ErrInsufficientFunds, t.Sender())
	}
	if err != nil {
		return 0, 0, err
	}
	if t.Nonce != a.Nonce {
		if t.Nonce < a.Nonce {
			return 0, 0, fmt.Errorf("%w: nonce %d already used, the account is at %d", ErrNonce, t.Nonce, a.Nonce)
		}
		return 0, 0, fmt.Errorf("%w: nonce %d, the account expects %d", ErrNonce, t.Nonce, a.Nonce)
	}
	cost, ok := t.MaxCost()
	if !ok {
		return 0, 0, fmt.Errorf("%w: maximum cost overflows", tx.ErrOverflow)
	}
	if a.Balance < cost {
		return 0, 0, fmt.Errorf("%w: balance %d, the transaction may cost %d", ErrInsufficientFunds, a.Balance, cost)
	}
	maxFee, _ := t.MaxFee()
	a.Balance -= maxFee
	a.Nonce++
	return idx, maxFee, d.Put(idx, a)
}

// credit adds amount to the balance at idx.
func credit(d *statedb.Delta, idx account.Index, amount uint64) error {
	if amount == 0 {
		return nil
	}
	a, err := d.Account(idx)
	if err != nil {
		return err
	}
	if a.Balance+amount < a.Balance {
		return fmt.Errorf("balance of account %d overflows: supply is not conserved", idx)
	}
	a.Balance += amount
	return d.Put(idx, a)
}

// creditAddr credits addr, creating its account if needed.
func creditAddr(d *statedb.Delta, addr account.Address, amount uint64) error {
	if amount == 0 {
		return nil
	}
	idx, _, err := d.Ensure(addr)
	if err != nil {
		return err
	}
	return credit(d, idx, amount)
}

// settle distributes the block's fee totals.
func settle(d *statedb.Delta, env Env, s FeeSplit) error {
	g := d.Globals()
	if s.Burn > g.Supply {
		return fmt.Errorf("burning %d exceeds the supply %d", s.Burn, g.Supply)
	}
	g.Supply -= s.Burn
	g.Burned += s.Burn
	d.SetGlobals(g)
	if err := credit(d, account.TreasuryIndex, s.Treasury); err != nil {
		return err
	}
	if err := credit(d, account.EscrowIndex, s.Prover); err != nil {
		return err
	}
	if env.Proposer.IsZero() {
		// No proposer to pay (a test harness): the share goes to the treasury.
		return credit(d, account.TreasuryIndex, s.Sequencer)
	}
	return creditAddr(d, env.Proposer, s.Sequencer)
}
