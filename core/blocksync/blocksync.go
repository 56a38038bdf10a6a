package blocksync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/p2p"
	"github.com/trellis-chain/trellis/protocol/block"
)

// Tuning.
const (
	Interval = 500 * time.Millisecond // between two sync rounds
	Window   = 1024                   // heights fetched per Download call
	// applyTimeout bounds checking and committing one block.
	applyTimeout = time.Minute
)

// ErrBadBlock is wrapped by every rejection of a block received by sync. It
// wraps p2p.ErrBadBlock, so Download reports and drops the peer that sent
// the block and fetches it again from another.
var ErrBadBlock = fmt.Errorf("sync: %w", p2p.ErrBadBlock)

// ErrLocal is wrapped by sync failures that are this node's, not the
// peer's: no consensus plugin, a storage error.
var ErrLocal = errors.New("sync")

// FinalityVerifier decides whether a certificate makes a block final under
// the validator set of its parent: the consensus plugin does. A refusal
// wraps ErrBadBlock; a failure to ask wraps ErrLocal.
type FinalityVerifier interface {
	VerifyFinal(ctx context.Context, blk *block.Block, certificate []byte) error
}

// Network is what sync needs of the p2p host.
type Network interface {
	Peers() []p2p.PeerInfo
	Download(ctx context.Context, from, to uint64, peers []string, apply func(height uint64, b p2p.SyncedBlock) error, progress func(done, total uint64)) error
}

// Syncer fetches final blocks peers have and this node lacks.
type Syncer struct {
	chain  *chain.Chain
	net    Network
	verify FinalityVerifier
	log    hclog.Logger
}

// New returns a syncer of c over net; Run starts it.
func New(c *chain.Chain, net Network, v FinalityVerifier, log hclog.Logger) *Syncer {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Syncer{chain: c, net: net, verify: v, log: log}
}

// Run syncs every Interval until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Once(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sync", "error", err)
		}
	}
}

// Once runs one sync round: up to Window final blocks from the peers ahead.
func (s *Syncer) Once(ctx context.Context) error {
	_, final := s.chain.Head()
	ours := final.Header.Height
	var best uint64
	var peers []string
	for _, p := range s.net.Peers() {
		if p.Status != nil && p.Status.Final > ours {
			peers = append(peers, p.ID)
			best = max(best, p.Status.Final)
		}
	}
	if len(peers) == 0 {
		return nil
	}
	to := min(best, ours+Window)
	t0 := time.Now()
	s.log.Info("syncing final blocks", "from", ours+1, "to", to, "best_peer_final", best, "peers", len(peers))
	progress := func(done, total uint64) {
		s.log.Info("sync progress", "blocks", fmt.Sprintf("%d/%d", done, total))
	}
	if err := s.net.Download(ctx, ours+1, to, peers, s.apply, progress); err != nil {
		return err
	}
	s.log.Info("synced", "to", to, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// apply checks a final block from a peer — its certificate with the
// consensus plugin, its execution with the chain — then commits it and
// marks it canonical and final.
func (s *Syncer) apply(height uint64, sb p2p.SyncedBlock) error {
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	c := s.chain
	blk, err := block.Decode(sb.Encoded)
	if err != nil {
		return fmt.Errorf("%w: block %d: %w", ErrBadBlock, height, err)
	}
	if blk.Header.Height != height {
		return fmt.Errorf("%w: asked for height %d, got %d", ErrBadBlock, height, blk.Header.Height)
	}
	h := blk.Hash()
	if _, final := c.Head(); final.Header.Height >= height {
		if ch, err := c.CanonicalHash(height); err == nil && ch == h {
			return nil // decided here meanwhile
		}
		return fmt.Errorf("%w: block %s at final height %d conflicts with ours", ErrBadBlock, h, height)
	}
	if err := s.verify.VerifyFinal(ctx, blk, sb.Certificate); err != nil {
		return err
	}
	if ch, err := c.CanonicalHash(height); err == nil && ch == h {
		// Already on our chain (a longest-chain node whose head is past
		// it): finalize it where it is, without moving the head back.
		return c.Finalize(ctx, h, sb.Certificate)
	}
	if _, err := c.Commit(ctx, sb.Encoded); err != nil {
		if errors.Is(err, chain.ErrInvalidBlock) {
			return fmt.Errorf("%w: block %d: %w", ErrBadBlock, height, err)
		}
		return fmt.Errorf("%w: committing block %d: %w", ErrLocal, height, err)
	}
	if _, err := c.SetHead(ctx, h); err != nil {
		return fmt.Errorf("%w: block %d: %w", ErrLocal, height, err)
	}
	return c.Finalize(ctx, h, sb.Certificate)
}

// Source serves a chain's final blocks to peers (p2p.BlockSource).
type Source struct{ Chain *chain.Chain }

// Status implements p2p.BlockSource.
func (s Source) Status() p2p.Status {
	c := s.Chain
	head, final := c.Head()
	return p2p.Status{ChainID: c.ChainID(), Genesis: c.Genesis(), Height: head.Header.Height, Final: final.Header.Height, Head: head.Hash()}
}

// Blocks implements p2p.BlockSource.
func (s Source) Blocks(from uint64, max int) ([]p2p.SyncedBlock, error) {
	c := s.Chain
	_, final := c.Head()
	var out []p2p.SyncedBlock
	for h := from; h <= final.Header.Height && len(out) < max; h++ {
		b, err := c.BlockByHeight(h)
		if err != nil {
			return out, err
		}
		cert, err := c.Certificate(b.Hash())
		if err != nil {
			return out, err
		}
		out = append(out, p2p.SyncedBlock{Encoded: b.Encode(), Certificate: cert})
	}
	return out, nil
}
