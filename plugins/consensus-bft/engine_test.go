package bft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// checkSameChain checks every listed node finalized the same blocks up to
// h, each with a certificate that verifies.
func checkSameChain(t *testing.T, c *cluster, h uint64, nodes ...int) []*Certificate {
	t.Helper()
	set, err := NewValidatorSet(c.set)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*Certificate
	for height := uint64(1); height <= h; height++ {
		var want []byte
		for _, i := range nodes {
			r, err := c.node[i].chain.GetBlock(context.Background(), &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: height}}})
			if err != nil {
				t.Fatalf("node %d height %d: %v", i, height, err)
			}
			b := r.GetBlock()
			if want == nil {
				want = b.GetHash()
			} else if !bytes.Equal(want, b.GetHash()) {
				t.Fatalf("height %d: node %d has %x, node %d has %x", height, nodes[0], want, i, b.GetHash())
			}
			cert, err := DecodeCertificate(b.GetCertificate())
			if err != nil {
				t.Fatalf("node %d height %d certificate: %v", i, height, err)
			}
			if cert.Height != height || !bytes.Equal(cert.BlockHash[:], b.GetHash()) {
				t.Fatalf("node %d height %d: certificate for %d/%x", i, height, cert.Height, cert.BlockHash)
			}
			if err := cert.Verify(testChain, set); err != nil {
				t.Fatalf("node %d height %d: %v", i, height, err)
			}
			if i == nodes[0] {
				certs = append(certs, cert)
			}
			// Every block but the first carries its parent's certificate.
			if height > 1 {
				pc, err := DecodeCertificate(b.GetHeader().GetConsensusData())
				if err != nil || pc.Height != height-1 {
					t.Fatalf("height %d: consensus data is not the parent's certificate: %v", height, err)
				}
			}
		}
	}
	return certs
}

func TestDecisions(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	c.startAll(all(4)...)
	const heights = 15
	c.waitFinal(heights, all(4)...)
	checkSameChain(t, c, heights, all(4)...)
	for i, nd := range c.node {
		if _, refused := nd.signer.stats(); refused != 0 {
			t.Errorf("node %d: the signer refused %d conflicting messages", i, refused)
		}
		if r := c.net.reportsAbout(fmt.Sprintf("peer%d", i)); len(r) != 0 {
			t.Errorf("honest node %d was reported: %v", i, r)
		}
	}
}

func TestSilentProposer(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	set, _ := NewValidatorSet(c.set)
	silent := set.Proposer(testChain, 1, 0)
	silentName := fmt.Sprintf("peer%d", silent)
	c.net.drop = func(from, to, topic string, data []byte) bool {
		if from != silentName || topic != TopicProposal {
			return false
		}
		m, err := Decode(data)
		p, ok := m.(*Proposal)
		return err == nil && ok && p.Height == 1 && p.Round == 0
	}
	c.startAll(all(4)...)
	c.waitFinal(3, all(4)...)
	certs := checkSameChain(t, c, 3, all(4)...)
	if certs[0].Round == 0 {
		t.Fatalf("height 1 decided in round 0 although its proposer %d was silent", silent)
	}
}

func TestCatchUp(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	isolated := true
	c.net.drop = func(from, to, topic string, data []byte) bool {
		return isolatedNow(c, &isolated) && (from == "peer3" || to == "peer3")
	}
	c.startAll(all(4)...)
	c.waitFinal(3, 0, 1, 2)
	// While node 3 hears nothing, the host syncs final blocks into it: the
	// plugin can only learn of them from the Finalized events.
	for h := uint64(1); h <= 3; h++ {
		r, err := c.node[0].chain.GetBlock(context.Background(), &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: h}}})
		if err != nil {
			t.Fatal(err)
		}
		c.node[3].chain.sync(r.GetBlock(), r.GetBlock().GetCertificate())
	}
	for deadline := time.Now().Add(30 * time.Second); c.node[3].eng.status().height < 4; {
		if time.Now().After(deadline) {
			t.Fatalf("node 3 stayed at height %d after the host finalized 3", c.node[3].eng.status().height)
		}
		time.Sleep(2 * time.Millisecond)
	}
	c.net.mu.Lock()
	isolated = false
	c.net.mu.Unlock()
	// The host keeps syncing; the plugin rejoins the current height.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for h := c.node[3].chain.finalHeight() + 1; h <= c.node[0].chain.finalHeight(); h++ {
				r, err := c.node[0].chain.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: h}}})
				if err != nil {
					break
				}
				c.node[3].chain.sync(r.GetBlock(), r.GetBlock().GetCertificate())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	c.waitFinal(5, 3)
	cancel()
	<-done
	to := c.node[0].chain.finalHeight() + 4
	c.waitFinal(to, all(4)...)
	checkSameChain(t, c, to, all(4)...)
}

