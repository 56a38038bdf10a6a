package p2p

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Download fetches heights [from, to] in batches (downloadBatch blocks or
// BatchBytes, whichever is smaller) from several peers in parallel, each batch
// from a peer whose Status.Final >= the batch's end, and calls apply in
// strictly increasing height order from the calling goroutine. A failed or
// timed-out fetch is retried on another peer and the failing peer Reported
// (dropped from this download after maxPeerFailures). If apply returns an
// error wrapping ErrBadBlock, the peer that sent that block is Reported and
// dropped and the heights from there are fetched again; any other error from
// apply stops Download and is returned. progress (may be nil) is called after
// each applied batch. peers empty means every connected peer.
func (h *Host) Download(ctx context.Context, from, to uint64, peers []string, apply func(height uint64, b SyncedBlock) error, progress func(done, total uint64)) error {
	if to < from {
		return nil
	}
	if apply == nil {
		return fmt.Errorf("%w: download: nil apply", ErrConfig)
	}
	var ids []peer.ID
	if len(peers) == 0 {
		ids = h.h.Network().Peers()
	}
	for _, s := range peers {
		p, err := decodePeer(s)
		if err != nil {
			return err
		}
		if p != h.self {
			ids = append(ids, p)
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: download %d..%d: no peers", ErrNoPeers, from, to)
	}
	d := &download{h: h, from: from, to: to, total: to - from + 1,
		peers: map[peer.ID]*dlPeer{}, results: map[uint64]*dlResult{}}
	for _, p := range ids {
		d.peers[p] = &dlPeer{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return d.run(ctx, apply, progress)
}

type dlPeer struct {
	final    uint64
	known    bool // final is from a status answer
	busy     bool
	failures int
	dropped  bool
}

type dlResult struct {
	peer   peer.ID
	blocks []SyncedBlock
}

type download struct {
	h             *Host
	from, to      uint64
	total         uint64
	peers         map[peer.ID]*dlPeer
	pending       []uint64             // batch starts waiting for a fetch, sorted
	results       map[uint64]*dlResult // fetched batches by start height
	next          uint64               // next height to apply
	queued        uint64               // heights below this have a batch (pending, in flight or fetched)
	lastProgress  time.Time
	statusRefresh time.Time
}

func (d *download) batchEnd(start uint64) uint64 {
	end := start + downloadBatch - 1
	if end > d.to || end < start {
		end = d.to
	}
	return end
}

// refreshStatuses asks every usable peer for its status, in parallel.
func (d *download) refreshStatuses(ctx context.Context) {
	type ans struct {
		p  peer.ID
		st Status
		ok bool
	}
	var ps []peer.ID
	for p, dp := range d.peers {
		if !dp.dropped {
			ps = append(ps, p)
		}
	}
	ch := make(chan ans, len(ps))
	for _, p := range ps {
		go func(p peer.ID) {
			st, err := d.h.peerStatus(ctx, p)
			ch <- ans{p, st, err == nil}
		}(p)
	}
	for range ps {
		a := <-ch
		if a.ok && a.st.ChainID == d.h.cfg.ChainID && a.st.Genesis == d.h.cfg.Genesis {
			d.peers[a.p].final, d.peers[a.p].known = a.st.Final, true
		}
	}
	d.statusRefresh = time.Now()
}

func (d *download) run(ctx context.Context, apply func(uint64, SyncedBlock) error, progress func(done, total uint64)) error {
	type fetched struct {
		start  uint64
		peer   peer.ID
		blocks []SyncedBlock
		err    error
	}
	done := make(chan fetched, len(d.peers))
	d.next, d.queued = d.from, d.from
	d.lastProgress = time.Now()
	d.refreshStatuses(ctx)
	window := uint64(2*len(d.peers)+2) * downloadBatch
	running := 0
	defer func() {
		// drain fetches still running so their goroutines end
		for ; running > 0; running-- {
			<-done
		}
	}()

	for d.next <= d.to {
		// queue batches within the window ahead of next
		for d.queued <= d.to && d.queued < d.next+window {
			d.pending = append(d.pending, d.queued)
			d.queued = d.batchEnd(d.queued) + 1
			if d.queued == 0 { // overflow at MaxUint64
				break
			}
		}
		sort.Slice(d.pending, func(i, j int) bool { return d.pending[i] < d.pending[j] })
		// hand pending batches to idle peers, lowest first
		usable := 0
		for i := 0; i < len(d.pending); {
			start := d.pending[i]
			p := d.pick(start, d.batchEnd(start))
			if p == "" {
				i++
				continue
			}
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			d.peers[p].busy = true
			running++
			count := int(d.batchEnd(start) - start + 1)
			go func(start uint64, p peer.ID, count int) {
				blocks, err := d.h.fetch(ctx, p, start, count)
				done <- fetched{start, p, blocks, err}
			}(start, p, count)
		}
		for _, dp := range d.peers {
			if !dp.dropped {
				usable++
			}
		}
		if usable == 0 {
			return fmt.Errorf("%w: download stopped at height %d of %d..%d: every peer failed", ErrNoPeers, d.next, d.from, d.to)
		}

		// apply what is ready, in order
		for {
			r := d.results[d.next]
			if r == nil {
				break
			}
			delete(d.results, d.next)
			start := d.next
			for i, blk := range r.blocks {
				height := start + uint64(i)
				if err := apply(height, blk); err != nil {
					if !errors.Is(err, ErrBadBlock) {
						return fmt.Errorf("p2p: download: apply height %d: %w", height, err)
					}
					d.h.report(r.peer, fmt.Sprintf("bad block at height %d", height))
					d.peers[r.peer].dropped = true
					d.requeue(height)
					break
				}
				d.next = height + 1
			}
			d.gc()
			d.lastProgress = time.Now()
			if progress != nil && d.next > start {
				progress(d.next-d.from, d.total)
			}
			if d.next > d.to || d.next == 0 {
				return nil
			}
		}

		if len(d.pending) > 0 && running == 0 && time.Since(d.lastProgress) > stallTimeout {
			return fmt.Errorf("%w: no peer has final height %d (download %d..%d) after %s",
				ErrNoPeers, d.batchEnd(d.pending[0]), d.from, d.to, stallTimeout)
		}
		tick := time.After(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			return fmt.Errorf("p2p: download %d..%d at %d: %w", d.from, d.to, d.next, ctx.Err())
		case f := <-done:
			running--
			dp := d.peers[f.peer]
			dp.busy = false
			if f.err == nil && len(f.blocks) == 0 {
				f.err = fmt.Errorf("%w: %s sent no blocks from %d", ErrBadResponse, f.peer, f.start)
			}
			if f.err != nil {
				if ctx.Err() != nil {
					continue
				}
				d.h.log.Debug("sync fetch failed", "peer", f.peer.String(), "from", f.start, "err", f.err)
				d.h.report(f.peer, "sync fetch failed")
				if dp.failures++; dp.failures >= maxPeerFailures || d.h.h.Network().Connectedness(f.peer) != network.Connected {
					dp.dropped = true
				}
				d.pending = append(d.pending, f.start)
				continue
			}
			if f.start < d.next { // stale: re-cut after a bad block
				continue
			}
			if dp.dropped { // sent bad blocks meanwhile: do not trust this batch
				d.pending = append(d.pending, f.start)
				continue
			}
			dp.failures = 0
			d.results[f.start] = &dlResult{peer: f.peer, blocks: f.blocks}
			// a short answer (byte limit): the rest of the batch is queued again
			if got := uint64(len(f.blocks)); f.start+got-1 < d.batchEnd(f.start) {
				d.pending = append(d.pending, f.start+got)
			}
		case <-tick:
			if time.Since(d.statusRefresh) > statusInterval {
				d.refreshStatuses(ctx)
			}
		}
	}
	return nil
}

// pick chooses an idle, usable peer whose final height covers end.
func (d *download) pick(start, end uint64) peer.ID {
	var best peer.ID
	bestFail := maxPeerFailures + 1
	for p, dp := range d.peers {
		if dp.busy || dp.dropped || !dp.known || dp.final < end {
			continue
		}
		if dp.failures < bestFail || (dp.failures == bestFail && p < best) {
			best, bestFail = p, dp.failures
		}
	}
	return best
}

// requeue forgets fetched results from height on and queues them again.
func (d *download) requeue(height uint64) {
	for start := range d.results {
		if start >= height {
			delete(d.results, start)
		}
	}
	var keep []uint64
	for _, s := range d.pending {
		if s < height {
			keep = append(keep, s)
		}
	}
	d.pending = keep
	// batches in flight still land in results; they hold the right heights
	// (from peers not dropped) and are used or dropped by gc
	d.queued = height
}

// gc drops fetched results that start below the next height to apply (left
// over from batches re-cut after a bad block).
func (d *download) gc() {
	for start := range d.results {
		if start < d.next {
			delete(d.results, start)
		}
	}
}
