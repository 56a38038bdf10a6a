package lc

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/big"
	"sync"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// stakeholder is one validator of an epoch's stake distribution.
type stakeholder struct {
	pk        bls.PublicKey
	stake     uint64
	threshold *big.Int
}

// epochInfo is what the lottery of one epoch needs: the nonce and the
// stake distribution, both taken from blocks settled before the epoch.
type epochInfo struct {
	nonce   [32]byte
	holders map[account.Address]*stakeholder
	total   uint64
	// settled: every block the nonce and the stake come from is final
	// here. Until then a block this node finds invalid may only be one
	// it cannot judge yet, and its sender is not blamed.
	settled bool
}

// epochs computes and caches epoch information from the host's canonical
// chain. Epoch e's stake is the validator set at the start of epoch e−2,
// after the last block before it (genesis for e < 2); its nonce is
// NextNonce(nonce(e−1), outputs of epoch e−1's blocks before its cut-off),
// with nonce(0) = GenesisNonce. An epoch is cached (and its nonce stored)
// only once the blocks it depends on are final, so a reorg of the tail
// never leaves a stale schedule behind.
type epochs struct {
	p       leader.Params
	chain   hostv1.ChainClient
	store   *sdk.Store // nil in tests without a store
	genesis [32]byte

	mu     sync.Mutex
	cached map[uint64]*epochInfo
	nonces map[uint64][32]byte
}

func newEpochs(p leader.Params, c hostv1.ChainClient, st *sdk.Store, genesis [32]byte) *epochs {
	return &epochs{p: p, chain: c, store: st, genesis: genesis, cached: map[uint64]*epochInfo{}, nonces: map[uint64][32]byte{}}
}

// dataAt is the consensus data of the canonical block at height ≥ 1.
func (e *epochs) dataAt(ctx context.Context, height uint64) (leader.BlockData, error) {
	r, err := e.chain.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: height}}})
	if err != nil {
		return leader.BlockData{}, fmt.Errorf("block %d: %w", height, err)
	}
	d, err := leader.DecodeBlockData(r.GetBlock().GetHeader().GetConsensusData())
	if err != nil {
		return d, fmt.Errorf("block %d: %w", height, err)
	}
	return d, nil
}

// slotAt is the slot of the canonical block at height (0 for genesis).
func (e *epochs) slotAt(ctx context.Context, height uint64) (uint64, error) {
	if height == 0 {
		return 0, nil
	}
	d, err := e.dataAt(ctx, height)
	return d.Slot, err
}

// firstAtOrAfter is the lowest canonical height in [1, top] whose slot is
// at least slot, or top+1 when none is.
func (e *epochs) firstAtOrAfter(ctx context.Context, slot, top uint64) (uint64, error) {
	lo, hi := uint64(1), top+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		s, err := e.slotAt(ctx, mid)
		if err != nil {
			return 0, err
		}
		if s >= slot {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// heads are the host's head and final heights and the final block's slot.
type heads struct{ head, final, finalSlot uint64 }

func (e *epochs) heads(ctx context.Context) (heads, error) {
	r, err := e.chain.Head(ctx, &hostv1.HeadRequest{})
	if err != nil {
		return heads{}, fmt.Errorf("head: %w", err)
	}
	h := heads{head: r.GetHead().GetHeader().GetHeight(), final: r.GetFinalized().GetHeader().GetHeight()}
	if h.final > 0 {
		d, err := leader.DecodeBlockData(r.GetFinalized().GetHeader().GetConsensusData())
		if err != nil {
			return h, fmt.Errorf("final block %d: %w", h.final, err)
		}
		h.finalSlot = d.Slot
	}
	return h, nil
}

// get returns epoch ep's information.
func (e *epochs) get(ctx context.Context, ep uint64) (*epochInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if in, ok := e.cached[ep]; ok {
		return in, nil
	}
	hs, err := e.heads(ctx)
	if err != nil {
		return nil, err
	}
	nonce, err := e.nonce(ctx, ep, hs)
	if err != nil {
		return nil, err
	}
	var snap uint64 // the stake snapshot's height: the last block before epoch ep−2
	if ep >= 2 {
		first, err := e.firstAtOrAfter(ctx, (ep-2)*e.p.EpochSlots, hs.head)
		if err != nil {
			return nil, err
		}
		snap = first - 1
	}
	r, err := e.chain.ValidatorSet(ctx, &hostv1.ValidatorSetRequest{Height: snap})
	if err != nil {
		return nil, fmt.Errorf("validator set at %d: %w", snap, err)
	}
	in := &epochInfo{nonce: nonce, holders: map[account.Address]*stakeholder{}, total: r.GetSet().GetTotalStake()}
	// A threshold depends only on the stake (and the total): computed once
	// per distinct stake, not per validator (a thousand equal stakes are
	// one big-float computation, not a thousand).
	ths := map[uint64]*big.Int{}
	for _, v := range r.GetSet().GetValidators() {
		a, err := account.AddressFromBytes(v.GetAddress())
		if err != nil {
			return nil, fmt.Errorf("validator set at %d: %w", snap, err)
		}
		pk, err := keys.get(v.GetBlsPublicKey())
		if err != nil || v.GetStake() == 0 || in.total == 0 {
			continue // cannot lead: the ledger checked the key at staking
		}
		th, ok := ths[v.GetStake()]
		if !ok {
			if th, err = leader.Threshold(e.p.Active, v.GetStake(), in.total); err != nil {
				return nil, fmt.Errorf("threshold of %s: %w", a, err)
			}
			ths[v.GetStake()] = th
		}
		in.holders[a] = &stakeholder{pk: pk, stake: v.GetStake(), threshold: th}
	}
	in.settled = (ep < 2 || hs.finalSlot >= (ep-2)*e.p.EpochSlots) && (ep == 0 || hs.finalSlot >= e.p.NonceCutoff(ep-1))
	if in.settled {
		e.cached[ep] = in
	}
	return in, nil
}

// nonce returns epoch ep's nonce; e.mu is held.
func (e *epochs) nonce(ctx context.Context, ep uint64, hs heads) ([32]byte, error) {
	if ep == 0 {
		return leader.GenesisNonce(e.genesis), nil
	}
	if n, ok := e.nonces[ep]; ok {
		return n, nil
	}
	key := binary.BigEndian.AppendUint64([]byte("nonce/"), ep)
	if e.store != nil {
		if v, err := e.store.Get(ctx, key); err == nil && len(v) == 32 {
			var n [32]byte
			copy(n[:], v)
			e.nonces[ep] = n
			return n, nil
		}
	}
	prev, err := e.nonce(ctx, ep-1, hs)
	if err != nil {
		return prev, err
	}
	from, cut := (ep-1)*e.p.EpochSlots, e.p.NonceCutoff(ep-1)
	h, err := e.firstAtOrAfter(ctx, from, hs.head)
	if err != nil {
		return prev, err
	}
	var outs []leader.Output
	for ; h <= hs.head; h++ {
		d, err := e.dataAt(ctx, h)
		if err != nil {
			return prev, err
		}
		if d.Slot >= cut {
			break
		}
		sig, err := bls.SignatureFromBytes(d.Proof[:])
		if err != nil {
			return prev, fmt.Errorf("block %d: leader proof: %w", h, err)
		}
		outs = append(outs, leader.OutputOf(sig))
	}
	n := leader.NextNonce(prev, outs)
	if hs.finalSlot >= cut { // every contributing block is final
		e.nonces[ep] = n
		if e.store != nil {
			if err := e.store.Put(ctx, key, n[:]); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
