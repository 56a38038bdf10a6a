package rpc

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/trellis-chain/trellis/protocol/tx"
)

// TxBatchSubmitter is an optional Backend extension that admits several
// raw transactions at once, so their signatures are checked in one batch
// (about half the cost of one at a time). SubmitTxs answers for each raw
// transaction exactly what SubmitTx would have; hashes and errs have one
// entry per raw.
type TxBatchSubmitter interface {
	SubmitTxs(ctx context.Context, raws [][]byte) (hashes []tx.Hash, errs []error)
}

// submitted holds the answers of a batch request's transactions, submitted
// together before the calls are answered one by one. Each answer is used
// once, so a transaction repeated in a batch gets its usual second answer.
type submitted struct{ byRaw map[string][]submitResult }

type submitResult struct {
	hash tx.Hash
	err  error
}

type submittedKey struct{}

// presubmit submits the transactions of a batch's well-formed
// trellis_sendRawTransaction calls in one SubmitTxs, when the backend can,
// and returns ctx carrying the answers. A call it skips (malformed in any
// way) is answered by the normal path with its normal error.
func (s *Server) presubmit(ctx context.Context, batch []json.RawMessage) context.Context {
	bs, ok := s.b.(TxBatchSubmitter)
	if !ok {
		return ctx
	}
	var raws [][]byte
	for _, r := range batch {
		if !bytes.Contains(r, []byte(`"trellis_sendRawTransaction"`)) {
			continue // other calls are parsed once, by handleOne
		}
		var req struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Method  string          `json:"method"`
			Params  params          `json:"params"`
		}
		if json.Unmarshal(r, &req) != nil || req.JSONRPC != "2.0" || req.Method != "trellis_sendRawTransaction" ||
			(req.ID != nil && !validID(req.ID)) || len(req.Params) != 1 {
			continue
		}
		raw, err := req.Params.hexBytes(0, "raw transaction")
		if err != nil {
			continue
		}
		raws = append(raws, raw)
	}
	if len(raws) < 2 {
		return ctx
	}
	hashes, errs, ok := s.submitTxs(ctx, bs, raws)
	if !ok || len(hashes) != len(raws) || len(errs) != len(raws) {
		return ctx // a broken backend: answer one by one instead
	}
	sub := &submitted{byRaw: make(map[string][]submitResult, len(raws))}
	for i, raw := range raws {
		sub.byRaw[string(raw)] = append(sub.byRaw[string(raw)], submitResult{hashes[i], errs[i]})
	}
	return context.WithValue(ctx, submittedKey{}, sub)
}

// take returns the presubmitted answer for raw, if there is one left.
// Calls of one batch are answered one after another, so no lock is needed.
func (sub *submitted) take(raw []byte) (submitResult, bool) {
	rs := sub.byRaw[string(raw)]
	if len(rs) == 0 {
		return submitResult{}, false
	}
	sub.byRaw[string(raw)] = rs[1:]
	return rs[0], true
}

// submitTxs calls SubmitTxs, turning a panic into ok = false as invoke does
// for single calls.
func (s *Server) submitTxs(ctx context.Context, bs TxBatchSubmitter, raws [][]byte) (hashes []tx.Hash, errs []error, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("rpc batch submission panicked", "panic", r)
			ok = false
		}
	}()
	hashes, errs = bs.SubmitTxs(ctx, raws)
	return hashes, errs, true
}