func isolatedNow(c *cluster, v *bool) bool {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	return *v
}

// script drives one engine (validator 0) with messages from the other
// validators, whose keys the test holds.
type script struct {
	t     *testing.T
	c     *cluster
	set   *ValidatorSet
	votes <-chan *hostv1.NetworkMessage
	props <-chan *hostv1.NetworkMessage
}

func newScript(t *testing.T) *script {
	cfg := testConfig()
	cfg.TimeoutPropose, cfg.TimeoutVote = time.Hour, time.Hour // only messages move the engine
	c := newCluster(t, 4, cfg)
	set, err := NewValidatorSet(c.set)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &script{t: t, c: c, set: set, votes: c.net.tap(ctx, TopicVote), props: c.net.tap(ctx, TopicProposal)}
}

func (s *script) send(topic string, data []byte) { s.c.net.publish("script", topic, data) }

func (s *script) proposer(r uint32) int { return s.set.Proposer(testChain, 1, r) }

// block makes a valid height-1 block, distinct per tag.
func (s *script) block(tag int64) ([]byte, []byte) {
	return encodeBlock(&hostv1.Header{ChainId: testChain, Height: 1, ParentHash: genesisHash, TimestampMs: 1000 + tag, Proposer: s.c.vals[1].addr[:]})
}

// expectVote waits for the engine's own vote in a slot.
func (s *script) expectVote(r uint32, st vote.Step) *Vote {
	s.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-s.votes:
			x, err := Decode(m.GetData())
			if v, ok := x.(*Vote); err == nil && ok && v.Validator == s.c.vals[0].addr && v.Height == 1 && v.Round == r && v.Step == st {
				return v
			}
		case <-timeout:
			s.t.Fatalf("no %v from the engine in round %d", st, r)
		}
	}
}

// laterRounds returns two rounds above 0 whose proposers are scripted.
func (s *script) laterRounds() (uint32, uint32) {
	var rs []uint32
	for r := uint32(1); len(rs) < 2; r++ {
		if s.proposer(r) != 0 {
			rs = append(rs, r)
		}
	}
	return rs[0], rs[1]
}

// lockOnB runs round 0 to the point where the engine has locked block B:
// it prevoted B, saw two more prevotes for B and precommitted B.
func (s *script) lockOnB() []byte {
	s.t.Helper()
	var bHash []byte
	if p := s.proposer(0); p == 0 {
		deadline := time.After(30 * time.Second)
		for bHash == nil {
			select {
			case m := <-s.props:
				if x, err := Decode(m.GetData()); err == nil {
					if pr, ok := x.(*Proposal); ok && pr.Round == 0 {
						bHash = pr.BlockHash[:]
					}
				}
			case <-deadline:
				s.t.Fatal("the engine did not propose in round 0")
			}
		}
	} else {
		enc, h := s.block(0)
		bHash = h
		s.send(TopicProposal, signProposal(s.c.vals[p], 1, 0, -1, enc, h).Encode())
	}
	if v := s.expectVote(0, vote.StepPrevote); !bytes.Equal(v.BlockHash, bHash) {
		s.t.Fatalf("engine prevoted %x in round 0, want B %x", v.BlockHash, bHash)
	}
	for _, i := range []int{1, 2} {
		s.send(TopicVote, signVote(s.c.vals[i], 1, 0, vote.StepPrevote, bHash).Encode())
	}
	if v := s.expectVote(0, vote.StepPrecommit); !bytes.Equal(v.BlockHash, bHash) {
		s.t.Fatalf("engine precommitted %x in round 0, want B", v.BlockHash)
	}
	return bHash
}

