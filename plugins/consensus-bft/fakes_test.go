package bft

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/sdk"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

const testChain = "bft-test"

// stream is a fake server stream fed by a channel.
type stream[T any] struct {
	grpc.ClientStream
	ctx context.Context
	ch  <-chan *T
}

func (s *stream[T]) Header() (metadata.MD, error) { return nil, nil }
func (s *stream[T]) Recv() (*T, error) {
	select {
	case m := <-s.ch:
		return m, nil
	case <-s.ctx.Done():
		return nil, status.Error(codes.Canceled, "done")
	}
}

// --- chain ---------------------------------------------------------------

// fakeBlock encodes a block as a marshalled Header; its hash is sha256 of
// the encoding. GasUsed 666 marks a block ValidateBlock rejects.
func encodeBlock(h *hostv1.Header) ([]byte, []byte) {
	enc, _ := proto.MarshalOptions{Deterministic: true}.Marshal(h)
	sum := sha256.Sum256(enc)
	return enc, sum[:]
}

var genesisHash = func() []byte { s := sha256.Sum256([]byte("genesis")); return s[:] }()

func genesis() *hostv1.Block {
	return &hostv1.Block{Hash: genesisHash, Header: &hostv1.Header{ChainId: testChain, Height: 0, TimestampMs: 1}}
}

// fakeChain is one node's chain: its own block tree, canonical chain,
// final block and certificates, over a static validator set.
type fakeChain struct {
	hostv1.ChainClient
	set *hostv1.ValidatorSet

	mu        sync.Mutex
	known     map[string]*hostv1.Block
	canon     map[uint64][]byte
	head      uint64
	final     uint64
	certs     map[string][]byte
	subs      []chan *hostv1.ChainEvent
	evidence  [][]byte
	buildBad  bool
	noEvident bool
	// pool, when set, is the mempool size Events reports (as a host with
	// host.chain.mempool does); nil reports nothing.
	pool *int
}

// setPool reports a mempool of n transactions to the engine, now and to
// later subscriptions.
func (c *fakeChain) setPool(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pool = &n
	for _, s := range c.subs {
		s <- &hostv1.ChainEvent{Event: &hostv1.ChainEvent_MempoolSize{MempoolSize: uint32(n)}}
	}
}

func newFakeChain(set *hostv1.ValidatorSet) *fakeChain {
	g := genesis()
	return &fakeChain{set: set, known: map[string]*hostv1.Block{string(g.Hash): g}, canon: map[uint64][]byte{0: g.Hash},
		certs: map[string][]byte{}}
}

func (c *fakeChain) Head(context.Context, *hostv1.HeadRequest, ...grpc.CallOption) (*hostv1.HeadResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &hostv1.HeadResponse{Head: c.known[string(c.canon[c.head])], Finalized: c.known[string(c.canon[c.final])]}, nil
}

func (c *fakeChain) finalBlock() *hostv1.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known[string(c.canon[c.final])]
}

func (c *fakeChain) finalHeight() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.final
}

func (c *fakeChain) GetBlock(_ context.Context, r *hostv1.GetBlockRequest, _ ...grpc.CallOption) (*hostv1.GetBlockResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var h []byte
	if r.GetRef().GetHash() != nil {
		h = r.GetRef().GetHash()
	} else {
		h = c.canon[r.GetRef().GetHeight()]
	}
	b := c.known[string(h)]
	if b == nil {
		return nil, status.Error(codes.NotFound, "unknown block")
	}
	out := proto.Clone(b).(*hostv1.Block)
	out.Certificate = c.certs[string(h)]
	return &hostv1.GetBlockResponse{Block: out}, nil
}

func (c *fakeChain) ValidatorSet(_ context.Context, r *hostv1.ValidatorSetRequest, _ ...grpc.CallOption) (*hostv1.ValidatorSetResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.GetHeight() > c.head {
		return nil, status.Errorf(codes.NotFound, "no canonical block at %d", r.GetHeight())
	}
	s := proto.Clone(c.set).(*hostv1.ValidatorSet)
	s.Height = r.GetHeight()
	return &hostv1.ValidatorSetResponse{Set: s}, nil
}

