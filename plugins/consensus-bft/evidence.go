package bft

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// Double-sign evidence, status, and the caches of validator sets and
// certificates.

// equivocation builds evidence from two validly signed conflicting
// messages, gossips it and hands it to the host.
func (e *engine) equivocation(who account.Address, a vote.Message, sigA []byte, b vote.Message, sigB []byte) {
	ev, err := vote.NewEvidence(who, a, sigA, b, sigB)
	if err != nil {
		e.log.Warn("evidence", "error", err)
		return
	}
	enc := ev.Encode()
	if !e.firstEvidence(enc) {
		return
	}
	e.log.Warn("validator signed two conflicting messages", "validator", who, "height", a.Height, "round", a.Round, "step", a.Step)
	e.publish(TopicEvidence, enc)
	e.reportEvidence(enc)
}

func (e *engine) firstEvidence(enc []byte) bool {
	k := sha256.Sum256(enc)
	e.vmu.Lock()
	defer e.vmu.Unlock()
	if _, ok := e.evSeen[k]; ok {
		return false
	}
	if len(e.evSeen) >= maxVerified {
		clear(e.evSeen)
	}
	e.evSeen[k] = struct{}{}
	return true
}

func (e *engine) evidenceSeen(enc []byte) bool {
	k := sha256.Sum256(enc)
	e.vmu.Lock()
	defer e.vmu.Unlock()
	_, ok := e.evSeen[k]
	return ok
}

func (e *engine) reportEvidence(enc []byte) {
	e.evidence.Add(1)
	ctx, cancel := e.call()
	defer cancel()
	if _, err := e.svc.Chain.ReportEvidence(ctx, &hostv1.ReportEvidenceRequest{Evidence: enc}); err != nil && status.Code(err) != codes.Unimplemented {
		e.log.Warn("report evidence", "error", err)
	}
}

// onEvidence checks gossiped evidence against the offender's key at its
// height and hands it to the host.
func (e *engine) onEvidence(m *hostv1.NetworkMessage) {
	ev, err := vote.DecodeEvidence(m.GetData())
	if err != nil {
		e.report(m.GetFrom(), m.GetId(), err.Error())
		return
	}
	if e.evidenceSeen(m.GetData()) {
		return
	}
	set, err := e.sets.get(e.ctx, ev.Height())
	if err != nil {
		e.log.Debug("evidence for a height without a validator set", "height", ev.Height(), "error", err)
		return
	}
	i, ok := set.Index(ev.Validator)
	if !ok || !set.Validators[i].KeyOK {
		e.report(m.GetFrom(), m.GetId(), "evidence against a non-validator")
		return
	}
	if err := ev.Verify(e.cfg.ChainID, set.Validators[i].Key); err != nil {
		e.report(m.GetFrom(), m.GetId(), err.Error())
		return
	}
	// Marked only now: evidence this node cannot check yet (a height
	// without a set) must not hide the same offence detected later.
	if e.firstEvidence(m.GetData()) {
		e.reportEvidence(m.GetData())
	}
}

func (e *engine) setErr(s string) {
	e.smu.Lock()
	e.snap.lastErr = s
	e.smu.Unlock()
}

func (e *engine) publishStatus() {
	s := snapshot{height: e.h, round: e.r, step: e.step, final: e.final, validator: e.selfIdx >= 0,
		roundsLast: uint64(e.maxRound) + 1, votes: e.votesSeen, waiting: e.waiting}
	if e.vals != nil && e.step != 0 {
		s.proposer = e.vals.Validators[e.proposerOf(e.r)].Address.String()
	}
	e.smu.Lock()
	s.lastErr = e.snap.lastErr
	e.snap = s
	e.smu.Unlock()
}

func (e *engine) status() snapshot {
	e.smu.Lock()
	defer e.smu.Unlock()
	return e.snap
}

// setCache keeps the validator sets of recent heights.
type setCache struct {
	chain hostv1.ChainClient
	mu    sync.Mutex
	m     map[uint64]*ValidatorSet
}

func newSetCache(c hostv1.ChainClient) *setCache {
	return &setCache{chain: c, m: make(map[uint64]*ValidatorSet)}
}

// get returns the set that decides height h: the set after block h-1.
func (c *setCache) get(ctx context.Context, h uint64) (*ValidatorSet, error) {
	if h == 0 {
		return nil, fmt.Errorf("%w: no set decides height 0", ErrValidatorSet)
	}
	c.mu.Lock()
	s := c.m[h]
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.chain.ValidatorSet(cctx, &hostv1.ValidatorSetRequest{Height: h - 1})
	if err != nil {
		return nil, err
	}
	if s, err = NewValidatorSet(r.GetSet()); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= 64 {
		clear(c.m)
	}
	c.m[h] = s
	c.mu.Unlock()
	return s, nil
}

// certStash keeps certificates VerifyBlock accepted, by block hash, so a
// block the host syncs and finalizes can be the parent of a proposal.
type certStash struct {
	mu    sync.Mutex
	m     map[[vote.HashSize]byte][]byte
	order [][vote.HashSize]byte
}

func newCertStash() *certStash { return &certStash{m: make(map[[vote.HashSize]byte][]byte)} }

func (s *certStash) put(h [vote.HashSize]byte, c []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; !ok {
		s.order = append(s.order, h)
	}
	s.m[h] = c
	for len(s.order) > 256 {
		delete(s.m, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *certStash) get(h [vote.HashSize]byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[h]
}
