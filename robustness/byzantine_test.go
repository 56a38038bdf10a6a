//go:build linux

package robustness

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/p2p"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/internal/testbin"
	bft "github.com/trellis-chain/trellis/plugins/consensus-bft"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/testnet"
)

// byzantine is validator 3 of a testnet taken over by an attacker: its
// node is killed and the attacker, holding its BLS key, joins the gossip
// network as a libp2p peer of its own and says what it likes.
type byzantine struct {
	t     *testing.T
	net   *testnet.Net
	host  *p2p.Host
	sk    *bls.SecretKey
	addr  account.Address
	chain string
	topic string

	mu    sync.Mutex
	heard [][]byte // honest votes, to replay
}

func takeOver(t *testing.T, net *testnet.Net, i int) *byzantine {
	n := net.State.Nodes[i]
	if outs := net.Kill([]int{i}, 5*time.Second); outcomeErr(outs) != nil {
		t.Fatal(outcomeErr(outs))
	}
	sk, err := signer.LoadBLSKey(filepath.Join(n.Dir, "keys", "validator_bls_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := account.ParseAddress(n.Validator)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := rpc.Dial(net.State.Nodes[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	g, err := cl.BlockByNumber(context.Background(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	var boot []string
	for j, o := range net.State.Nodes {
		if j != i {
			boot = append(boot, o.P2P[0]+"/p2p/"+o.PeerID)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h, err := p2p.New(ctx, p2p.Config{ChainID: net.State.ChainID, Genesis: g.Hash, Key: key,
		Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: boot})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	b := &byzantine{t: t, net: net, host: h, sk: sk, addr: addr, chain: net.State.ChainID,
		topic: hostsvc.Topic(net.State.ChainID, "consensus.bft", bft.TopicVote)}
	accept := func(context.Context, string, []byte) p2p.Verdict { return p2p.Accept }
	if err := h.Join(b.topic, accept, func(m p2p.Message) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.heard) < 4096 {
			b.heard = append(b.heard, m.Data)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, 60*time.Second, func() bool { return len(h.MeshPeers(b.topic)) > 0 || len(h.TopicPeers(b.topic)) > 0 }); err != nil {
		t.Fatalf("the attacker found no peer on %s: %v", b.topic, err)
	}
	return b
}

func (b *byzantine) publish(data []byte) {
	if err := b.host.Publish(context.Background(), b.topic, data); err != nil {
		b.t.Logf("publish: %v", err)
	}
}

func (b *byzantine) vote(h uint64, r uint32, st vote.Step, hash []byte) []byte {
	v := &bft.Vote{Height: h, Round: r, Step: st, BlockHash: hash, Validator: b.addr}
	m := v.SignMessage(b.chain)
	v.Signature = bls.Sign(b.sk, m.SignBytes()).Bytes()
	return v.Encode()
}

// finalHeight is the lowest final height of the honest nodes.
func finalHeight(t *testing.T, net *testnet.Net, honest []int) uint64 {
	low := ^uint64(0)
	for _, i := range honest {
		cl, err := rpc.Dial(net.State.Nodes[i].RPC)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cl.BlockByTag(context.Background(), rpc.TagFinalized, false)
		cl.Close()
		if err != nil {
			t.Fatalf("%s: %v", net.State.Nodes[i].Name, err)
		}
		low = min(low, b.Height)
	}
	return low
}

// keepsFinalizing checks the honest nodes finalize n more heights.
func keepsFinalizing(t *testing.T, net *testnet.Net, honest []int, n uint64, what string) {
	t.Helper()
	from := finalHeight(t, net, honest)
	if err := waitFor(context.Background(), 90*time.Second, func() bool { return finalHeight(t, net, honest) >= from+n }); err != nil {
		t.Fatalf("%s: the honest validators stopped finalizing at %d", what, finalHeight(t, net, honest))
	}
}

func slashedOf(t *testing.T, net *testnet.Net, who string) uint64 {
	cl, err := rpc.Dial(net.State.Nodes[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	addr, err := account.ParseAddress(who)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cl.Account(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if a.Validator == nil {
		return 0
	}
	return a.Validator.Slashed
}

// TestByzantinePeer: validator 3 of 4 (a quarter of the stake) is taken
// over and, as a real libp2p peer among real node processes, withholds its
// votes, replays the honest validators' old votes, equivocates, and floods
// junk. The honest three keep finalizing through all of it; the
// equivocation reaches the chain as evidence and the offender is slashed
// and tombstoned, and no honest validator is.
func TestByzantinePeer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator testnet")
	}
	trellis := testbin.Build(t, "cmd/trellis")
	testbin.Build(t, "plugins/consensus-bft/cmd/trellis-consensus-bft")
	testbin.Build(t, "plugins/fee-eip1559/cmd/trellis-fee-eip1559")
	dir := t.TempDir()
	net, err := testnet.Up(testnet.UpOptions{Dir: filepath.Join(dir, "tn"), Binary: trellis, Wait: rpcWait, Spec: testnet.Spec{
		Nodes: 4, Consensus: testnet.ConsensusBFT, ChainID: "byzantine", BlockInterval: 300 * time.Millisecond,
		LoadAccounts: 8, PluginDir: filepath.Dir(trellis)}}, &testWriter{t: t})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, n := range net.State.Nodes {
				t.Logf("%s log tail:\n%s", n.Name, testnet.LogTail(n.Log, 40))
			}
		}
		_, _ = net.Down(stopTimeout)
	}()
	honest := []int{0, 1, 2}
	keepsFinalizing(t, net, honest, 2, "start")

	b := takeOver(t, net, 3) // from here on validator 3 withholds its votes
	keepsFinalizing(t, net, honest, 3, "withheld votes")

	b.mu.Lock()
	old := append([][]byte(nil), b.heard...)
	b.mu.Unlock()
	if len(old) == 0 {
		t.Fatal("the attacker heard no vote to replay")
	}
	for _, m := range old {
		b.publish(m)
	}
	keepsFinalizing(t, net, honest, 3, "replayed old votes")

	h := finalHeight(t, net, honest) + 1
	for r := range uint32(3) { // one conflicting pair per round: the height may not stay long
		b.publish(b.vote(h, r, vote.StepPrevote, bytes.Repeat([]byte{1}, 32)))
		b.publish(b.vote(h, r, vote.StepPrevote, bytes.Repeat([]byte{2}, 32)))
	}
	if err := waitFor(context.Background(), 90*time.Second, func() bool { return slashedOf(t, net, b.addr.String()) > 0 }); err != nil {
		t.Fatalf("the equivocating validator was not slashed: %v", err)
	}
	t.Logf("validator 3 slashed %d after equivocating at height %d", slashedOf(t, net, b.addr.String()), h)
	keepsFinalizing(t, net, honest, 3, "after the slash")
	// Last, because the nodes ban a peer that sends junk.
	junk := make([]byte, 512)
	for range 3000 {
		_, _ = rand.Read(junk)
		junk[0] = bft.WireVersion
		b.publish(append([]byte(nil), junk...))
	}
	keepsFinalizing(t, net, honest, 3, "a flood of 3,000 junk votes")

	banned := func() bool {
		for _, i := range honest {
			if l, err := os.ReadFile(net.State.Nodes[i].Log); err == nil && bytes.Contains(l, []byte("banning peer: peer="+b.host.ID())) {
				return true
			}
		}
		return false
	}
	if err := waitFor(context.Background(), 60*time.Second, banned); err != nil {
		t.Errorf("no honest node banned the peer that flooded junk")
	}
	for _, i := range honest {
		if s := slashedOf(t, net, net.State.Nodes[i].Validator); s != 0 {
			t.Errorf("honest %s slashed %d", net.State.Nodes[i].Name, s)
		}
	}
}
