package bft

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// A height's life: the loop, starting and resuming heights, proposing,
// signing and the write-ahead log.

// loop is the state machine's goroutine.
func (e *engine) loop(finalized *hostv1.Block, cert []byte) {
	e.startHeight(finalized, cert)
	for {
		select {
		case <-e.ctx.Done():
			return
		case ev := <-e.inbox:
			e.handle(ev)
		}
	}
}

func (e *engine) handle(ev any) {
	switch x := ev.(type) {
	case *inbound:
		e.onInbound(x)
	case timeoutEvent:
		e.onTimeout(x)
	case finalEvent:
		h := x.block.GetHeader().GetHeight()
		if h > e.final && h >= e.h && len(x.block.GetHash()) == vote.HashSize {
			e.log.Info("catching up to a block the host finalized", "height", h)
			cert, _ := e.certificateOf(x.block)
			e.startHeight(x.block, cert)
		}
	case nextHeightEvent:
		if x.parent.GetHeader().GetHeight() == e.h && e.step == stepCommit {
			e.startHeight(x.parent, x.cert)
		}
	case resendEvent:
		e.resend(x.h)
	case poolEvent:
		e.pool = x.size
		if x.size > 0 && e.waiting {
			e.wake("a transaction arrived")
		}
	case wakeEvent:
		if x.h == e.h && e.waiting {
			e.wake("empty_block_interval passed")
		}
	case retryEvent:
		if x.h == e.h {
			if e.vals == nil {
				e.startHeight(e.parent, e.parentCert)
			} else if e.step == stepCommit {
				e.applyDecision()
			}
		}
	}
	e.publishStatus()
}

// certificateOf finds the certificate of a final block: one VerifyBlock
// checked, the host's copy, or the one this node built.
func (e *engine) certificateOf(b *hostv1.Block) ([]byte, error) {
	if b.GetHeader().GetHeight() == 0 {
		return nil, nil
	}
	if c := b.GetCertificate(); len(c) > 0 {
		return c, nil
	}
	var h [vote.HashSize]byte
	copy(h[:], b.GetHash())
	if c := e.stash.get(h); c != nil {
		return c, nil
	}
	if e.lastCommit != nil {
		if c, err := DecodeCertificate(e.lastCommit.Certificate); err == nil && c.BlockHash == h {
			return e.lastCommit.Certificate, nil
		}
	}
	ctx, cancel := e.call()
	defer cancel()
	r, err := e.svc.Chain.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Hash{Hash: b.GetHash()}}})
	if err != nil {
		return nil, err
	}
	if c := r.GetBlock().GetCertificate(); len(c) > 0 {
		return c, nil
	}
	return nil, fmt.Errorf("no certificate for block %x at height %d", b.GetHash(), b.GetHeader().GetHeight())
}

// startHeight begins the height above parent, a final block.
func (e *engine) startHeight(parent *hostv1.Block, cert []byte) {
	h := parent.GetHeader().GetHeight() + 1
	vals, err := e.sets.get(e.ctx, h)
	var prev *ValidatorSet
	if err == nil && h >= 2 {
		prev, err = e.sets.get(e.ctx, h-1)
	}
	if err != nil {
		e.setErr(fmt.Sprintf("validator set for height %d: %v", h, err))
		e.log.Warn("cannot start height; retrying", "height", h, "error", err)
		e.h, e.parent, e.parentCert, e.vals, e.step = h, parent, cert, nil, 0
		e.after(max(e.cfg.BlockInterval, 100*time.Millisecond), retryEvent{h: h})
		return
	}
	if e.h != 0 && e.step != 0 {
		e.metrics.observe("bft_rounds_per_height", float64(e.maxRound+1))
	}
	e.h, e.r, e.step, e.waiting = h, 0, 0, false
	e.final = max(e.final, h-1)
	e.parent, e.parentCert = parent, cert
	e.vals, e.prevVals = vals, prev
	e.selfIdx = -1
	if e.validator {
		if i, ok := vals.Index(e.self); ok && vals.Validators[i].KeyOK {
			e.selfIdx = i
		}
	}
	e.lockedRound, e.lockedHash, e.validRound, e.validHash = -1, nil, -1, nil
	e.blocks = make(map[[vote.HashSize]byte]*blockData)
	e.proposals = make(map[uint32]*Proposal)
	e.rounds = make(map[uint32]*roundState)
	e.fired = make(map[fire]bool)
	oldBlocks := e.walBlocks
	e.walBlocks = make(map[[vote.HashSize]byte]bool)
	e.ownProps, e.ownVotes = nil, nil
	e.heightStart, e.maxRound, e.votesSeen = e.clk.Now(), 0, 0
	e.cur.Store(&view{height: h, set: vals})
	e.setErr("")

	if w := e.restored; w != nil && w.Height == h {
		e.restored = nil
		e.restore(w)
	} else {
		e.restored = nil
		if e.selfIdx >= 0 {
			var del [][vote.HashSize]byte
			for k := range oldBlocks {
				del = append(del, k)
			}
			if err := e.writeWAL(del...); err != nil {
				e.log.Warn("write-ahead log", "error", err)
			}
		}
		if wait := e.idleWait(); wait > 0 {
			e.waiting = true
			e.after(wait, wakeEvent{h: h})
		} else {
			e.startRound(0)
		}
	}
	if !e.waiting {
		e.after(e.resendInterval(), resendEvent{h: h})
	}
	e.replayFuture()
	e.progress()
}