func (c *fakeChain) BuildBlock(_ context.Context, r *hostv1.BuildBlockRequest, _ ...grpc.CallOption) (*hostv1.BuildBlockResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.known[string(r.GetParentHash())]
	if p == nil {
		return nil, status.Error(codes.NotFound, "unknown parent")
	}
	h := &hostv1.Header{ChainId: testChain, Height: p.Header.Height + 1, ParentHash: r.GetParentHash(),
		TimestampMs: max(r.GetTimestampMs(), p.Header.TimestampMs+1), Proposer: r.GetProposer(), ConsensusData: r.GetConsensusData()}
	if c.buildBad {
		h.GasUsed = 666
	}
	enc, hash := encodeBlock(h)
	return &hostv1.BuildBlockResponse{Block: &hostv1.Block{Hash: hash, Header: h, Encoded: enc}}, nil
}

func (c *fakeChain) validate(enc []byte) (*hostv1.Block, string, error) {
	h := &hostv1.Header{}
	if err := proto.Unmarshal(enc, h); err != nil {
		return nil, "undecodable", nil
	}
	p := c.known[string(h.GetParentHash())]
	if p == nil {
		return nil, "", status.Error(codes.NotFound, "unknown parent")
	}
	if h.GetHeight() != p.Header.Height+1 {
		return nil, "bad height", nil
	}
	if h.GetGasUsed() == 666 {
		return nil, "bad execution", nil
	}
	sum := sha256.Sum256(enc)
	return &hostv1.Block{Hash: sum[:], Header: h}, "", nil
}

func (c *fakeChain) ValidateBlock(_ context.Context, r *hostv1.ValidateBlockRequest, _ ...grpc.CallOption) (*hostv1.ValidateBlockResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, reason, err := c.validate(r.GetEncoded())
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return &hostv1.ValidateBlockResponse{Reason: reason}, nil
	}
	return &hostv1.ValidateBlockResponse{Valid: true, Block: b}, nil
}

func (c *fakeChain) CommitBlock(_ context.Context, r *hostv1.CommitBlockRequest, _ ...grpc.CallOption) (*hostv1.CommitBlockResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, reason, err := c.validate(r.GetEncoded())
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return nil, status.Error(codes.InvalidArgument, reason)
	}
	c.known[string(b.Hash)] = b
	return &hostv1.CommitBlockResponse{Block: b}, nil
}

func (c *fakeChain) SetHead(_ context.Context, r *hostv1.SetHeadRequest, _ ...grpc.CallOption) (*hostv1.SetHeadResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.known[string(r.GetHash())]
	if b == nil {
		return nil, status.Error(codes.NotFound, "unknown block")
	}
	h := b.Header.Height
	if h <= c.final && !bytes.Equal(c.canon[h], b.Hash) {
		return nil, status.Error(codes.FailedPrecondition, "reverts a final block")
	}
	for x := h + 1; x <= c.head; x++ {
		delete(c.canon, x)
	}
	c.canon[h], c.head = b.Hash, h
	return &hostv1.SetHeadResponse{Head: b}, nil
}

func (c *fakeChain) Finalize(_ context.Context, r *hostv1.FinalizeRequest, _ ...grpc.CallOption) (*hostv1.FinalizeResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.known[string(r.GetHash())]
	if b == nil || !bytes.Equal(c.canon[b.Header.Height], b.Hash) {
		return nil, status.Error(codes.FailedPrecondition, "not canonical")
	}
	if b.Header.Height <= c.final {
		return &hostv1.FinalizeResponse{}, nil
	}
	c.final = b.Header.Height
	c.certs[string(b.Hash)] = r.GetCertificate()
	for _, s := range c.subs {
		select {
		case s <- &hostv1.ChainEvent{Event: &hostv1.ChainEvent_Finalized{Finalized: b}}:
		default:
		}
	}
	return &hostv1.FinalizeResponse{}, nil
}

// sync finalizes a block decided elsewhere, as the host's sync does.
func (c *fakeChain) sync(b *hostv1.Block, cert []byte) {
	c.mu.Lock()
	c.known[string(b.Hash)] = b
	c.mu.Unlock()
	_, _ = c.SetHead(context.Background(), &hostv1.SetHeadRequest{Hash: b.Hash})
	_, _ = c.Finalize(context.Background(), &hostv1.FinalizeRequest{Hash: b.Hash, Certificate: cert})
}

func (c *fakeChain) Events(ctx context.Context, _ *hostv1.EventsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[hostv1.ChainEvent], error) {
	ch := make(chan *hostv1.ChainEvent, 256)
	c.mu.Lock()
	c.subs = append(c.subs, ch)
	if c.pool != nil {
		ch <- &hostv1.ChainEvent{Event: &hostv1.ChainEvent_MempoolSize{MempoolSize: uint32(*c.pool)}}
	}
	c.mu.Unlock()
	return &stream[hostv1.ChainEvent]{ctx: ctx, ch: ch}, nil
}

