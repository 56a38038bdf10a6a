package p2p

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkGossipLatency publishes from a rotating host and measures the
// time until each other host delivers it; p50/p99 over all deliveries.
//
//	go test -run - -bench GossipLatency -benchtime 200x -count 3 ./core/p2p
func BenchmarkGossipLatency(b *testing.B) {
	for _, n := range []int{4, 16} {
		for _, size := range []int{200, 1024} {
			b.Run(fmt.Sprintf("hosts=%d/size=%d", n, size), func(b *testing.B) { benchGossip(b, n, size) })
		}
	}
}

func benchGossip(b *testing.B, n, size int) {
	hs := newHosts(b, n, func(c *Config) {
		c.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		c.Heartbeat = 200 * time.Millisecond
	})
	// each host dials up to 6 others (a sparse overlay, as in a real network)
	for i := range hs {
		for k := 1; k <= 3 && k < n; k++ {
			j := (i + k*k) % n
			if j != i && !connected(hs[i], hs[j]) {
				connect(b, hs[i], hs[j])
			}
		}
	}
	const topic = "/trellis/test-chain/bench"
	var mu sync.Mutex
	var lat []time.Duration
	got := make(chan struct{}, n*4)
	for _, h := range hs {
		err := h.Join(topic, nil, func(m Message) {
			if m.From == "" {
				return
			}
			sent := time.Unix(0, int64(binary.BigEndian.Uint64(m.Data)))
			mu.Lock()
			lat = append(lat, m.Received.Sub(sent))
			mu.Unlock()
			select {
			case got <- struct{}{}:
			default: // after the benchmark: nobody reads
			}
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	waitMesh(b, hs, topic, 1)
	time.Sleep(time.Second) // let the mesh fill up to D
	msg := make([]byte, size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint64(msg[8:], uint64(i))
		if err := hs[i%n].Publish(context.Background(), topic, msg); err != nil {
			b.Fatal(err)
		}
		timeout := time.After(10 * time.Second)
		for k := 0; k < n-1; k++ {
			select {
			case <-got:
			case <-timeout:
				b.Fatalf("message %d reached %d of %d hosts", i, k, n-1)
			}
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	var sent, payload uint64
	for _, h := range hs {
		tr := h.Traffic()[topic]
		sent += tr.SentBytes
		payload += tr.SentMsgs * uint64(size)
	}
	if payload > 0 {
		b.ReportMetric(float64(sent)/float64(payload)/float64(n), "wire/payload/host")
	}
}

// BenchmarkSyncThroughput downloads 64 KiB blocks from two peers.
//
//	go test -run - -bench SyncThroughput -benchtime 4x -count 3 ./core/p2p
func BenchmarkSyncThroughput(b *testing.B) {
	const size, blocks = 64 << 10, 512
	d := newHost(b, func(c *Config) { c.Listen = []string{"/ip4/127.0.0.1/tcp/0"} })
	var ids []string
	for i := 0; i < 2; i++ {
		s := newHost(b, func(c *Config) { c.Listen = []string{"/ip4/127.0.0.1/tcp/0"} })
		s.ServeSync(&cachedSource{final: blocks, size: size})
		connect(b, d, s)
		ids = append(ids, s.ID())
	}
	b.SetBytes(blocks * size)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		n := 0
		err := d.Download(context.Background(), 1, blocks, ids, func(uint64, SyncedBlock) error { n++; return nil }, nil)
		if err != nil || n != blocks {
			b.Fatalf("%d blocks, %v", n, err)
		}
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*blocks)/el, "blocks/s")
}

// cachedSource serves the same prebuilt block at every height (the benchmark
// measures the network path, not block building).
type cachedSource struct {
	final uint64
	size  int
	once  sync.Once
	blk   SyncedBlock
}

func (s *cachedSource) Status() Status { return Status{Height: s.final, Final: s.final} }

func (s *cachedSource) Blocks(from uint64, max int) ([]SyncedBlock, error) {
	s.once.Do(func() { s.blk = blockAt(1, s.size) })
	var out []SyncedBlock
	for h := from; h <= s.final && len(out) < max; h++ {
		out = append(out, s.blk)
	}
	return out, nil
}
