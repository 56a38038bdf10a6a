package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chainSource serves blocks 1..final whose content is a function of height.
type chainSource struct {
	final   uint64
	size    int
	corrupt bool // flip a byte in every block
	calls   atomic.Int64
}

func newChainSource(final uint64, size int, _ int) *chainSource {
	return &chainSource{final: final, size: size}
}

func blockAt(h uint64, size int) SyncedBlock {
	enc := bytes.Repeat([]byte{byte(h)}, size)
	if size >= 8 {
		binary.BigEndian.PutUint64(enc, h)
	}
	sum := sha256.Sum256(enc)
	return SyncedBlock{Encoded: enc, Certificate: sum[:]}
}

func (s *chainSource) Status() Status {
	return Status{Height: s.final + 1, Final: s.final, Head: [32]byte{byte(s.final)}}
}

func (s *chainSource) Blocks(from uint64, max int) ([]SyncedBlock, error) {
	s.calls.Add(1)
	if from == 0 {
		return nil, errors.New("no block 0")
	}
	var out []SyncedBlock
	for h := from; h <= s.final && len(out) < max; h++ {
		b := blockAt(h, s.size)
		if s.corrupt {
			b.Encoded[len(b.Encoded)-1] ^= 0xff
		}
		out = append(out, b)
	}
	return out, nil
}

// checkingApply verifies each block against blockAt and records heights.
type checkingApply struct {
	size    int
	mu      sync.Mutex
	heights []uint64
	bad     int
}

func (c *checkingApply) apply(h uint64, b SyncedBlock) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := blockAt(h, c.size)
	if !bytes.Equal(b.Encoded, want.Encoded) || !bytes.Equal(b.Certificate, want.Certificate) {
		c.bad++
		return fmt.Errorf("%w: height %d", ErrBadBlock, h)
	}
	if n := len(c.heights); n > 0 && c.heights[n-1]+1 != h {
		return fmt.Errorf("height %d after %d", h, c.heights[n-1])
	}
	c.heights = append(c.heights, h)
	return nil
}

func TestStatusAndFetch(t *testing.T) {
	a, b := newHost(t), newHost(t)
	connect(t, a, b)
	ctx := context.Background()
	st, err := b.PeerStatus(ctx, a.ID())
	if err != nil || st.ChainID != "test-chain" || st.Genesis != testGenesis || st.Final != 0 {
		t.Fatalf("status before ServeSync: %+v, %v", st, err)
	}
	if _, err := b.FetchBlocks(ctx, a.ID(), 1, 4); !errors.Is(err, ErrNoSource) {
		t.Fatalf("fetch before ServeSync: %v", err)
	}
	a.ServeSync(newChainSource(50, 100, 0))
	st, err = b.PeerStatus(ctx, a.ID())
	if err != nil || st.Final != 50 || st.Height != 51 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	blocks, err := b.FetchBlocks(ctx, a.ID(), 48, 10)
	if err != nil || len(blocks) != 3 {
		t.Fatalf("fetch at the end: %d blocks, %v", len(blocks), err)
	}
	if _, err := b.FetchBlocks(ctx, a.ID(), 0, 1); !errors.Is(err, ErrNoSource) {
		t.Fatalf("source error: %v", err)
	}
	if _, err := b.FetchBlocks(ctx, a.ID(), 1, MaxBatchBlocks+1); !errors.Is(err, ErrConfig) {
		t.Fatalf("count over limit: %v", err)
	}
	// byte limit: 2 MiB blocks, 8 MiB per response
	a.ServeSync(newChainSource(20, 2<<20, 0))
	blocks, err = b.FetchBlocks(ctx, a.ID(), 1, 10)
	if err != nil || len(blocks) != BatchBytes/(2<<20+32) {
		t.Fatalf("byte-limited fetch: %d blocks, %v", len(blocks), err)
	}
	eventually(t, 10*time.Second, "status kept for Peers", func() bool {
		ps := b.Peers()
		return len(ps) == 1 && ps[0].Status != nil && ps[0].Status.Final == 20
	})
}

