package node

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/protocol/block"
)

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, buf *syncBuf, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // only stops a hung test
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", want, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWatchBlocks: a line per head and per final block, a warning when the
// heads stop (once), and a line when they resume.
func TestWatchBlocks(t *testing.T) {
	buf := &syncBuf{}
	log := hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Info})
	ev := make(chan chain.Event)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		watchBlocks(ctx, ev, log, 50*time.Millisecond, 10*time.Millisecond)
		close(done)
	}()
	blk := func(h uint64, ts int64) *block.Block {
		return &block.Block{Header: block.Header{ChainID: "c", Height: h, TimestampMs: ts}}
	}
	ev <- chain.Event{Kind: chain.EventHead, Block: blk(1, 1000)}
	ev <- chain.Event{Kind: chain.EventHead, Block: blk(2, 1010), Reverted: []block.Hash{{1}}}
	ev <- chain.Event{Kind: chain.EventFinal, Block: blk(2, 1010)}
	waitFor(t, buf, "new head: height=2 hash=0x")
	waitFor(t, buf, "interval=10ms reverted=1")
	waitFor(t, buf, "final: height=2 hash=0x")
	waitFor(t, buf, "no new block: since=")
	time.Sleep(100 * time.Millisecond)
	if n := strings.Count(buf.String(), "no new block"); n != 1 {
		t.Fatalf("%d stall warnings for one stall:\n%s", n, buf.String())
	}
	ev <- chain.Event{Kind: chain.EventHead, Block: blk(3, 1020)}
	waitFor(t, buf, "blocks resumed")
	waitFor(t, buf, "new head: height=3")
	cancel()
	<-done
}