// idleWait is how long this height waits for a transaction before round 0
// starts: zero unless EmptyBlockInterval is set and the host reports an
// empty mempool; otherwise what is left of EmptyBlockInterval after the
// parent's timestamp. Every node waits on its own mempool, which gossip
// fills for all of them within a round trip; a node whose mempool is still
// empty starts as soon as a proposal or vote of the height reaches it
// (onInbound), so a node's late mempool costs at most a round.
func (e *engine) idleWait() time.Duration {
	if e.cfg.EmptyBlockInterval <= 0 || e.pool != 0 {
		return 0
	}
	parent := time.UnixMilli(e.parent.GetHeader().GetTimestampMs())
	return parent.Add(e.cfg.EmptyBlockInterval).Sub(e.clk.Now())
}

// wake starts round 0 of a height that was waiting for a transaction.
func (e *engine) wake(why string) {
	e.waiting = false
	e.log.Debug("starting the height", "height", e.h, "why", why)
	e.startRound(0)
	e.after(e.resendInterval(), resendEvent{h: e.h})
}

// resendInterval is how long a height may go undecided before this node
// sends its messages of the current round again: the round's propose and
// vote timeouts together, what a round with a silent proposer takes, so a
// height that is merely slow (16 validators on two cores) sends nothing
// twice and only a stalled one pays for re-sending.
func (e *engine) resendInterval() time.Duration {
	return e.cfg.proposeTimeout(e.r) + e.cfg.voteTimeout(e.r)
}

// resend publishes again this node's proposal and votes of the current
// round, and re-arms itself, while the height is undecided. Gossip
// delivers each message once at most: a peer that was partitioned,
// paused or restarting when a vote went out never gets it, and if enough
// peers miss the same round, every node waits for votes nobody will send
// again. Re-sending makes progress independent of one-shot delivery, as
// CometBFT's per-peer vote gossip does; here each validator re-sends only
// its own messages (the one that could be missing and that only it can
// sign), peers drop the duplicates by signature, and the cost falls only
// on heights that are already late.
func (e *engine) resend(h uint64) {
	if h != e.h || e.vals == nil || e.step == stepCommit || e.selfIdx < 0 {
		return
	}
	n := 0
	if p := e.proposals[e.r]; p != nil && p.Block != nil && e.proposerOf(e.r) == e.selfIdx {
		e.publish(TopicProposal, p.Encode())
		n++
	}
	// Besides this round's votes: the prevotes behind the proposal's
	// proof-of-lock round and this node's own lock and valid value, which
	// a peer needs to accept a re-proposed block (paper line 28) and which
	// it may have missed in that earlier round.
	rounds := map[uint32]bool{e.r: true}
	if p := e.proposals[e.r]; p != nil && p.POLRound >= 0 {
		rounds[uint32(p.POLRound)] = true
	}
	for _, r := range []int32{e.lockedRound, e.validRound} {
		if r >= 0 {
			rounds[uint32(r)] = true
		}
	}
	for _, ov := range e.ownVotes {
		if rounds[ov.Round] && (ov.Round == e.r || ov.Step == vote.StepPrevote) {
			v := &Vote{Height: e.h, Round: ov.Round, Step: ov.Step, BlockHash: ov.BlockHash, Validator: e.self, Signature: ov.Signature}
			e.publish(TopicVote, v.Encode())
			n++
		}
	}
	if n > 0 {
		e.metrics.add("bft_resent_total", float64(n))
		e.log.Debug("height undecided; re-sent this round's messages", "height", e.h, "round", e.r, "messages", n)
	}
	e.after(e.resendInterval(), resendEvent{h: h})
}