func TestDownloadFromSeveralPeersWithCorruptOne(t *testing.T) {
	const total, size = 300, 256
	hs := newHosts(t, 4)
	d, good1, short, bad := hs[0], hs[1], hs[2], hs[3]
	good1.ServeSync(&chainSource{final: total, size: size})
	short.ServeSync(&chainSource{final: 150, size: size}) // can serve only the first batches
	badSrc := &chainSource{final: total, size: size, corrupt: true}
	bad.ServeSync(badSrc)
	for _, h := range hs[1:] {
		connect(t, d, h)
	}
	check := &checkingApply{size: size}
	var progressCalls, lastDone atomic.Uint64
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := d.Download(ctx, 1, total, []string{good1.ID(), short.ID(), bad.ID()}, check.apply, func(done, tot uint64) {
		if tot != total || done < lastDone.Load() {
			t.Errorf("progress %d/%d after %d", done, tot, lastDone.Load())
		}
		lastDone.Store(done)
		progressCalls.Add(1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(check.heights) != total || check.heights[0] != 1 || check.heights[total-1] != total {
		t.Fatalf("applied %d heights", len(check.heights))
	}
	if lastDone.Load() != total || progressCalls.Load() == 0 {
		t.Fatalf("progress: %d calls, last %d", progressCalls.Load(), lastDone.Load())
	}
	// every peer gets one of the first batches, so the corrupt one is used
	if badSrc.calls.Load() == 0 || check.bad == 0 || d.appScore(bad.self) >= 0 {
		t.Fatalf("corrupt peer served %d requests, %d bad blocks seen, app score %v",
			badSrc.calls.Load(), check.bad, d.appScore(bad.self))
	}
}

func TestDownloadCorruptPeerIsReported(t *testing.T) {
	// the corrupt peer is the only one that can serve the first batch at first;
	// a good peer joins, so the bad batch must come from it in the end
	const total, size = 100, 64
	d, bad, good := newHost(t), newHost(t), newHost(t)
	bad.ServeSync(&chainSource{final: total, size: size, corrupt: true})
	good.ServeSync(&chainSource{final: total, size: size})
	connect(t, d, bad)
	connect(t, d, good)
	check := &checkingApply{size: size}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// only the bad peer first: it is dropped, then no peer is left
	err := d.Download(ctx, 1, total, []string{bad.ID()}, check.apply, nil)
	if !errors.Is(err, ErrNoPeers) || check.bad == 0 || d.appScore(bad.self) >= 0 {
		t.Fatalf("download from a corrupt peer only: %v (bad %d, score %v)", err, check.bad, d.appScore(bad.self))
	}
	check = &checkingApply{size: size}
	if err := d.Download(ctx, 1, total, []string{bad.ID(), good.ID()}, check.apply, nil); err != nil {
		t.Fatal(err)
	}
	if len(check.heights) != total {
		t.Fatalf("applied %d", len(check.heights))
	}
}

func TestDownloadStopsOnApplyError(t *testing.T) {
	a, d := newHost(t), newHost(t)
	a.ServeSync(&chainSource{final: 200, size: 32})
	connect(t, d, a)
	boom := errors.New("disk full")
	n := 0
	err := d.Download(context.Background(), 1, 200, nil, func(h uint64, _ SyncedBlock) error {
		if n++; h == 70 {
			return boom
		}
		return nil
	}, nil)
	if !errors.Is(err, boom) || n != 70 {
		t.Fatalf("got %v after %d blocks", err, n)
	}
	if err := d.Download(context.Background(), 5, 4, nil, nil, nil); err != nil {
		t.Fatalf("empty range: %v", err)
	}
	if err := d.Download(context.Background(), 1, 4, []string{"junk"}, func(uint64, SyncedBlock) error { return nil }, nil); !errors.Is(err, ErrBadPeer) {
		t.Fatalf("bad peer id: %v", err)
	}
}
