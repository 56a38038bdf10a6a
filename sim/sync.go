package sim

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// syncEvery is how often a BFT validator in a cell with pauses or
// partitions — the faults that leave a node behind — asks the peers it can
// reach for final blocks it lacks, as the host's block sync does. The real
// sync reacts to peers' announcements instead of polling; a node behind is
// noticed within this interval.
const syncEvery = time.Second

// syncCheck fetches the final blocks above n's from the reachable peer
// furthest ahead: a request and an answer cross the link, the answer
// serialised on the peer's uplink; n then finalizes them and tells its
// engine, which resumes at the height above.
func (s *Sim) syncCheck(n *node) {
	w := s.w
	defer func() {
		if w.Now() < s.cfg.Duration+s.cfg.Drain {
			w.After(syncEvery, func() { s.syncCheck(n) })
		}
	}()
	if !n.up || n.resumed(w.Now()) != w.Now() {
		return
	}
	var best *node
	for _, p := range s.nodes {
		if p != n && p.up && !s.apart(n.i, p.i, w.Now()) && p.resumed(w.Now()) == w.Now() && p.chain.final > n.chain.final &&
			(best == nil || p.chain.final > best.chain.final) {
			best = p
		}
	}
	if best == nil {
		return
	}
	var blocks []*hostv1.Block
	size := 0
	for h := n.chain.final + 1; h <= best.chain.final; h++ {
		b := best.chain.block(best.chain.canon[h])
		if b == nil {
			break
		}
		out := proto.Clone(b).(*hostv1.Block)
		out.Certificate = best.chain.certs[string(b.Hash)]
		blocks = append(blocks, out)
		size += len(b.Encoded) + len(out.Certificate)
	}
	if len(blocks) == 0 {
		return
	}
	d := 2 * s.link.Delay
	if s.link.UplinkBps > 0 {
		d += time.Duration(float64(size) / s.link.UplinkBps * float64(time.Second))
	}
	n.recvBytes += uint64(size)
	best.sentBytes += uint64(size)
	w.After(d, func() {
		if !n.up || s.apart(n.i, best.i, w.Now()) {
			return
		}
		n.run(0, func() { s.applySync(n, blocks) })
	})
}

// applySync finalizes blocks (consecutive, from n's final height up) on n's
// chain and hands the last to its engine.
func (s *Sim) applySync(n *node, blocks []*hostv1.Block) {
	ctx := context.Background()
	var last *hostv1.Block
	for _, b := range blocks {
		if b.Header.Height != n.chain.final+1 {
			continue // the engine got there meanwhile
		}
		if n.chain.block(b.Hash) == nil {
			n.chain.known[string(b.Hash)] = b
		}
		if _, err := n.chain.SetHead(ctx, &hostv1.SetHeadRequest{Hash: b.Hash}); err != nil {
			return
		}
		if _, err := n.chain.Finalize(ctx, &hostv1.FinalizeRequest{Hash: b.Hash, Certificate: b.Certificate}); err != nil {
			return
		}
		last = b
	}
	if last != nil {
		n.eng.Finalized(last)
	}
}
