package rpc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// method is one API method: its parameter names (the first required ones
// must be present) and its handler.
type method struct {
	params   []string
	required int
	wsOnly   bool
	admin    bool // served only with Options.Admin
	fn       func(ctx context.Context, s *Server, p params, c *call) (any, error)
}

var methods map[string]method

func init() {
	methods = map[string]method{
		"trellis_chainId":            {fn: chainID},
		"trellis_sendRawTransaction": {params: []string{"raw"}, required: 1, fn: sendRawTransaction},
		"trellis_getTransaction":     {params: []string{"hash"}, required: 1, fn: getTransaction},
		"trellis_getReceipt":         {params: []string{"hash"}, required: 1, fn: getReceipt},
		"trellis_getAccount":         {params: []string{"address"}, required: 1, fn: getAccount},
		"trellis_getBalance":         {params: []string{"address"}, required: 1, fn: getBalance},
		"trellis_getBlockByNumber":   {params: []string{"number", "fullTxs"}, required: 1, fn: getBlockByNumber},
		"trellis_getBlockByHash":     {params: []string{"hash", "fullTxs"}, required: 1, fn: getBlockByHash},
		"trellis_head":               {fn: head},
		"trellis_getFinality":        {params: []string{"block"}, required: 1, fn: getFinality},
		"trellis_feeQuote":           {params: []string{"withinBlocks"}, fn: feeQuote},
		"trellis_subscribe":          {params: []string{"kind", "hash"}, required: 1, wsOnly: true, fn: wsSubscribe},
		"trellis_unsubscribe":        {params: []string{"id"}, required: 1, wsOnly: true, fn: wsUnsubscribe},
		"trellis_nodeInfo":           {fn: nodeInfo},
		"trellis_consensusStatus":    {fn: consensusStatus},
		"trellis_getWitness":         {params: []string{"height"}, required: 1, fn: getWitness},
		"trellis_getProof":           {params: []string{"height"}, required: 1, fn: getProof},
		"admin_setBlockedPeers":      {params: []string{"ids"}, required: 1, admin: true, fn: setBlockedPeers},
	}
}

// errNoResult reports a backend that returned neither a result nor an error.
var errNoResult = errors.New("backend returned no result")

func chainID(_ context.Context, s *Server, _ params, _ *call) (any, error) {
	return s.b.ChainID(), nil
}

func sendRawTransaction(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	raw, err := p.hexBytes(0, "raw transaction")
	if err != nil {
		return nil, err
	}
	if sub, ok := ctx.Value(submittedKey{}).(*submitted); ok {
		if r, ok := sub.take(raw); ok {
			if r.err != nil {
				return nil, r.err
			}
			return r.hash, nil
		}
	}
	h, err := s.b.SubmitTx(ctx, raw)
	if err != nil {
		return nil, err
	}
	return h, nil
}

func (s *Server) tx(ctx context.Context, p params) (*TxResult, error) {
	h, err := p.txHash(0)
	if err != nil {
		return nil, err
	}
	r, err := s.b.Tx(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("transaction %s: %w", h, err)
	}
	if r == nil || r.Tx == nil {
		return nil, fmt.Errorf("transaction %s: %w", h, errNoResult)
	}
	return r, nil
}

func getTransaction(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	r, err := s.tx(ctx, p)
	if err != nil {
		return nil, err
	}
	return newTransactionResult(r), nil
}

// getReceipt answers null for a transaction that is known but in no block.
func getReceipt(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	r, err := s.tx(ctx, p)
	if err != nil {
		return nil, err
	}
	if r.Receipt == nil || r.BlockHash == nil {
		return nil, nil
	}
	return NewReceipt(r.Receipt, *r.BlockHash, r.Height, r.Index), nil
}

func (s *Server) account(ctx context.Context, p params) (*AccountResult, error) {
	a, err := p.address(0)
	if err != nil {
		return nil, err
	}
	r, err := s.b.Account(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", a, err)
	}
	if r == nil {
		return nil, fmt.Errorf("account %s: %w", a, errNoResult)
	}
	return r, nil
}

func getAccount(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	r, err := s.account(ctx, p)
	if err != nil {
		return nil, err
	}
	return NewAccount(r), nil
}

func getBalance(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	r, err := s.account(ctx, p)
	if err != nil {
		return nil, err
	}
	return strconv.FormatUint(r.Account.Balance, 10), nil
}

func (s *Server) block(ctx context.Context, ref BlockRef) (*BlockResult, error) {
	r, err := s.b.Block(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", ref, err)
	}
	if r == nil || r.Block == nil {
		return nil, fmt.Errorf("block %s: %w", ref, errNoResult)
	}
	return r, nil
}

func getBlockByNumber(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	ref, err := p.blockNumber(0)
	if err != nil {
		return nil, err
	}
	return s.blockView(ctx, ref, p)
}

func getBlockByHash(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	h, err := p.blockHash(0)
	if err != nil {
		return nil, err
	}
	return s.blockView(ctx, BlockRef{Hash: &h}, p)
}

func (s *Server) blockView(ctx context.Context, ref BlockRef, p params) (any, error) {
	full, err := p.optBool(1, "fullTxs")
	if err != nil {
		return nil, err
	}
	r, err := s.block(ctx, ref)
	if err != nil {
		return nil, err
	}
	return NewBlock(r, full), nil
}

func head(ctx context.Context, s *Server, _ params, _ *call) (any, error) {
	r, err := s.block(ctx, BlockRef{Tag: TagHead})
	if err != nil {
		return nil, err
	}
	return NewBlock(r, false), nil
}

func getFinality(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	ref, err := p.blockRef(0)
	if err != nil {
		return nil, err
	}
	r, err := s.block(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &BlockFinality{Hash: r.Hash, Height: r.Block.Header.Height, Finality: r.Finality}, nil
}

func feeQuote(ctx context.Context, s *Server, p params, _ *call) (any, error) {
	n, err := p.withinBlocks(0)
	if err != nil {
		return nil, err
	}
	q, err := s.b.FeeQuote(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("fee quote: %w", err)
	}
	if q == nil {
		return nil, fmt.Errorf("fee quote: %w", errNoResult)
	}
	return q, nil
}

// String describes a BlockRef for error messages.
func (r BlockRef) String() string {
	switch {
	case r.Height != nil:
		return "at height " + strconv.FormatUint(*r.Height, 10)
	case r.Hash != nil:
		return r.Hash.String()
	case r.Tag != "":
		return r.Tag
	}
	return "(no reference)"
}