func (c *fakeChain) ReportEvidence(_ context.Context, r *hostv1.ReportEvidenceRequest, _ ...grpc.CallOption) (*hostv1.ReportEvidenceResponse, error) {
	if c.noEvident {
		return nil, status.Error(codes.Unimplemented, "no evidence")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evidence = append(c.evidence, r.GetEvidence())
	return &hostv1.ReportEvidenceResponse{}, nil
}

func (c *fakeChain) evidenceList() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.evidence...)
}

// --- network -------------------------------------------------------------

type report struct{ reporter, peer, reason string }

// fakeNet fans every published message out to every subscription, From
// empty for the publisher's own. drop, when set, can lose a message on
// its way to one subscriber.
type fakeNet struct {
	mu      sync.Mutex
	subs    map[string][]*netSub
	reports []report
	drop    func(from, to, topic string, data []byte) bool
	// held queues publishes while the test starts its engines, so no
	// engine decides before the last one listens.
	hold bool
	held []func()
}

func (n *fakeNet) pause() {
	n.mu.Lock()
	n.hold = true
	n.mu.Unlock()
}

func (n *fakeNet) resume() {
	n.mu.Lock()
	held := n.held
	n.hold, n.held = false, nil
	n.mu.Unlock()
	for _, f := range held {
		f()
	}
}

type netSub struct {
	node string
	ch   chan *hostv1.NetworkMessage
	ctx  context.Context
}

func newFakeNet() *fakeNet { return &fakeNet{subs: map[string][]*netSub{}} }

func (n *fakeNet) publish(from, topic string, data []byte) {
	n.mu.Lock()
	if n.hold {
		n.held = append(n.held, func() { n.publish(from, topic, data) })
		n.mu.Unlock()
		return
	}
	drop := n.drop
	subs := append([]*netSub(nil), n.subs[topic]...)
	n.mu.Unlock()
	id := sha256.Sum256(data)
	for _, s := range subs {
		if s.ctx.Err() != nil || (drop != nil && drop(from, s.node, topic, data)) {
			continue
		}
		f := from
		if s.node == from {
			f = ""
		}
		select {
		case s.ch <- &hostv1.NetworkMessage{Topic: topic, Data: data, From: f, Id: id[:]}:
		default: // a full queue loses the message, as gossip may
		}
	}
}

func (n *fakeNet) send(from, to, topic string, data []byte) {
	n.mu.Lock()
	drop := n.drop
	subs := append([]*netSub(nil), n.subs[topic]...)
	n.mu.Unlock()
	if drop != nil && drop(from, to, topic, data) {
		return
	}
	id := sha256.Sum256(data)
	for _, s := range subs {
		if s.node != to || s.ctx.Err() != nil {
			continue
		}
		select {
		case s.ch <- &hostv1.NetworkMessage{Topic: topic, Data: data, From: from, Id: id[:]}:
		default:
		}
	}
}

func (n *fakeNet) reportsAbout(peer string) []report {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []report
	for _, r := range n.reports {
		if r.peer == peer {
			out = append(out, r)
		}
	}
	return out
}

// tap subscribes the test itself to a topic.
func (n *fakeNet) tap(ctx context.Context, topic string) <-chan *hostv1.NetworkMessage {
	s := &netSub{node: "tap", ch: make(chan *hostv1.NetworkMessage, 4096), ctx: ctx}
	n.mu.Lock()
	n.subs[topic] = append(n.subs[topic], s)
	n.mu.Unlock()
	return s.ch
}

// netClient is one node's view of fakeNet.
type netClient struct {
	hostv1.NetworkClient
	n    *fakeNet
	node string
}

func (c *netClient) Publish(_ context.Context, r *hostv1.PublishRequest, _ ...grpc.CallOption) (*hostv1.PublishResponse, error) {
	c.n.publish(c.node, r.GetTopic(), r.GetData())
	return &hostv1.PublishResponse{}, nil
}

// Send delivers to one peer's subscription, as the host's direct stream
// does.
func (c *netClient) Send(_ context.Context, r *hostv1.SendRequest, _ ...grpc.CallOption) (*hostv1.SendResponse, error) {
	c.n.send(c.node, r.GetPeer(), r.GetTopic(), r.GetData())
	return &hostv1.SendResponse{}, nil
}

