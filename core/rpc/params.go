package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// MaxWithinBlocks bounds trellis_feeQuote's horizon.
const MaxWithinBlocks = 1024

// params are a call's positional parameters, decoded one at a time so that
// an error names the parameter.
type params []json.RawMessage

// check verifies the count: at least required, at most len(names).
func (p params) check(names []string, required int) error {
	if len(p) >= required && len(p) <= len(names) {
		return nil
	}
	var want string
	switch {
	case len(names) == 0:
		want = "no params"
	case required == len(names):
		want = fmt.Sprintf("%d param(s) %v", required, names)
	default:
		want = fmt.Sprintf("%d to %d params %v", required, len(names), names)
	}
	return &ParamError{Index: -1, Err: fmt.Errorf("want %s, got %d", want, len(p))}
}

func (p params) has(i int) bool {
	return i < len(p) && !bytes.Equal(bytes.TrimSpace(p[i]), []byte("null"))
}

func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func (p params) string(i int, name string) (string, error) {
	var s string
	if i >= len(p) {
		return "", &ParamError{Index: i, Name: name, Err: errors.New("missing")}
	}
	if err := json.Unmarshal(p[i], &s); err != nil {
		return "", &ParamError{Index: i, Name: name, Err: fmt.Errorf("want a string, got %s", kindOf(p[i]))}
	}
	return s, nil
}

func (p params) address(i int) (account.Address, error) {
	s, err := p.string(i, "address")
	if err != nil {
		return account.Address{}, err
	}
	a, err := account.ParseAddress(s)
	if err != nil {
		return a, &ParamError{Index: i, Name: "address", Err: err}
	}
	return a, nil
}

func (p params) txHash(i int) (tx.Hash, error) {
	s, err := p.string(i, "transaction hash")
	if err != nil {
		return tx.Hash{}, err
	}
	h, err := tx.ParseHash(s)
	if err != nil {
		return h, &ParamError{Index: i, Name: "transaction hash", Err: err}
	}
	return h, nil
}

func (p params) blockHash(i int) (block.Hash, error) {
	s, err := p.string(i, "block hash")
	if err != nil {
		return block.Hash{}, err
	}
	h, err := tx.ParseHash(s)
	if err != nil {
		return block.Hash{}, &ParamError{Index: i, Name: "block hash", Err: err}
	}
	return block.Hash(h), nil
}

func (p params) hexBytes(i int, name string) ([]byte, error) {
	s, err := p.string(i, name)
	if err != nil {
		return nil, err
	}
	var b Bytes
	if err := b.UnmarshalText([]byte(s)); err != nil {
		return nil, &ParamError{Index: i, Name: name, Err: fmt.Errorf("want 0x and hex digits: %v", err)}
	}
	return b, nil
}

// optBool reads an optional boolean (default false).
func (p params) optBool(i int, name string) (bool, error) {
	if !p.has(i) {
		return false, nil
	}
	var v bool
	if err := json.Unmarshal(p[i], &v); err != nil {
		return false, &ParamError{Index: i, Name: name, Err: fmt.Errorf("want true or false, got %s", kindOf(p[i]))}
	}
	return v, nil
}

// height reads a JSON number that is a height.
func height(raw json.RawMessage, i int, name string) (uint64, error) {
	var h uint64
	if err := json.Unmarshal(raw, &h); err != nil {
		return 0, &ParamError{Index: i, Name: name, Err: fmt.Errorf("height %s is not an integer in 0..2^64-1", short(raw))}
	}
	return h, nil
}

// blockNumber reads a height (number) or a tag ("head", "finalized").
func (p params) blockNumber(i int) (BlockRef, error) {
	const name = "block number"
	if i >= len(p) {
		return BlockRef{}, &ParamError{Index: i, Name: name, Err: errors.New("missing")}
	}
	if kindOf(p[i]) == "a number" {
		h, err := height(p[i], i, name)
		return BlockRef{Height: &h}, err
	}
	var s string
	if err := json.Unmarshal(p[i], &s); err != nil {
		return BlockRef{}, &ParamError{Index: i, Name: name, Err: fmt.Errorf(`want a height or "head" or "finalized", got %s`, kindOf(p[i]))}
	}
	if s != TagHead && s != TagFinalized {
		return BlockRef{}, &ParamError{Index: i, Name: name, Err: fmt.Errorf(`want a height (a JSON number) or "head" or "finalized", got %q`, s)}
	}
	return BlockRef{Tag: s}, nil
}

// blockRef reads a block hash, a height or a tag.
func (p params) blockRef(i int) (BlockRef, error) {
	if i < len(p) {
		var s string
		if json.Unmarshal(p[i], &s) == nil && s != TagHead && s != TagFinalized {
			h, err := tx.ParseHash(s)
			if err != nil {
				return BlockRef{}, &ParamError{Index: i, Name: "block", Err: fmt.Errorf(`want a block hash, a height, "head" or "finalized": %v`, err)}
			}
			bh := block.Hash(h)
			return BlockRef{Hash: &bh}, nil
		}
	}
	return p.blockNumber(i)
}

// withinBlocks reads the optional horizon of trellis_feeQuote (default 1).
func (p params) withinBlocks(i int) (uint32, error) {
	if !p.has(i) {
		return 1, nil
	}
	var n uint32
	if err := json.Unmarshal(p[i], &n); err != nil || n < 1 || n > MaxWithinBlocks {
		return 0, &ParamError{Index: i, Name: "withinBlocks", Err: fmt.Errorf("want an integer in 1..%d, got %s", MaxWithinBlocks, short(p[i]))}
	}
	return n, nil
}

// short quotes at most 40 bytes of a parameter for an error message.
func short(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	return string(raw)
}
