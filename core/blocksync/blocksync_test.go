package blocksync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/p2p"
	"github.com/trellis-chain/trellis/core/store"
	fee "github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/block"
)

func openChain(t *testing.T) *chain.Chain { return openChainID(t, "sync-test") }

func openChainID(t *testing.T, id string) *chain.Chain {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g := &genesis.Genesis{ChainID: id, GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		Fee: genesis.Fee{InitialBaseFee: 10, BlockGasLimit: 1_000_000}}
	c, err := chain.Open(db, chain.Config{Genesis: g, Fees: feeclient.Client{Service: fee.Local{Params: fee.DefaultParams()}}, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// grow builds n empty blocks on c and finalizes each with the certificate
// "cert <height>".
func grow(t *testing.T, c *chain.Chain, n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		head, _ := c.Head()
		b, err := c.Build(ctx, chain.BuildRequest{Parent: head.Hash(), TimestampMs: head.Header.TimestampMs + 1000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Commit(ctx, b.Encode()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetHead(ctx, b.Hash()); err != nil {
			t.Fatal(err)
		}
		if err := c.Finalize(ctx, b.Hash(), []byte(fmt.Sprint("cert ", b.Header.Height))); err != nil {
			t.Fatal(err)
		}
	}
}

// net is one peer serving src, whose blocks edit may tamper with.
type net struct {
	src  Source
	edit func(h uint64, sb *p2p.SyncedBlock)
}

func (n *net) Peers() []p2p.PeerInfo {
	st := n.src.Status()
	return []p2p.PeerInfo{{ID: "peer", Status: &st}}
}

func (n *net) Download(_ context.Context, from, to uint64, _ []string, apply func(uint64, p2p.SyncedBlock) error, _ func(done, total uint64)) error {
	blocks, err := n.src.Blocks(from, int(to-from+1))
	if err != nil {
		return err
	}
	for i, sb := range blocks {
		h := from + uint64(i)
		if n.edit != nil {
			n.edit(h, &sb)
		}
		if err := apply(h, sb); err != nil {
			return err
		}
	}
	return nil
}

// verifier accepts exactly the certificates grow writes.
type verifier struct{}

func (verifier) VerifyFinal(_ context.Context, blk *block.Block, cert []byte) error {
	if string(cert) != fmt.Sprint("cert ", blk.Header.Height) {
		return fmt.Errorf("%w: certificate %q does not finalize block %d", ErrBadBlock, cert, blk.Header.Height)
	}
	return nil
}

// A follower syncs a peer's final blocks, certificates included, and ends
// on the same head; a second round finds nothing to do.
func TestSyncFollowsPeer(t *testing.T) {
	src, dst := openChain(t), openChain(t)
	grow(t, src, 5)
	s := New(dst, &net{src: Source{Chain: src}}, verifier{}, nil)
	for range 2 {
		if err := s.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sh, sf := src.Head()
	dh, df := dst.Head()
	if dh.Hash() != sh.Hash() || df.Hash() != sf.Hash() || df.Header.Height != 5 {
		t.Fatalf("follower at head %d final %d, want the source's %d", dh.Header.Height, df.Header.Height, sh.Header.Height)
	}
	for h := uint64(1); h <= 5; h++ {
		b, _ := dst.BlockByHeight(h)
		cert, err := dst.Certificate(b.Hash())
		if err != nil || string(cert) != fmt.Sprint("cert ", h) {
			t.Fatalf("certificate of %d: %q %v", h, cert, err)
		}
	}
}

// A longest-chain node whose head is past a block a peer reports final
// finalizes that block where it is and keeps its head.
func TestSyncKeepsHeadPastFinal(t *testing.T) {
	src, dst := openChain(t), openChain(t)
	grow(t, src, 5)
	ctx := context.Background()
	for h := uint64(1); h <= 5; h++ { // dst holds the same blocks, none final
		b, _ := src.BlockByHeight(h)
		if _, err := dst.Commit(ctx, b.Encode()); err != nil {
			t.Fatal(err)
		}
		if _, err := dst.SetHead(ctx, b.Hash()); err != nil {
			t.Fatal(err)
		}
	}
	src3, _ := src.BlockByHeight(3)
	peer := &net{src: Source{Chain: src}}
	// The peer's final is 3: only blocks 1..3 come.
	s := New(dst, &limited{net: peer, final: 3}, verifier{}, nil)
	if err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	dh, df := dst.Head()
	if dh.Header.Height != 5 || df.Hash() != src3.Hash() {
		t.Fatalf("head %d final %d after syncing final 3; want head 5, final 3", dh.Header.Height, df.Header.Height)
	}
}

// limited is a peer whose final height is final.
type limited struct {
	*net
	final uint64
}

func (l *limited) Peers() []p2p.PeerInfo {
	ps := l.net.Peers()
	ps[0].Status.Final = l.final
	return ps
}

// A lying peer's blocks are refused as the peer's fault (ErrBadBlock, which
// wraps p2p.ErrBadBlock so the download drops the peer) and nothing of
// them is committed.
func TestSyncRefusesBadBlocks(t *testing.T) {
	src := openChain(t)
	grow(t, src, 3)
	other := openChainID(t, "another-chain")
	grow(t, other, 1)
	forged, _ := other.BlockByHeight(1)
	for _, tc := range []struct {
		name string
		edit func(h uint64, sb *p2p.SyncedBlock)
		msg  string
	}{
		{"garbage", func(h uint64, sb *p2p.SyncedBlock) { sb.Encoded = []byte("junk") }, "block 1"},
		{"flipped byte", func(h uint64, sb *p2p.SyncedBlock) {
			sb.Encoded = bytes.Clone(sb.Encoded)
			sb.Encoded[len(sb.Encoded)/2] ^= 1
		}, ""},
		{"wrong height", func(h uint64, sb *p2p.SyncedBlock) {
			b, _ := src.BlockByHeight(h + 1)
			sb.Encoded = b.Encode()
		}, "asked for height 1, got 2"},
		{"bad certificate", func(h uint64, sb *p2p.SyncedBlock) { sb.Certificate = []byte("cert 99") }, "does not finalize"},
		{"another chain's block", func(h uint64, sb *p2p.SyncedBlock) {
			sb.Encoded, sb.Certificate = forged.Encode(), []byte("cert 1")
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := openChain(t)
			err := New(dst, &net{src: Source{Chain: src}, edit: tc.edit}, verifier{}, nil).Once(context.Background())
			if !errors.Is(err, p2p.ErrBadBlock) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Once = %v, want a bad block saying %q", err, tc.msg)
			}
			if head, final := dst.Head(); head.Header.Height != 0 || final.Header.Height != 0 {
				t.Fatalf("a refused block moved the follower to head %d final %d", head.Header.Height, final.Header.Height)
			}
		})
	}
}