// skipTo moves the engine to round r with precommits for nil from two
// validators (more than a third of the stake).
func (s *script) skipTo(r uint32) {
	for _, i := range []int{2, 3} {
		s.send(TopicVote, signVote(s.c.vals[i], 1, r, vote.StepPrecommit, nil).Encode())
	}
}

// TestLocking: locked on B in round 0, the engine prevotes nil for
// another block C proposed without a proof of lock, and prevotes C once a
// later proposal carries a POL for C from a round after its lock.
func TestLocking(t *testing.T) {
	s := newScript(t)
	s.c.start(0)
	s.lockOnB()
	r1, r2 := s.laterRounds()
	cEnc, cHash := s.block(7)
	s.send(TopicProposal, signProposal(s.c.vals[s.proposer(r1)], 1, r1, -1, cEnc, cHash).Encode())
	s.skipTo(r1)
	if v := s.expectVote(r1, vote.StepPrevote); v.BlockHash != nil {
		t.Fatalf("locked on B, the engine prevoted %x for C without a POL", v.BlockHash)
	}
	// Round r2 re-proposes C with a POL from round r1 > the lock round.
	s.send(TopicProposal, signProposal(s.c.vals[s.proposer(r2)], 1, r2, int32(r1), cEnc, cHash).Encode())
	s.skipTo(r2)
	for _, i := range []int{1, 2, 3} {
		s.send(TopicVote, signVote(s.c.vals[i], 1, r1, vote.StepPrevote, cHash).Encode())
	}
	if v := s.expectVote(r2, vote.StepPrevote); !bytes.Equal(v.BlockHash, cHash) {
		t.Fatalf("with a POL for C in round %d the engine prevoted %x, want C", r1, v.BlockHash)
	}
	if _, refused := s.c.node[0].signer.stats(); refused != 0 {
		t.Fatalf("the engine asked to sign %d conflicting messages", refused)
	}
}

// TestRestartKeepsLock: a new engine over the same Store resumes round 0
// with its lock, re-sends its precommit, and does not prevote another
// block without a POL.
func TestRestartKeepsLock(t *testing.T) {
	s := newScript(t)
	s.c.start(0)
	bHash := s.lockOnB()
	s.c.stop(0)
	callsBefore, _ := s.c.node[0].signer.stats()

	s.c.start(0)
	v := s.expectVote(0, vote.StepPrecommit)
	if !bytes.Equal(v.BlockHash, bHash) {
		t.Fatalf("restarted engine re-sent precommit %x, want B", v.BlockHash)
	}
	r1, _ := s.laterRounds()
	cEnc, cHash := s.block(9)
	s.send(TopicProposal, signProposal(s.c.vals[s.proposer(r1)], 1, r1, -1, cEnc, cHash).Encode())
	s.skipTo(r1)
	if v := s.expectVote(r1, vote.StepPrevote); v.BlockHash != nil {
		t.Fatalf("restarted engine lost its lock: prevoted %x", v.BlockHash)
	}
	calls, refused := s.c.node[0].signer.stats()
	if refused != 0 {
		t.Fatalf("restarted engine asked to sign %d conflicting messages", refused)
	}
	if calls != callsBefore+1 {
		t.Fatalf("restarted engine made %d signatures, want 1 (the round-%d prevote)", calls-callsBefore, r1)
	}
}

