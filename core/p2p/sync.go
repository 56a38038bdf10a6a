package p2p

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"
)

// Status is what a node says about its chain in the handshake.
type Status struct {
	ChainID       string
	Genesis       [32]byte
	Height, Final uint64
	Head          [32]byte
}

// SyncedBlock is a final block's canonical encoding and its certificate.
type SyncedBlock struct {
	Encoded     []byte
	Certificate []byte
}

// BlockSource serves sync requests.
type BlockSource interface {
	Status() Status
	// Blocks returns up to max consecutive FINAL canonical blocks starting at
	// height from (fewer at the end).
	Blocks(from uint64, max int) ([]SyncedBlock, error)
}

// Sync tuning.
const (
	statusInterval  = 2 * time.Second // status refresh of connected peers
	fetchTimeout    = 20 * time.Second
	downloadBatch   = 64 // blocks per request
	maxPeerFailures = 3  // fetch failures before a peer is dropped from a download
	stallTimeout    = 30 * time.Second
)

// ServeSync makes the host answer status and sync requests from src. Until
// it is called, status answers carry only the chain id and genesis, and sync
// requests fail.
func (h *Host) ServeSync(src BlockSource) { h.src.Store(&sourceBox{src: src}) }

func (h *Host) ownStatus() Status {
	if b := h.src.Load(); b != nil && b.src != nil {
		s := b.src.Status()
		s.ChainID, s.Genesis = h.cfg.ChainID, h.cfg.Genesis
		if s.Final > s.Height {
			s.Final = s.Height
		}
		return s
	}
	return Status{ChainID: h.cfg.ChainID, Genesis: h.cfg.Genesis}
}

func (h *Host) handleStatus(s network.Stream) {
	p := s.Conn().RemotePeer()
	if !h.limits.get(p).status.Allow() {
		_ = s.Reset()
		h.reportThrottled(p, "status request rate")
		return
	}
	_ = s.SetDeadline(time.Now().Add(streamTimeout))
	req, err := readLimited(s, 16)
	if err != nil || len(req) != 1 || req[0] != wireVersion {
		_ = s.Reset()
		h.reportThrottled(p, "malformed status request")
		return
	}
	b, err := encodeStatus(h.ownStatus())
	if err != nil {
		_ = s.Reset()
		return
	}
	if _, err := s.Write(b); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

func (h *Host) handleSync(s network.Stream) {
	p := s.Conn().RemotePeer()
	if !h.limits.get(p).sync.Allow() {
		_ = s.Reset()
		h.reportThrottled(p, "sync request rate")
		return
	}
	_ = s.SetReadDeadline(time.Now().Add(streamTimeout))
	b, err := readLimited(s, 32)
	if err != nil {
		_ = s.Reset()
		return
	}
	q, err := decodeSyncRequest(b)
	if err != nil {
		_ = s.Reset()
		h.reportThrottled(p, "malformed sync request")
		return
	}
	var resp syncResponse
	box := h.src.Load()
	if box == nil || box.src == nil {
		resp.Err = "no block source"
	} else if blocks, err := box.src.Blocks(q.From, q.Count); err != nil {
		resp.Err = fmt.Sprintf("blocks from %d: %v", q.From, err)
	} else {
		size := 0
		for i, blk := range blocks {
			if i >= q.Count || len(blk.Encoded) > MaxBlockBytes || len(blk.Certificate) > MaxCertBytes {
				break
			}
			n := len(blk.Encoded) + len(blk.Certificate)
			if i > 0 && size+n > BatchBytes {
				break
			}
			size += n
			resp.Blocks = append(resp.Blocks, blk)
		}
	}
	out, err := encodeSyncResponse(resp)
	if err != nil {
		out, _ = encodeSyncResponse(syncResponse{Err: err.Error()})
	}
	_ = s.SetWriteDeadline(time.Now().Add(responseTimeout))
	if _, err := s.Write(out); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// request writes req on a new stream and reads the whole response.
func (h *Host) request(ctx context.Context, p peer.ID, proto protocol.ID, req []byte, max int, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := h.h.NewStream(ctx, p, proto)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", proto, err)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if _, err := s.Write(req); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("write %s request: %w", proto, err)
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("close %s request: %w", proto, err)
	}
	b, err := readLimited(s, max)
	if err != nil {
		_ = s.Reset()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read %s response: %w", proto, ctx.Err())
		}
		return nil, fmt.Errorf("read %s response: %w", proto, err)
	}
	_ = s.Close()
	return b, nil
}

