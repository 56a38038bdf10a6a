package bft

import (
	"bytes"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Messages in, the round rules of the Tendermint paper, and decisions.

// onInbound routes a decoded message by height.
func (e *engine) onInbound(in *inbound) {
	var h uint64
	switch x := in.msg.(type) {
	case *Vote:
		h = x.Height
	case *Proposal:
		h = x.Height
	case *Commit:
		c, err := DecodeCertificate(x.Certificate)
		if err != nil {
			e.report(in.from, in.id, err.Error())
			return
		}
		h = c.Height
	}
	switch {
	case e.vals == nil || h > e.h:
		if h > e.h && h <= e.h+maxAhead {
			e.buffer(in)
		}
		return
	case h < e.h:
		e.helpLagging(in, h)
		return
	}
	if e.waiting {
		// Another node had something to include: take part.
		e.wake("a peer started the height")
	}
	switch x := in.msg.(type) {
	case *Vote:
		e.onVote(in, x)
	case *Proposal:
		e.onProposal(in, x)
	case *Commit:
		e.onCommit(in, x)
	}
	e.progress()
}

func (e *engine) buffer(in *inbound) {
	if len(e.future) >= maxFuture || e.futureBytes+in.size > maxFutureBytes {
		return
	}
	e.future = append(e.future, in)
	e.futureBytes += in.size
}

func (e *engine) replayFuture() {
	old := e.future
	e.future, e.futureBytes = nil, 0
	for _, in := range old {
		e.onInbound(in)
	}
}

// helpLagging sends the last decision straight to a peer that is still
// on that height in a later round than the one that decided it: late votes
// of the deciding round are normal and need no help. The decision carries
// the whole block, so it goes to that peer only, at most once per vote
// timeout (a direct send can be lost too), never by gossip (sixteen validators re-gossiping every block cost ~25 MB per node
// per block). Peers further behind catch up through the host's sync.
func (e *engine) helpLagging(in *inbound, h uint64) {
	if e.lastCommit == nil || h+1 != e.h || in.from == "" {
		return
	}
	var r uint32
	switch x := in.msg.(type) {
	case *Vote:
		r = x.Round
	case *Proposal:
		r = x.Round
	default:
		return
	}
	c, err := DecodeCertificate(e.lastCommit.Certificate)
	if err != nil || r <= c.Round {
		return
	}
	if e.commitSent != h {
		e.commitSent, e.helped = h, map[string]time.Time{}
	}
	// Once per vote timeout per peer, not once: the first may be lost.
	if last, ok := e.helped[in.from]; ok && e.clk.Now().Sub(last) < max(e.cfg.TimeoutVote, 50*time.Millisecond) {
		return
	}
	e.helped[in.from] = e.clk.Now()
	ctx, cancel := e.call()
	defer cancel()
	if _, err := e.svc.Network.Send(ctx, &hostv1.SendRequest{Peer: in.from, Topic: TopicProposal, Data: e.lastCommit.Encode()}); err != nil {
		e.log.Debug("sending the last decision to a lagging peer", "peer", in.from, "height", h, "error", err)
	}
}

func (e *engine) onVote(in *inbound, v *Vote) {
	i, ok := e.vals.Index(v.Validator)
	if !ok {
		e.report(in.from, in.id, fmt.Sprintf("vote from %s, not a validator at height %d", v.Validator, e.h))
		return
	}
	if in.checked != e.vals {
		if err := e.verifyVote(e.vals, v); err != nil {
			e.report(in.from, in.id, err.Error())
			return
		}
	}
	e.votesSeen++
	e.addVote(v, i)
}

// addVote counts a verified vote; a second, different vote of the same
// validator for the same slot is evidence.
func (e *engine) addVote(v *Vote, i int) {
	rs := e.round(v.Round)
	vs := rs.prevotes
	if v.Step == vote.StepPrecommit {
		vs = rs.precommits
	}
	if old, ok := vs.votes[i]; ok {
		if !bytes.Equal(old.BlockHash, v.BlockHash) {
			e.equivocation(v.Validator, old.SignMessage(e.cfg.ChainID), old.Signature[:], v.SignMessage(e.cfg.ChainID), v.Signature[:])
		}
		return
	}
	st := e.vals.Validators[i].Stake
	vs.votes[i] = v
	vs.stake[string(v.BlockHash)] += st
	vs.total += st
	rs.addSender(i, st)
}

func (e *engine) onProposal(in *inbound, p *Proposal) {
	pi := e.proposerOf(p.Round)
	if in.checked != e.vals {
		if err := e.verifyProposal(e.vals, p); err != nil {
			e.report(in.from, in.id, err.Error())
			return
		}
	}
	if old := e.proposals[p.Round]; old != nil {
		if old.BlockHash != p.BlockHash || old.POLRound != p.POLRound {
			e.equivocation(e.vals.Validators[pi].Address, old.SignMessage(e.cfg.ChainID), old.Signature[:], p.SignMessage(e.cfg.ChainID), p.Signature[:])
			return
		}
		if old.Block != nil {
			return
		}
	}
	e.proposals[p.Round] = p
	bd := e.blocks[p.BlockHash]
	if bd == nil {
		bd = &blockData{hash: p.BlockHash}
		e.blocks[p.BlockHash] = bd
	}
	if bd.encoded == nil {
		bd.encoded, bd.from, bd.msgID = p.Block, in.from, in.id
	}
	e.round(p.Round).addSender(pi, e.vals.Validators[pi].Stake)
}

// onCommit decides the height from a certificate and block a peer sent.
func (e *engine) onCommit(in *inbound, c *Commit) {
	if e.step == stepCommit {
		return
	}
	cert, _ := DecodeCertificate(c.Certificate) // decoded in onInbound
	if err := cert.Verify(e.cfg.ChainID, e.vals); err != nil {
		e.report(in.from, in.id, err.Error())
		return
	}
	bd := e.blocks[cert.BlockHash]
	if bd == nil {
		bd = &blockData{hash: cert.BlockHash}
		e.blocks[cert.BlockHash] = bd
	}
	if bd.encoded == nil {
		bd.encoded, bd.from, bd.msgID = c.Block, in.from, in.id
	}
	if !e.isValid(bd) {
		return
	}
	e.decide(cert, bd)
}

// isValid is valid(v) of the paper: the host re-executes the block, and
// the engine checks its height, parent and the parent's certificate.
func (e *engine) isValid(bd *blockData) bool {
	if bd == nil {
		return false
	}
	if bd.checked {
		return bd.valid
	}
	if bd.encoded == nil {
		return false
	}
	ctx, cancel := e.call()
	r, err := e.svc.Chain.ValidateBlock(ctx, &hostv1.ValidateBlockRequest{Encoded: bd.encoded})
	cancel()
	if err != nil {
		bd.fails++
		if bd.fails >= 3 {
			bd.checked, bd.reason = true, err.Error()
		}
		e.log.Warn("validate block", "height", e.h, "error", err)
		return false
	}
	bd.checked = true
	reason := ""
	if !r.GetValid() {
		reason = r.GetReason()
	} else {
		reason = e.checkHeader(bd, r.GetBlock())
	}
	if reason != "" {
		bd.reason = reason
		e.log.Info("invalid block proposed", "height", e.h, "hash", fmt.Sprintf("%x", bd.hash), "reason", reason)
		e.report(bd.from, bd.msgID, "invalid block: "+reason)
		return false
	}
	bd.valid = true
	return true
}

func (e *engine) checkHeader(bd *blockData, b *hostv1.Block) string {
	hd := b.GetHeader()
	switch {
	case !bytes.Equal(b.GetHash(), bd.hash[:]):
		return fmt.Sprintf("block hashes to %x, not %x", b.GetHash(), bd.hash)
	case hd.GetHeight() != e.h:
		return fmt.Sprintf("block at height %d, deciding %d", hd.GetHeight(), e.h)
	case !bytes.Equal(hd.GetParentHash(), e.parent.GetHash()):
		return fmt.Sprintf("parent %x is not the final block %x", hd.GetParentHash(), e.parent.GetHash())
	}
	if a := hd.GetProposer(); len(a) != account.AddressSize {
		return "no proposer"
	} else if _, ok := e.vals.Index(account.Address(a)); !ok {
		return fmt.Sprintf("proposer %x is not a validator", a)
	}
	if err := e.checkParentCert(hd.GetConsensusData()); err != nil {
		return err.Error()
	}
	return ""
}

// checkParentCert checks that cd is a certificate of the parent.
func (e *engine) checkParentCert(cd []byte) error {
	if e.h == 1 {
		if len(cd) != 0 {
			return fmt.Errorf("%w: the first block carries consensus data", ErrCertificateRejected)
		}
		return nil
	}
	if len(cd) > 0 && bytes.Equal(cd, e.parentCert) {
		return nil // checked when this node decided or synced the parent
	}
	c, err := DecodeCertificate(cd)
	if err != nil {
		return fmt.Errorf("consensus data: %w", err)
	}
	if c.Height != e.h-1 || !bytes.Equal(c.BlockHash[:], e.parent.GetHash()) {
		return fmt.Errorf("%w: consensus data certifies %x at %d, not the parent", ErrCertificateRejected, c.BlockHash, c.Height)
	}
	if err := c.Verify(e.cfg.ChainID, e.prevVals); err != nil {
		return fmt.Errorf("consensus data: %w", err)
	}
	if len(e.parentCert) == 0 {
		e.parentCert = cd
	}
	return nil
}

// progress applies the paper's upon-rules until none fires.
func (e *engine) progress() {
	for e.vals != nil && e.step != stepCommit && e.step != 0 && e.ctx.Err() == nil {
		if !e.rule() {
			return
		}
	}
}

// rule applies the first upon-rule that fires and reports whether one did.
func (e *engine) rule() bool {
	total := e.vals.Total
	// Decision (paper line 49), in any round.
	for rr, rs := range e.rounds {
		for hs, st := range rs.precommits.stake {
			if hs == "" || !Quorum(st, total) {
				continue
			}
			bd := e.blocks[[vote.HashSize]byte([]byte(hs))]
			if bd == nil || !e.isValid(bd) {
				continue
			}
			sigs := make(map[int][]byte)
			for i, v := range rs.precommits.votes {
				if bytes.Equal(v.BlockHash, bd.hash[:]) {
					sigs[i] = v.Signature[:]
				}
			}
			cert, err := aggregate(e.h, rr, bd.hash[:], len(e.vals.Validators), sigs, e.dec)
			if err != nil {
				e.log.Error("aggregate precommits", "error", err)
				continue
			}
			e.decide(cert, bd)
			return true
		}
	}
	// Round skip (line 55): more than a third of the stake is in a later round.
	var skip uint32
	for rr, rs := range e.rounds {
		if rr > e.r && rr > skip && oneThird(rs.senderStake, total) {
			skip = rr
		}
	}
	if skip > 0 {
		e.startRound(skip)
		return true
	}
	rs := e.round(e.r)
	p := e.proposals[e.r]
	var bd *blockData
	if p != nil {
		bd = e.blocks[p.BlockHash]
	}
	// Lines 22 and 28: prevote on the proposal.
	if e.step == stepPropose && p != nil {
		if p.POLRound < 0 {
			ok := e.isValid(bd) && (e.lockedRound < 0 || bytes.Equal(e.lockedHash, p.BlockHash[:]))
			e.step = stepPrevote
			e.prevote(ok, p)
			return true
		}
		if pol := e.rounds[uint32(p.POLRound)]; pol != nil && Quorum(pol.prevotes.stake[string(p.BlockHash[:])], total) {
			ok := e.isValid(bd) && (e.lockedRound <= p.POLRound || bytes.Equal(e.lockedHash, p.BlockHash[:]))
			e.step = stepPrevote
			e.prevote(ok, p)
			return true
		}
	}
	// Line 34: any 2f+1 prevotes start the prevote timeout.
	if e.step == stepPrevote && Quorum(rs.prevotes.total, total) && !e.fired[fire{e.r, ruleTimeoutPrevote}] {
		e.fired[fire{e.r, ruleTimeoutPrevote}] = true
		e.after(e.cfg.voteTimeout(e.r), timeoutEvent{e.h, e.r, stepPrevote})
		return true
	}
	// Line 36: a polka for the proposal locks it.
	if p != nil && e.step >= stepPrevote && !e.fired[fire{e.r, rulePolka}] &&
		Quorum(rs.prevotes.stake[string(p.BlockHash[:])], total) && e.isValid(bd) {
		e.fired[fire{e.r, rulePolka}] = true
		e.validRound, e.validHash = int32(e.r), p.BlockHash[:]
		if e.step == stepPrevote {
			e.lockedRound, e.lockedHash = int32(e.r), p.BlockHash[:]
			e.precommit(p.BlockHash[:])
		}
		return true
	}
	// Line 44: a polka for nil.
	if e.step == stepPrevote && Quorum(rs.prevotes.stake[""], total) {
		e.precommit(nil)
		return true
	}
	// Line 47: any 2f+1 precommits start the precommit timeout.
	if Quorum(rs.precommits.total, total) && !e.fired[fire{e.r, ruleTimeoutPrecommit}] {
		e.fired[fire{e.r, ruleTimeoutPrecommit}] = true
		e.after(e.cfg.voteTimeout(e.r), timeoutEvent{e.h, e.r, stepPrecommit})
		return true
	}
	return false
}

func (e *engine) prevote(ok bool, p *Proposal) {
	if ok {
		e.castVote(vote.StepPrevote, p.BlockHash[:])
	} else {
		e.castVote(vote.StepPrevote, nil)
	}
	// Not in the paper: if prevotes are lost, 2f+1 of them may never
	// arrive and line 34 never fires; a timeout only costs a round.
	if !e.fired[fire{e.r, ruleFallbackPrevote}] {
		e.fired[fire{e.r, ruleFallbackPrevote}] = true
		e.after(e.cfg.voteTimeout(e.r)+e.cfg.proposeTimeout(e.r), timeoutEvent{e.h, e.r, stepPrevote})
	}
}

// precommit moves to the precommit step and casts the precommit for hash
// (nil: for nil). Not in the paper: it also arms the precommit timeout,
// whatever rule precommitted. Precommits are sent once; if a partition
// loses them, 2f+1 never arrive, line 47 never fires, and without this
// timer the node would wait in this round forever, even after the network
// heals. A timeout costs a round; waiting costs the chain.
func (e *engine) precommit(hash []byte) {
	e.step = stepPrecommit
	e.castVote(vote.StepPrecommit, hash)
	if !e.fired[fire{e.r, ruleFallbackPrecommit}] {
		e.fired[fire{e.r, ruleFallbackPrecommit}] = true
		e.after(e.cfg.voteTimeout(e.r)+e.cfg.proposeTimeout(e.r), timeoutEvent{e.h, e.r, stepPrecommit})
	}
}

func (e *engine) onTimeout(t timeoutEvent) {
	if t.h != e.h || t.r != e.r || e.vals == nil {
		return
	}
	switch {
	case t.step == stepPropose && e.step == stepPropose:
		e.metrics.count("bft_timeouts_total", "propose")
		e.step = stepPrevote
		e.castVote(vote.StepPrevote, nil)
		if !e.fired[fire{e.r, ruleFallbackPrevote}] {
			e.fired[fire{e.r, ruleFallbackPrevote}] = true
			e.after(e.cfg.voteTimeout(e.r)+e.cfg.proposeTimeout(e.r), timeoutEvent{e.h, e.r, stepPrevote})
		}
	case t.step == stepPrevote && e.step == stepPrevote:
		e.metrics.count("bft_timeouts_total", "prevote")
		e.precommit(nil)
	case t.step == stepPrecommit && e.step != stepCommit:
		e.metrics.count("bft_timeouts_total", "precommit")
		e.startRound(e.r + 1)
	default:
		return
	}
	e.progress()
}

// decide commits, heads and finalizes the block with its certificate.
func (e *engine) decide(cert *Certificate, bd *blockData) {
	e.step = stepCommit
	e.lastCommit = &Commit{Certificate: cert.Encode(), Block: bd.encoded}
	e.log.Debug("decided", "height", e.h, "round", cert.Round, "hash", fmt.Sprintf("%x", bd.hash))
	if e.selfIdx >= 0 {
		if err := e.writeWAL(); err != nil {
			e.log.Warn("write-ahead log", "error", err)
		}
	}
	e.applyDecision()
}

func (e *engine) applyDecision() {
	c := e.lastCommit
	cert, _ := DecodeCertificate(c.Certificate)
	ctx, cancel := e.call()
	defer cancel()
	var blk *hostv1.Block
	r, err := e.svc.Chain.CommitBlock(ctx, &hostv1.CommitBlockRequest{Encoded: c.Block})
	if status.Code(err) == codes.AlreadyExists {
		err = nil
	}
	if err == nil {
		blk = r.GetBlock()
		if blk == nil {
			blk = &hostv1.Block{}
		}
		blk.Hash = cert.BlockHash[:]
		_, err = e.svc.Chain.SetHead(ctx, &hostv1.SetHeadRequest{Hash: cert.BlockHash[:]})
	}
	if err == nil {
		_, err = e.svc.Chain.Finalize(ctx, &hostv1.FinalizeRequest{Hash: cert.BlockHash[:], Certificate: c.Certificate})
	}
	if err != nil {
		if e.ctx.Err() != nil {
			return
		}
		e.setErr(fmt.Sprintf("apply decision at height %d: %v", e.h, err))
		e.log.Warn("apply decision; retrying", "height", e.h, "error", err)
		e.after(max(e.cfg.BlockInterval, 100*time.Millisecond), retryEvent{h: e.h})
		return
	}
	if blk.Header == nil {
		blk.Header = &hostv1.Header{Height: e.h}
	}
	e.final = e.h
	e.metrics.observe("bft_decision_seconds", e.clk.Now().Sub(e.heightStart).Seconds())
	e.metrics.set("bft_final_height", float64(e.h))
	e.after(e.cfg.BlockInterval, nextHeightEvent{parent: blk, cert: c.Certificate})
}