func (c *netClient) Subscribe(ctx context.Context, r *hostv1.SubscribeRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[hostv1.NetworkMessage], error) {
	s := &netSub{node: c.node, ch: make(chan *hostv1.NetworkMessage, 4096), ctx: ctx}
	c.n.mu.Lock()
	c.n.subs[r.GetTopic()] = append(c.n.subs[r.GetTopic()], s)
	c.n.mu.Unlock()
	return &stream[hostv1.NetworkMessage]{ctx: ctx, ch: s.ch}, nil
}

func (c *netClient) Report(_ context.Context, r *hostv1.ReportRequest, _ ...grpc.CallOption) (*hostv1.ReportResponse, error) {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	c.n.reports = append(c.n.reports, report{reporter: c.node, peer: r.GetPeer(), reason: r.GetReason()})
	return &hostv1.ReportResponse{}, nil
}

// --- signer and store ------------------------------------------------------

// fakeSigner signs like the host: it refuses a second, different message
// for a slot it signed, and returns the same signature for the same one.
type fakeSigner struct {
	hostv1.SignerClient
	sk   *bls.SecretKey
	addr account.Address

	mu      sync.Mutex
	signed  map[string][]byte // slot -> sign bytes
	refused int
	calls   int
}

func slotKey(h uint64, r uint32, s vote.Step) string { return fmt.Sprintf("%d/%d/%d", h, r, s) }

func (s *fakeSigner) PublicKeys(context.Context, *hostv1.PublicKeysRequest, ...grpc.CallOption) (*hostv1.PublicKeysResponse, error) {
	pk := s.sk.PublicKey().Bytes()
	return &hostv1.PublicKeysResponse{Address: s.addr[:], BlsPublicKey: pk[:]}, nil
}