// restore resumes a height from the write-ahead log after a restart.
func (e *engine) restore(w *walState) {
	e.log.Info("resuming from the write-ahead log", "height", w.Height, "round", w.Round, "step", w.Step, "locked_round", w.LockedRound)
	e.r, e.step = w.Round, w.Step
	if e.step == stepCommit {
		e.step = stepPrecommit // decided but not finalized: decide again
	}
	e.lockedRound, e.lockedHash = w.LockedRound, w.LockedHash
	e.validRound, e.validHash = w.ValidRound, w.ValidHash
	e.ownProps, e.ownVotes = w.Proposals, w.Votes
	load := func(h []byte) {
		if len(h) != vote.HashSize {
			return
		}
		var k [vote.HashSize]byte
		copy(k[:], h)
		if e.blocks[k] != nil {
			return
		}
		ctx, cancel := e.call()
		defer cancel()
		b, err := loadWALBlock(ctx, e.svc.Store, k)
		if err != nil || b == nil {
			return
		}
		e.blocks[k] = &blockData{hash: k, encoded: b}
		e.walBlocks[k] = true
	}
	load(e.lockedHash)
	load(e.validHash)
	for _, p := range w.Proposals {
		load(p.BlockHash[:])
		bd := e.blocks[p.BlockHash]
		prop := &Proposal{Height: e.h, Round: p.Round, POLRound: p.POLRound, BlockHash: p.BlockHash, Signature: p.Signature}
		if bd != nil {
			prop.Block = bd.encoded
		}
		e.proposals[p.Round] = prop
		if e.selfIdx >= 0 {
			e.round(p.Round).addSender(e.selfIdx, e.vals.Validators[e.selfIdx].Stake)
		}
		if p.Round == e.r && prop.Block != nil {
			e.publish(TopicProposal, prop.Encode())
		}
	}
	if e.selfIdx >= 0 {
		for _, ov := range w.Votes {
			v := &Vote{Height: e.h, Round: ov.Round, Step: ov.Step, BlockHash: ov.BlockHash, Validator: e.self, Signature: ov.Signature}
			e.addVote(v, e.selfIdx)
			if ov.Round == e.r {
				e.publish(TopicVote, v.Encode())
			}
		}
	}
	// Votes received before the restart are gone, so the rule that
	// schedules this step's timeout may never fire again: schedule it now.
	switch e.step {
	case stepPropose:
		e.after(e.cfg.proposeTimeout(e.r), timeoutEvent{e.h, e.r, stepPropose})
	case stepPrevote:
		e.fired[fire{e.r, ruleTimeoutPrevote}] = true
		e.after(e.cfg.voteTimeout(e.r), timeoutEvent{e.h, e.r, stepPrevote})
	default:
		e.fired[fire{e.r, ruleTimeoutPrecommit}] = true
		e.after(e.cfg.voteTimeout(e.r), timeoutEvent{e.h, e.r, stepPrecommit})
	}
}

func (e *engine) round(r uint32) *roundState {
	rs := e.rounds[r]
	if rs == nil {
		rs = &roundState{prevotes: newVoteSet(), precommits: newVoteSet(), senders: make(map[int]bool)}
		e.rounds[r] = rs
	}
	return rs
}

func (e *engine) proposerOf(r uint32) int { return e.vals.Proposer(e.cfg.ChainID, e.h, r) }

// startRound is StartRound of the Tendermint paper.
func (e *engine) startRound(r uint32) {
	e.r, e.step = r, stepPropose
	e.maxRound = max(e.maxRound, r)
	if e.selfIdx >= 0 && e.proposerOf(r) == e.selfIdx {
		if e.propose() {
			return
		}
	}
	e.after(e.cfg.proposeTimeout(r), timeoutEvent{e.h, r, stepPropose})
}

// "Every sequencer proves" needs nothing from the engine: each validator's
// host registers it as a prover, proves the jobs the market assigns to it
// and puts the proof transactions in its mempool; BuildBlock includes them
// and lists them in Header.Proofs, which Validate recomputes. So the
// proposer passes no proofs of its own (docs/market.md).

func (e *engine) now() time.Time { return e.clk.Now() }

