package bft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	"github.com/trellis-chain/trellis/protocol/wire"
	"github.com/trellis-chain/trellis/sdk"
)

// WALVersion is the write-ahead log record version.
const WALVersion = 1

// ErrWAL marks a write-ahead log record that cannot be read.
var ErrWAL = errors.New("bft: invalid write-ahead log")

// Store keys of the write-ahead log.
var (
	walKeyState   = []byte("wal/state")
	walBlockPrefx = []byte("wal/block/")
)

func walKeyBlock(h [vote.HashSize]byte) []byte {
	return append(append([]byte(nil), walBlockPrefx...), h[:]...)
}

// KV is the part of the host Store the plugin uses; *sdk.Store has it.
type KV interface {
	Get(ctx context.Context, key []byte) ([]byte, error)
	Batch(ctx context.Context, ops []sdk.Op) error
	Scan(ctx context.Context, prefix, startAfter []byte, limit int) ([]sdk.KV, bool, error)
}

// walProposal is a proposal this node signed, without its block (kept
// under its own key).
type walProposal struct {
	Round     uint32
	POLRound  int32
	BlockHash [vote.HashSize]byte
	Signature [bls.SignatureSize]byte
}

// walVote is a vote this node signed at the WAL's height.
type walVote struct {
	Round     uint32
	Step      vote.Step
	BlockHash []byte
	Signature [bls.SignatureSize]byte
}

// walState is what a restarted process needs to resume the height without
// equivocating or losing its lock.
type walState struct {
	Height      uint64
	Round       uint32
	Step        step
	LockedRound int32
	LockedHash  []byte
	ValidRound  int32
	ValidHash   []byte
	Proposals   []walProposal
	Votes       []walVote
}

// maxWALMessages bounds the signed messages kept for one height.
const maxWALMessages = 3 * 4096

func appendHash(b, h []byte) []byte { return append(append(b, byte(len(h))), h...) }

func (w *walState) encode() []byte {
	b := []byte{WALVersion}
	b = binary.BigEndian.AppendUint64(b, w.Height)
	b = binary.BigEndian.AppendUint32(b, w.Round)
	b = append(b, byte(w.Step))
	b = binary.BigEndian.AppendUint32(b, uint32(w.LockedRound))
	b = appendHash(b, w.LockedHash)
	b = binary.BigEndian.AppendUint32(b, uint32(w.ValidRound))
	b = appendHash(b, w.ValidHash)
	b = binary.BigEndian.AppendUint16(b, uint16(len(w.Proposals)))
	for _, p := range w.Proposals {
		b = binary.BigEndian.AppendUint32(b, p.Round)
		b = binary.BigEndian.AppendUint32(b, uint32(p.POLRound))
		b = append(b, p.BlockHash[:]...)
		b = append(b, p.Signature[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(w.Votes)))
	for _, v := range w.Votes {
		b = binary.BigEndian.AppendUint32(b, v.Round)
		b = append(b, byte(v.Step))
		b = appendHash(b, v.BlockHash)
		b = append(b, v.Signature[:]...)
	}
	return b
}

func (r *reader) hash() []byte {
	n := int(r.U8())
	if n != 0 && n != vote.HashSize {
		r.Fail(fmt.Errorf("%w: hash of %d bytes", ErrMessage, n))
		return nil
	}
	if n == 0 {
		return nil
	}
	return append([]byte(nil), r.Take(n)...)
}

func decodeWAL(b []byte) (*walState, error) {
	if len(b) < 1 || b[0] != WALVersion {
		return nil, fmt.Errorf("%w: missing or unknown version", ErrWAL)
	}
	r := &reader{wire.NewReader(b[1:], ErrMessage)}
	w := &walState{Height: r.U64(), Round: r.U32(), Step: step(r.U8()), LockedRound: int32(r.U32())}
	w.LockedHash = r.hash()
	w.ValidRound = int32(r.U32())
	w.ValidHash = r.hash()
	n := int(r.U16())
	if n > maxWALMessages {
		return nil, fmt.Errorf("%w: %d proposals", ErrWAL, n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		p := walProposal{Round: r.U32(), POLRound: int32(r.U32())}
		copy(p.BlockHash[:], r.Take(vote.HashSize))
		copy(p.Signature[:], r.Take(bls.SignatureSize))
		w.Proposals = append(w.Proposals, p)
	}
	n = int(r.U16())
	if n > maxWALMessages {
		return nil, fmt.Errorf("%w: %d votes", ErrWAL, n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		v := walVote{Round: r.U32(), Step: vote.Step(r.U8())}
		v.BlockHash = r.hash()
		copy(v.Signature[:], r.Take(bls.SignatureSize))
		if r.Err() == nil && v.Step != vote.StepPrevote && v.Step != vote.StepPrecommit {
			return nil, fmt.Errorf("%w: vote of %v", ErrWAL, v.Step)
		}
		w.Votes = append(w.Votes, v)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWAL, err)
	}
	switch {
	case w.Height == 0:
		return nil, fmt.Errorf("%w: height 0", ErrWAL)
	case w.Step < stepPropose || w.Step > stepCommit:
		return nil, fmt.Errorf("%w: step %d", ErrWAL, w.Step)
	case w.Round > MaxRound:
		return nil, fmt.Errorf("%w: round %d", ErrWAL, w.Round)
	case w.LockedRound < -1 || w.ValidRound < -1 || (w.LockedRound >= 0) != (w.LockedHash != nil) || (w.ValidRound >= 0) != (w.ValidHash != nil):
		return nil, fmt.Errorf("%w: lock round %d with %d-byte hash, valid round %d with %d-byte hash", ErrWAL, w.LockedRound, len(w.LockedHash), w.ValidRound, len(w.ValidHash))
	}
	return w, nil
}

// loadWAL reads the state record; nil when there is none.
func loadWAL(ctx context.Context, kv KV) (*walState, error) {
	b, err := kv.Get(ctx, walKeyState)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read write-ahead log: %w", err)
	}
	return decodeWAL(b)
}

// loadWALBlock reads a block kept with the log; nil when absent.
func loadWALBlock(ctx context.Context, kv KV, h [vote.HashSize]byte) ([]byte, error) {
	b, err := kv.Get(ctx, walKeyBlock(h))
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, nil
	}
	return b, err
}
