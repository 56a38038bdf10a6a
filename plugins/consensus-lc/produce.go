package lc

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// runSlots wakes at the start of every slot and, on a validator, draws
// the slot's ticket and proposes when it leads. Time is the host clock's.
func (e *engine) runSlots(ctx context.Context) {
	for ctx.Err() == nil {
		slot, err := e.tick(ctx)
		if err != nil {
			e.fail("clock", err)
			e.sleep(ctx, time.Second)
			continue
		}
		// Sleep to the next slot's start on the host clock.
		next := e.slotStart(slot + 1)
		sctx, cancel := context.WithTimeout(ctx, time.Duration(e.p.SlotMs)*time.Millisecond*2)
		e.sleep(sctx, time.Duration(next-e.svc.time.Now().UnixMilli())*time.Millisecond)
		cancel()
	}
}

// tick runs the slot that has started on the engine's clock, once: it
// draws the slot's ticket and leads when it wins. It returns the slot.
func (e *engine) tick(ctx context.Context) (uint64, error) {
	cctx, cancel := e.call()
	nowMs, err := e.now(cctx)
	cancel()
	if err != nil {
		return 0, err
	}
	slot := uint64(0)
	if nowMs >= e.genMs {
		slot = uint64(nowMs-e.genMs) / uint64(e.p.SlotMs)
	}
	e.mu.Lock()
	fresh := slot > e.slot
	if fresh {
		e.slot = slot
	}
	e.mu.Unlock()
	if fresh && slot > 0 {
		e.work.Lock()
		err := e.slotStarted(ctx, slot)
		e.work.Unlock()
		if err != nil && ctx.Err() == nil {
			e.fail(fmt.Sprintf("slot %d", slot), err)
		} else if err == nil {
			e.clearErr()
		}
	}
	return slot, nil
}

// sleep waits d on the engine's clock, or until ctx ends.
func (e *engine) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-e.svc.time.After(d):
	}
}

func (e *engine) fail(what string, err error) {
	e.mu.Lock()
	e.n.lastErr = what + ": " + err.Error()
	e.mu.Unlock()
	e.log.Warn(what, "error", err)
}

// slotStarted takes the head block sync may have moved, keeps k-deep
// finality current, and leads when this node is a validator.
func (e *engine) slotStarted(ctx context.Context, slot uint64) error {
	cctx, cancel := e.call()
	defer cancel()
	if err := e.refresh(cctx); err != nil {
		return err
	}
	e.finalize(cctx)
	if e.svc.signer == nil {
		return nil
	}
	return e.lead(ctx, slot)
}

func (e *engine) clearErr() {
	e.mu.Lock()
	e.n.lastErr = ""
	e.mu.Unlock()
}

// lead draws the slot's ticket and, when it wins, builds a block on the
// head, signs it, stores it, makes it the head and gossips it.
func (e *engine) lead(ctx context.Context, slot uint64) error {
	cctx, cancel := e.call()
	defer cancel()
	in, err := e.ep.get(cctx, e.p.Epoch(slot))
	if err != nil {
		return fmt.Errorf("epoch %d: %w", e.p.Epoch(slot), err)
	}
	sh, ok := in.holders[e.self]
	if !ok {
		return nil // no stake this epoch
	}
	r, err := e.svc.signer.SignLeaderProof(cctx, &hostv1.SignLeaderProofRequest{EpochSeed: in.nonce[:], Slot: slot})
	if err != nil {
		return fmt.Errorf("leader proof: %w", err)
	}
	proof, err := bls.SignatureFromBytes(r.GetSignature())
	if err != nil {
		return fmt.Errorf("leader proof from the host: %w", err)
	}
	out, err := leader.Verify(sh.pk, in.nonce[:], slot, proof)
	if err != nil {
		return fmt.Errorf("the host's leader proof does not verify with our key: %w", err)
	}
	if !leader.Leads(out, sh.threshold) {
		return nil
	}
	e.mu.Lock()
	parent := e.head
	e.mu.Unlock()
	if parent.Slot >= slot {
		return nil
	}
	d := leader.BlockData{Slot: slot}
	copy(d.Proof[:], r.GetSignature())
	b, err := e.svc.chain.BuildBlock(cctx, &hostv1.BuildBlockRequest{ParentHash: parent.Hash[:], TimestampMs: e.slotStart(slot),
		Proposer: e.self[:], ConsensusData: d.Encode()})
	if err != nil {
		return fmt.Errorf("build on %d: %w", parent.Height, err)
	}
	blk, err := block.Decode(b.GetBlock().GetEncoded())
	if err != nil {
		return fmt.Errorf("the host built an undecodable block: %w", err)
	}
	m := leader.BlockMessage(e.chainID, slot, blk.Header.Height, leader.UnsignedHash(blk.Header, d))
	sr, err := e.svc.signer.SignConsensus(cctx, &hostv1.SignConsensusRequest{Height: slot, Step: hostv1.SignConsensusRequest_STEP_BLOCK,
		BlockHash: m.BlockHash, Extra: m.Extra})
	if isCode(err, codes.FailedPrecondition) {
		return nil // signed another block for this slot before a restart
	}
	if err != nil {
		return fmt.Errorf("sign block: %w", err)
	}
	copy(d.Sig[:], sr.GetSignature())
	blk.Header.ConsensusData = d.Encode()
	enc := blk.Encode()
	e.mu.Lock()
	e.n.produced++
	e.mu.Unlock()
	if _, err := e.accept(ctx, enc, ""); err != nil {
		return fmt.Errorf("own block at %d: %w", blk.Header.Height, err)
	}
	if _, err := e.svc.net.Publish(cctx, &hostv1.PublishRequest{Topic: TopicBlock, Data: enc}); err != nil {
		return fmt.Errorf("gossip block %d: %w", blk.Header.Height, err)
	}
	e.log.Debug("led", "slot", slot, "height", blk.Header.Height, "txs", len(blk.Txs))
	return nil
}

// signedMessage is the signed message and signature of a header.
func signedMessage(hd *block.Header) (vote.Message, []byte, error) {
	d, err := leader.DecodeBlockData(hd.ConsensusData)
	if err != nil {
		return vote.Message{}, nil, err
	}
	return leader.BlockMessage(hd.ChainID, d.Slot, hd.Height, leader.UnsignedHash(*hd, d)), d.Sig[:], nil
}

// subscribe streams a topic into handle until ctx ends, resubscribing
// after errors.
func (e *engine) subscribe(ctx context.Context, topic string, ready chan<- struct{}, handle func(*hostv1.NetworkMessage)) {
	once := false
	for ctx.Err() == nil {
		st, err := e.svc.net.Subscribe(ctx, &hostv1.SubscribeRequest{Topic: topic})
		if err == nil {
			_, err = st.Header() // the host sends it once the subscription is live
		}
		if !once {
			once = true
			close(ready)
		}
		if err != nil {
			e.fail("subscribe "+topic, err)
			e.sleep(ctx, time.Second)
			continue
		}
		for {
			msg, err := st.Recv()
			if err != nil {
				break
			}
			handle(msg)
		}
	}
}