// propose builds (or re-proposes) this round's block; false if it could
// not, so the round's propose timeout runs.
func (e *engine) propose() bool {
	for _, p := range e.ownProps { // signed before a restart: never sign another
		if p.Round == e.r {
			if pr := e.proposals[e.r]; pr != nil && pr.Block != nil {
				e.publish(TopicProposal, pr.Encode())
			}
			return false
		}
	}
	var bd *blockData
	pol := int32(-1)
	if e.validHash != nil {
		bd = e.blocks[[vote.HashSize]byte(e.validHash)]
		pol = e.validRound
		if bd == nil || bd.encoded == nil {
			e.log.Warn("cannot re-propose the valid block: its content is missing", "height", e.h, "round", e.r)
			return false
		}
	} else {
		if e.h > 1 && len(e.parentCert) == 0 {
			e.log.Warn("no certificate of the parent to include; not proposing", "height", e.h, "round", e.r)
			return false
		}
		var err error
		if bd, err = e.build(); err != nil {
			e.setErr(err.Error())
			e.log.Warn("build block", "height", e.h, "error", err)
			return false
		}
		e.blocks[bd.hash] = bd
	}
	p := &Proposal{Height: e.h, Round: e.r, POLRound: pol, BlockHash: bd.hash, Block: bd.encoded}
	sig, err := e.sign(vote.StepProposal, bd.hash[:], polExtra(pol))
	if err != nil {
		e.log.Warn("sign proposal", "height", e.h, "round", e.r, "error", err)
		return false
	}
	p.Signature = sig
	e.ownProps = append(e.ownProps, walProposal{Round: e.r, POLRound: pol, BlockHash: bd.hash, Signature: sig})
	if err := e.writeWAL(); err != nil {
		e.log.Error("write-ahead log; not sending the proposal", "error", err)
		return false
	}
	e.publish(TopicProposal, p.Encode())
	e.proposals[e.r] = p
	e.round(e.r).addSender(e.selfIdx, e.vals.Validators[e.selfIdx].Stake)
	e.metrics.put(&hostv1.Metric{Name: "bft_proposals_total", Type: hostv1.Metric_TYPE_COUNTER, Value: 1})
	return true
}

func (e *engine) build() (*blockData, error) {
	var maxGas uint64
	for try := 0; try < 6; try++ {
		ctx, cancel := e.call()
		r, err := e.svc.Chain.BuildBlock(ctx, &hostv1.BuildBlockRequest{
			ParentHash: e.parent.GetHash(), TimestampMs: e.now().UnixMilli(), MaxGas: maxGas,
			Proposer: e.self[:], ConsensusData: e.parentCert,
		})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("build block at height %d: %w", e.h, err)
		}
		b := r.GetBlock()
		if len(b.GetHash()) != vote.HashSize || len(b.GetEncoded()) == 0 {
			return nil, fmt.Errorf("build block at height %d: the host returned no hash or encoding", e.h)
		}
		if len(b.GetEncoded()) <= maxBlockBytes {
			bd := &blockData{encoded: b.GetEncoded(), checked: true, valid: true}
			copy(bd.hash[:], b.GetHash())
			return bd, nil
		}
		// Too large for one gossip message: ask for less gas.
		used := b.GetHeader().GetGasUsed()
		if used < 2 {
			break
		}
		maxGas = used / 2
	}
	return nil, fmt.Errorf("build block at height %d: no block fits in %d bytes", e.h, maxBlockBytes)
}

// errRefused is a signature the engine or the host refused to make
// because it would conflict with one already made.
var errRefused = errors.New("bft: refusing to sign a conflicting message")

func (e *engine) sign(st vote.Step, hash, extra []byte) ([bls.SignatureSize]byte, error) {
	var sig [bls.SignatureSize]byte
	req := &hostv1.SignConsensusRequest{Height: e.h, Round: e.r, Step: hostv1.SignConsensusRequest_Step(st), BlockHash: hash, Extra: extra}
	ctx, cancel := e.call()
	defer cancel()
	r, err := e.svc.Signer.SignConsensus(ctx, req)
	if status.Code(err) == codes.FailedPrecondition {
		return sig, fmt.Errorf("%w: %w", errRefused, err)
	}
	if err != nil {
		return sig, fmt.Errorf("sign %v at %d/%d: %w", st, e.h, e.r, err)
	}
	m := vote.Message{ChainID: e.cfg.ChainID, Height: e.h, Round: e.r, Step: st, BlockHash: hash, Extra: extra}
	if !bytes.Equal(r.GetSignBytes(), m.SignBytes()) {
		return sig, fmt.Errorf("sign %v at %d/%d: the host signed other bytes (is the chain id %q right?)", st, e.h, e.r, e.cfg.ChainID)
	}
	if len(r.GetSignature()) != bls.SignatureSize {
		return sig, fmt.Errorf("sign %v: signature of %d bytes", st, len(r.GetSignature()))
	}
	copy(sig[:], r.GetSignature())
	if e.vals != nil && e.selfIdx >= 0 && e.selfIdx < len(e.vals.Validators) && e.vals.Validators[e.selfIdx].KeyOK {
		e.remember(sigKey(e.vals.Validators[e.selfIdx].Key, m.SignBytes(), sig[:]))
	}
	return sig, nil
}