// PeerStatus asks a peer for its status and remembers it.
func (h *Host) PeerStatus(ctx context.Context, peerID string) (Status, error) {
	p, err := decodePeer(peerID)
	if err != nil {
		return Status{}, err
	}
	return h.peerStatus(ctx, p)
}

func (h *Host) peerStatus(ctx context.Context, p peer.ID) (Status, error) {
	b, err := h.request(ctx, p, h.protoStatus, []byte{wireVersion}, statusBytes, streamTimeout)
	if err != nil {
		return Status{}, fmt.Errorf("p2p: status of %s: %w", p, err)
	}
	st, err := decodeStatus(b)
	if err != nil {
		return Status{}, fmt.Errorf("p2p: status of %s: %w", p, err)
	}
	if h.h.Network().Connectedness(p) == network.Connected {
		h.mu.Lock()
		h.statuses[p] = st
		h.mu.Unlock()
	}
	return st, nil
}

// handshake checks a new peer's status: another chain id or genesis (or no
// status protocol for our chain at all) bans it.
func (h *Host) handshake(p peer.ID) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-h.ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
		if h.h.Network().Connectedness(p) != network.Connected {
			return
		}
		var st Status
		st, err = h.peerStatus(h.ctx, p)
		if err == nil {
			if st.ChainID != h.cfg.ChainID || st.Genesis != h.cfg.Genesis {
				h.ban(p, fmt.Sprintf("handshake: chain %q genesis %x, want %q %x", st.ChainID, st.Genesis[:4], h.cfg.ChainID, h.cfg.Genesis[:4]))
			}
			return
		}
		if errors.Is(err, ErrMalformed) || isProtocolUnsupported(err) {
			// another chain (its protocols are scoped by chain id) or junk
			h.ban(p, fmt.Sprintf("handshake: %v", err))
			return
		}
	}
	if h.ctx.Err() == nil && h.h.Network().Connectedness(p) == network.Connected {
		h.log.Debug("handshake failed, disconnecting", "peer", p.String(), "err", err)
		_ = h.h.Network().ClosePeer(p)
	}
}

func isProtocolUnsupported(err error) bool {
	return errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}) || errors.Is(err, msmux.ErrNotSupported[string]{})
}

// statusLoop refreshes the status of every connected peer.
func (h *Host) statusLoop() {
	defer h.wg.Done()
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, p := range h.h.Network().Peers() {
			h.mu.Lock()
			busy := h.handshaking[p]
			h.mu.Unlock()
			if busy {
				continue
			}
			wg.Add(1)
			go func(p peer.ID) {
				defer wg.Done()
				if st, err := h.peerStatus(h.ctx, p); err == nil && (st.ChainID != h.cfg.ChainID || st.Genesis != h.cfg.Genesis) {
					h.ban(p, "status: other chain")
				}
			}(p)
		}
		wg.Wait()
	}
}

// FetchBlocks asks one peer for up to count blocks from height from. It
// checks the wire format only; the caller validates the blocks.
func (h *Host) FetchBlocks(ctx context.Context, peerID string, from uint64, count int) ([]SyncedBlock, error) {
	p, err := decodePeer(peerID)
	if err != nil {
		return nil, err
	}
	return h.fetch(ctx, p, from, count)
}

func (h *Host) fetch(ctx context.Context, p peer.ID, from uint64, count int) ([]SyncedBlock, error) {
	if count <= 0 || count > MaxBatchBlocks {
		return nil, fmt.Errorf("%w: fetch count %d not in 1..%d", ErrConfig, count, MaxBatchBlocks)
	}
	b, err := h.request(ctx, p, h.protoSync, encodeSyncRequest(syncRequest{From: from, Count: count}), MaxResponseBytes, fetchTimeout)
	if err != nil {
		return nil, fmt.Errorf("p2p: fetch blocks %d+%d from %s: %w", from, count, p, err)
	}
	resp, err := decodeSyncResponse(b)
	if err != nil {
		return nil, fmt.Errorf("p2p: fetch blocks %d+%d from %s: %w", from, count, p, err)
	}
	if resp.Err != "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrNoSource, p, resp.Err)
	}
	if len(resp.Blocks) > count {
		return nil, fmt.Errorf("%w: %s sent %d blocks, asked %d", ErrBadResponse, p, len(resp.Blocks), count)
	}
	return resp.Blocks, nil
}