// TestDoubleSign: validator 3 is byzantine and signs two prevotes for one
// slot with its raw key; the honest engines report verifiable evidence.
func TestDoubleSign(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	c.startAll(0, 1, 2)
	c.waitFinal(1, 0, 1, 2)
	h := c.node[0].chain.finalHeight() + 2 // buffered, then replayed
	byz := c.vals[3]
	a := signVote(byz, h, 0, vote.StepPrevote, nil)
	b := signVote(byz, h, 0, vote.StepPrevote, bytes.Repeat([]byte{7}, 32))
	c.net.publish("byz", TopicVote, a.Encode())
	c.net.publish("byz", TopicVote, b.Encode())
	c.waitFinal(h+1, 0, 1, 2)

	deadline := time.Now().Add(30 * time.Second)
	for len(c.node[0].chain.evidenceList()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 3 {
		evs := c.node[i].chain.evidenceList()
		if len(evs) == 0 {
			t.Fatalf("node %d reported no evidence", i)
		}
		ev, err := vote.DecodeEvidence(evs[0])
		if err != nil {
			t.Fatal(err)
		}
		if ev.Validator != byz.addr || ev.Height() != h {
			t.Fatalf("evidence against %s at %d, want %s at %d", ev.Validator, ev.Height(), byz.addr, h)
		}
		if err := ev.Verify(testChain, byz.sk.PublicKey()); err != nil {
			t.Fatalf("node %d: evidence does not verify: %v", i, err)
		}
	}
}

// TestForgedAndInvalid: a vote with a forged signature, a vote from a
// non-validator and a proposer whose blocks do not validate are dropped
// and their senders reported, while the others keep deciding.
func TestForgedAndInvalid(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	c.node[3].chain.buildBad = true
	c.startAll(all(4)...)
	c.waitFinal(1, all(4)...)
	h := c.node[0].chain.finalHeight() + 1
	forged := signVote(c.vals[2], h, 0, vote.StepPrecommit, bytes.Repeat([]byte{9}, 32))
	forged.Validator = c.vals[1].addr // signed by 2, claims 1
	c.net.publish("mallory", TopicVote, forged.Encode())
	outsider := signVote(c.vals[2], h, 0, vote.StepPrevote, nil)
	outsider.Validator[5] = 0xee
	c.net.publish("eve", TopicVote, outsider.Encode())
	c.net.publish("junk", TopicVote, []byte{1, 2, 3})

	set, _ := NewValidatorSet(c.set)
	// Run until peer3 has been proposer at least once.
	target := h + 6
	for hh := h; ; hh++ {
		if set.Proposer(testChain, hh, 0) == 3 {
			target = max(target, hh+1)
			break
		}
	}
	c.waitFinal(target, 0, 1, 2)
	for _, peer := range []string{"mallory", "eve", "junk", "peer3"} {
		if len(c.net.reportsAbout(peer)) == 0 {
			t.Errorf("%s was not reported", peer)
		}
	}
	for _, peer := range []string{"peer0", "peer1", "peer2"} {
		if r := c.net.reportsAbout(peer); len(r) != 0 {
			t.Errorf("honest %s was reported: %v", peer, r)
		}
	}
	checkSameChain(t, c, target, 0, 1, 2)
}

func TestFollower(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	// A fifth node follows without signing and decides the same chain.
	f := &testNode{name: "follower", chain: newFakeChain(c.set), store: newFakeStore()}
	e := newEngine(c.cfg, services{Chain: f.chain, Network: &netClient{n: c.net, node: f.name}, Store: f.store}, nil, false, [32]byte{})
	c.net.pause()
	if err := e.start(f.chain.finalBlock()); err != nil {
		t.Fatal(err)
	}
	defer e.stop()
	for i := range 4 {
		c.start(i)
	}
	c.net.resume()
	c.node = append(c.node, f)
	c.waitFinal(4, all(5)...)
	checkSameChain(t, c, 4, all(5)...)
}

// TestGossipedEvidence: evidence from a peer is checked against the
// offender's key; valid evidence goes to the host, forged evidence gets
// its sender reported.
func TestGossipedEvidence(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	c.startAll(0, 1, 2)
	byz, other := c.vals[3], c.vals[2]
	msg := func(hash []byte) vote.Message {
		return vote.Message{ChainID: testChain, Height: 1, Round: 5, Step: vote.StepPrecommit, BlockHash: hash}
	}
	sign := func(v testVal, m vote.Message) []byte { s := bls.Sign(v.sk, m.SignBytes()).Bytes(); return s[:] }
	a, b := msg(nil), msg(bytes.Repeat([]byte{3}, 32))
	forged, err := vote.NewEvidence(byz.addr, a, sign(other, a), b, sign(other, b))
	if err != nil {
		t.Fatal(err)
	}
	c.net.publish("liar", TopicEvidence, forged.Encode())
	good, err := vote.NewEvidence(byz.addr, a, sign(byz, a), b, sign(byz, b))
	if err != nil {
		t.Fatal(err)
	}
	c.net.publish("gossiper", TopicEvidence, good.Encode())
	for i := range 3 {
		for deadline := time.Now().Add(30 * time.Second); len(c.node[i].chain.evidenceList()) == 0; {
			if time.Now().After(deadline) {
				t.Fatalf("node %d did not hand the evidence to the host", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if evs := c.node[i].chain.evidenceList(); len(evs) != 1 || !bytes.Equal(evs[0], good.Encode()) {
			t.Fatalf("node %d reported %d evidences, want only the valid one", i, len(evs))
		}
	}
	for deadline := time.Now().Add(30 * time.Second); len(c.net.reportsAbout("liar")) < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("the sender of forged evidence was reported %d times, want 3", len(c.net.reportsAbout("liar")))
		}
		time.Sleep(2 * time.Millisecond)
	}
	if r := c.net.reportsAbout("gossiper"); len(r) != 0 {
		t.Fatalf("the sender of valid evidence was reported: %v", r)
	}
}

// TestVotesVerifiedTogether: votes that sign the same bytes are checked
// with one aggregate verification; a group holding a forged vote is left
// for one-by-one checks, so the forgery is still found.
func TestVotesVerifiedTogether(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	nd := c.node[0]
	e := newEngine(c.cfg, services{Chain: nd.chain, Network: &netClient{n: c.net, node: nd.name}, Store: nd.store}, nil, false, [32]byte{})
	set, err := NewValidatorSet(c.set)
	if err != nil {
		t.Fatal(err)
	}
	hash := bytes.Repeat([]byte{7}, 32)
	honest := func() []*inbound {
		var ins []*inbound
		for i := range 3 {
			ins = append(ins, &inbound{msg: signVote(c.vals[i], 5, 0, vote.StepPrevote, hash)})
		}
		return ins
	}
	v := &view{height: 5, set: set}
	ins := honest()
	ins0 := ins
	e.verifyVotesTogether(v, ins)
	for i, in := range ins {
		if in.checked != set {
			t.Fatalf("honest vote %d not checked by the aggregate", i)
		}
	}
	// Round 1: fresh signatures, not in the cache.
	forged := signVote(c.vals[2], 5, 1, vote.StepPrevote, hash)
	forged.Validator = c.vals[3].addr // signed by 2, claims 3
	ins = []*inbound{
		{msg: signVote(c.vals[0], 5, 1, vote.StepPrevote, hash)},
		{msg: signVote(c.vals[1], 5, 1, vote.StepPrevote, hash)},
		{msg: forged},
	}
	e.verifyVotesTogether(v, ins)
	for i, in := range ins {
		if in.checked != nil {
			t.Fatalf("vote %d of a group with a forgery was marked checked", i)
		}
	}
	if err := e.verifyVote(set, forged); !errors.Is(err, ErrSignature) {
		t.Fatalf("one-by-one check of the forgery: %v", err)
	}
	// A replay: validator 2's round-0 signature, already verified and
	// cached, re-sent as validator 3's vote. The cache must not vouch for
	// it: the signature was checked under 2's key, not 3's.
	replay := *ins0[2].msg.(*Vote)
	replay.Validator = c.vals[3].addr
	if err := e.verifyVote(set, &replay); !errors.Is(err, ErrSignature) {
		t.Fatalf("a cached signature re-sent under another validator: %v", err)
	}
	again := []*inbound{{msg: &replay}}
	e.verifyVotesTogether(v, again)
	if again[0].checked != nil {
		t.Fatal("the aggregate path took a cached signature under another validator as checked")
	}
}

// TestPrecommitsLostAfterPolka: every precommit of height 1, round 0 is
// lost (as when a partition cuts the network after the prevotes). Each
// node saw the polka and precommitted; with no 2f+1 precommits arriving,
// only its own precommit timeout can move it to round 1. A node that
// precommitted through the polka rule armed no such timeout and waited
// forever: the halt after a healed partition.
func TestPrecommitsLostAfterPolka(t *testing.T) {
	c := newCluster(t, 4, testConfig())
	c.net.drop = func(from, to, topic string, data []byte) bool {
		m, err := Decode(data)
		v, ok := m.(*Vote)
		return err == nil && ok && v.Height == 1 && v.Round == 0 && v.Step == vote.StepPrecommit
	}
	c.startAll(all(4)...)
	c.waitFinal(2, all(4)...)
	certs := checkSameChain(t, c, 2, all(4)...)
	if certs[0].Round == 0 {
		t.Fatal("height 1 decided in round 0 although its precommits were lost")
	}
}