// castVote signs, logs and sends this node's vote for the current round
// and step. A validator that already signed the slot re-sends that vote
// and never signs another.
func (e *engine) castVote(st vote.Step, hash []byte) {
	if e.selfIdx < 0 {
		return
	}
	for _, ov := range e.ownVotes {
		if ov.Round == e.r && ov.Step == st {
			if !bytes.Equal(ov.BlockHash, hash) {
				e.log.Warn("not signing a conflicting vote", "height", e.h, "round", e.r, "step", st)
			}
			v := &Vote{Height: e.h, Round: e.r, Step: st, BlockHash: ov.BlockHash, Validator: e.self, Signature: ov.Signature}
			e.publish(TopicVote, v.Encode())
			return
		}
	}
	sig, err := e.sign(st, hash, nil)
	if err != nil {
		e.log.Warn("vote not signed", "height", e.h, "round", e.r, "step", st, "error", err)
		return
	}
	e.ownVotes = append(e.ownVotes, walVote{Round: e.r, Step: st, BlockHash: hash, Signature: sig})
	if err := e.writeWAL(); err != nil {
		e.log.Error("write-ahead log; not sending the vote", "error", err)
		return
	}
	v := &Vote{Height: e.h, Round: e.r, Step: st, BlockHash: hash, Validator: e.self, Signature: sig}
	e.publish(TopicVote, v.Encode())
	e.addVote(v, e.selfIdx)
}

// writeWAL persists the height's state and the blocks it refers to in one
// batch, deleting blocks of old heights.
func (e *engine) writeWAL(del ...[vote.HashSize]byte) error {
	if e.svc.Store == nil || e.selfIdx < 0 {
		return nil
	}
	w := &walState{Height: e.h, Round: e.r, Step: max(e.step, stepPropose), LockedRound: e.lockedRound, LockedHash: e.lockedHash,
		ValidRound: e.validRound, ValidHash: e.validHash, Proposals: e.ownProps, Votes: e.ownVotes}
	if len(w.Votes) > maxWALMessages {
		w.Votes = w.Votes[len(w.Votes)-maxWALMessages:]
	}
	if len(w.Proposals) > maxWALMessages {
		w.Proposals = w.Proposals[len(w.Proposals)-maxWALMessages:]
	}
	ops := []sdk.Op{{Key: walKeyState, Value: w.encode()}}
	var added [][vote.HashSize]byte
	want := [][]byte{e.lockedHash, e.validHash}
	for _, p := range e.ownProps {
		want = append(want, p.BlockHash[:])
	}
	for _, h := range want {
		if len(h) != vote.HashSize {
			continue
		}
		k := [vote.HashSize]byte(h)
		if bd := e.blocks[k]; bd != nil && bd.encoded != nil && !e.walBlocks[k] {
			ops = append(ops, sdk.Op{Key: walKeyBlock(k), Value: bd.encoded})
			added = append(added, k)
		}
	}
	for _, k := range del {
		ops = append(ops, sdk.Op{Key: walKeyBlock(k), Delete: true})
	}
	ctx, cancel := e.call()
	defer cancel()
	if err := e.svc.Store.Batch(ctx, ops); err != nil {
		return err
	}
	for _, k := range added {
		e.walBlocks[k] = true
	}
	return nil
}

func (e *engine) publish(topic string, data []byte) {
	ctx, cancel := e.call()
	defer cancel()
	if _, err := e.svc.Network.Publish(ctx, &hostv1.PublishRequest{Topic: topic, Data: data}); err != nil {
		e.log.Warn("publish", "topic", topic, "error", err)
	}
}