func (s *fakeSigner) SignConsensus(_ context.Context, r *hostv1.SignConsensusRequest, _ ...grpc.CallOption) (*hostv1.SignConsensusResponse, error) {
	m := vote.Message{ChainID: testChain, Height: r.GetHeight(), Round: r.GetRound(), Step: vote.Step(r.GetStep()), BlockHash: r.GetBlockHash(), Extra: r.GetExtra()}
	if err := m.Check(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	sb := m.SignBytes()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	k := slotKey(m.Height, m.Round, m.Step)
	if prev, ok := s.signed[k]; ok && !bytes.Equal(prev, sb) {
		s.refused++
		return nil, status.Error(codes.FailedPrecondition, "already signed another message for "+k)
	}
	s.signed[k] = sb
	sig := bls.Sign(s.sk, sb).Bytes()
	return &hostv1.SignConsensusResponse{Signature: sig[:], SignBytes: sb}, nil
}

func (s *fakeSigner) stats() (calls, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.refused
}

type fakeStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newFakeStore() *fakeStore { return &fakeStore{m: map[string][]byte{}} }

func (s *fakeStore) Get(_ context.Context, k []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[string(k)]
	if !ok {
		return nil, sdk.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (s *fakeStore) Batch(_ context.Context, ops []sdk.Op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		if op.Delete {
			delete(s.m, string(op.Key))
		} else {
			s.m[string(op.Key)] = append([]byte(nil), op.Value...)
		}
	}
	return nil
}

func (s *fakeStore) Scan(_ context.Context, prefix, after []byte, limit int) ([]sdk.KV, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, string(prefix)) && k > string(after) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	out := make([]sdk.KV, len(keys))
	for i, k := range keys {
		out[i] = sdk.KV{Key: []byte(k), Value: s.m[k]}
	}
	return out, more, nil
}

// --- validators and clusters -------------------------------------------------

type testVal struct {
	sk   *bls.SecretKey
	addr account.Address
}

// newVals makes n validators with the given stakes (10 each when nil),
// sorted by address.
func newVals(t testing.TB, n int, stakes []uint64) ([]testVal, *hostv1.ValidatorSet) {
	t.Helper()
	vals := make([]testVal, n)
	set := &hostv1.ValidatorSet{}
	for i := range vals {
		sk, err := bls.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		var a account.Address
		a[0], a[1] = byte(i>>8), byte(i)
		vals[i] = testVal{sk: sk, addr: a}
		st := uint64(10)
		if stakes != nil {
			st = stakes[i]
		}
		pk, pop := sk.PublicKey().Bytes(), bls.ProofOfPossession(sk).Bytes()
		set.Validators = append(set.Validators, &hostv1.Validator{Address: a[:], BlsPublicKey: pk[:], ProofOfPossession: pop[:], Stake: st})
		set.TotalStake += st
	}
	return vals, set
}

// signVote signs a vote with a validator's raw key, bypassing any signer.
func signVote(v testVal, h uint64, r uint32, st vote.Step, hash []byte) *Vote {
	out := &Vote{Height: h, Round: r, Step: st, BlockHash: hash, Validator: v.addr}
	m := out.SignMessage(testChain)
	out.Signature = bls.Sign(v.sk, m.SignBytes()).Bytes()
	return out
}

func signProposal(v testVal, h uint64, r uint32, pol int32, block []byte, hash []byte) *Proposal {
	p := &Proposal{Height: h, Round: r, POLRound: pol, Block: block}
	copy(p.BlockHash[:], hash)
	m := p.SignMessage(testChain)
	p.Signature = bls.Sign(v.sk, m.SignBytes()).Bytes()
	return p
}

type testNode struct {
	name   string
	chain  *fakeChain
	signer *fakeSigner
	store  *fakeStore
	eng    *engine
}

type cluster struct {
	t    testing.TB
	vals []testVal
	set  *hostv1.ValidatorSet
	net  *fakeNet
	cfg  Config
	node []*testNode
}

func testConfig() Config {
	return Config{ChainID: testChain, TimeoutPropose: 200 * time.Millisecond, TimeoutProposeDelta: 100 * time.Millisecond,
		TimeoutVote: 100 * time.Millisecond, TimeoutVoteDelta: 50 * time.Millisecond, BlockInterval: 5 * time.Millisecond}
}

func newCluster(t testing.TB, n int, cfg Config) *cluster {
	vals, set := newVals(t, n, nil)
	c := &cluster{t: t, vals: vals, set: set, net: newFakeNet(), cfg: cfg}
	for i := range vals {
		c.node = append(c.node, &testNode{name: fmt.Sprintf("peer%d", i), chain: newFakeChain(set),
			signer: &fakeSigner{sk: vals[i].sk, addr: vals[i].addr, signed: map[string][]byte{}}, store: newFakeStore()})
	}
	t.Cleanup(c.stopAll)
	return c
}

func (c *cluster) start(i int) {
	c.t.Helper()
	nd := c.node[i]
	svc := services{Chain: nd.chain, Network: &netClient{n: c.net, node: nd.name}, Signer: nd.signer, Store: nd.store}
	e := newEngine(c.cfg, svc, nil, true, c.vals[i].addr)
	if err := e.start(nd.chain.finalBlock()); err != nil {
		c.t.Fatal(err)
	}
	nd.eng = e
}

// startAll starts the listed engines with the network held until the
// last one listens.
func (c *cluster) startAll(nodes ...int) {
	c.t.Helper()
	c.net.pause()
	for _, i := range nodes {
		c.start(i)
	}
	c.net.resume()
}

func (c *cluster) stop(i int) {
	if e := c.node[i].eng; e != nil {
		e.stop()
		c.node[i].eng = nil
	}
}

func (c *cluster) stopAll() {
	for i := range c.node {
		c.stop(i)
	}
}

// waitFinal waits until every listed node has finalized height h; the
// deadline only stops a hung test.
func (c *cluster) waitFinal(h uint64, nodes ...int) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, i := range nodes {
		for c.node[i].chain.finalHeight() < h {
			if time.Now().After(deadline) {
				c.t.Fatalf("node %d reached final height %d, not %d; %s", i, c.node[i].chain.finalHeight(), h, c.describe())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// syncHosts does what each host's block sync does until ctx ends: a node
// behind a peer it can reach gets that peer's final blocks.
func (c *cluster) syncHosts(ctx context.Context, reachable func(a, b int) bool) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for i := range c.node {
				for j := range c.node {
					if i == j || !reachable(i, j) {
						continue
					}
					for h := c.node[i].chain.finalHeight() + 1; h <= c.node[j].chain.finalHeight(); h++ {
						r, err := c.node[j].chain.GetBlock(ctx, &hostv1.GetBlockRequest{Ref: &hostv1.BlockRef{Ref: &hostv1.BlockRef_Height{Height: h}}})
						if err != nil {
							break
						}
						c.node[i].chain.sync(r.GetBlock(), r.GetBlock().GetCertificate())
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return done
}

// describe says where every engine stands, for a failing test.
func (c *cluster) describe() string {
	var parts []string
	for i, nd := range c.node {
		if nd.eng == nil {
			parts = append(parts, fmt.Sprintf("node %d stopped", i))
			continue
		}
		st := nd.eng.status()
		parts = append(parts, fmt.Sprintf("node %d: final %d, height %d round %d step %s, %d votes seen", i, nd.chain.finalHeight(), st.height, st.round, st.step, st.votes))
	}
	return strings.Join(parts, "; ")
}
