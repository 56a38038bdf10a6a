package leader

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Params are a longest-chain network's consensus parameters. Every node
// must agree on them, so they live in genesis: the host writes Encode's
// bytes as block 0's consensus data and the plugin reads them from there.
type Params struct {
	// SlotMs is the slot length; slot s starts at genesis time + s·SlotMs.
	SlotMs uint32
	// EpochSlots is the epoch length in slots.
	EpochSlots uint64
	// Active is the active-slot coefficient f: the chance that a slot has
	// at least one leader when all stake takes part.
	Active Coefficient
	// K is the security parameter: a block K blocks under the head is
	// final ("k-deep"), and no fork that reverts it is ever adopted.
	K uint32
	// TieSlots: two chains of equal length whose tips are at most this
	// many slots apart are ordered by the tips' VRF outputs (lower wins);
	// farther apart, the node keeps the chain it has.
	TieSlots uint32
	// MaxProofLag bounds the proof lag: when the oldest unproven block is
	// more than this many blocks under the parent, a leader may only
	// propose a block that carries a proof. 0 disables the rule.
	MaxProofLag uint32
}

// Defaults: one block a second on average (200 ms slots, f = 1/5), final
// 60 blocks deep, epochs of 10k/f slots (10 minutes); docs/consensus-lc.md
// gives the reasoning and the figures.
var Defaults = Params{SlotMs: 200, EpochSlots: 3000, Active: Coefficient{Num: 1, Den: 5}, K: 60, TieSlots: 5, MaxProofLag: 128}

// ParamsVersion is the version byte of the encoding.
const ParamsVersion = 1

// ParamsSize is the size of an encoding.
const ParamsSize = 1 + 4 + 8 + 8 + 8 + 4 + 4 + 4

// Bounds of the parameters.
const (
	MinSlotMs = 10
	MaxSlotMs = 60_000
	MaxK      = 10_000
	// MaxEpochSlots keeps slot arithmetic far from overflow.
	MaxEpochSlots = 1 << 32
)

// ErrParams reports parameters out of range or a malformed encoding.
var ErrParams = errors.New("leader: invalid longest-chain parameters")

// Check validates ranges and the relations the epoch rules need: an epoch
// is at least 10k/f slots, so the stake snapshot (two epochs back) and the
// nonce contributions (cut 4k/f slots before an epoch's end) are settled
// — more than k blocks deep on every honest node — when they are used.
func (p Params) Check() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", ErrParams, fmt.Sprintf(f, a...)) }
	if err := p.Active.Check(); err != nil {
		return bad("active-slot coefficient: %v", err)
	}
	switch {
	case p.SlotMs < MinSlotMs || p.SlotMs > MaxSlotMs:
		return bad("slot length %d ms, want %d to %d", p.SlotMs, MinSlotMs, MaxSlotMs)
	case p.K < 1 || p.K > MaxK:
		return bad("k = %d, want 1 to %d", p.K, MaxK)
	case p.EpochSlots < 1 || p.EpochSlots > MaxEpochSlots:
		return bad("epoch of %d slots, want 1 to %d", p.EpochSlots, uint64(MaxEpochSlots))
	case p.EpochSlots < p.MinEpochSlots():
		return bad("epoch of %d slots is shorter than 10k/f = %d slots (k = %d, f = %d/%d)", p.EpochSlots, p.MinEpochSlots(), p.K, p.Active.Num, p.Active.Den)
	case uint64(p.TieSlots) > p.EpochSlots:
		return bad("tie window of %d slots is longer than an epoch", p.TieSlots)
	case p.MaxProofLag != 0 && p.MaxProofLag <= p.K:
		// Provers prove k-deep blocks, so a block is always about k under
		// the head before its proof can exist.
		return bad("max proof lag %d must exceed k = %d (or be 0: no bound)", p.MaxProofLag, p.K)
	}
	return nil
}

// slotsFor is ⌈n·k/f⌉ slots.
func (p Params) slotsFor(n uint64) uint64 {
	num := n * uint64(p.K) * p.Active.Den
	return (num + p.Active.Num - 1) / p.Active.Num
}

// MinEpochSlots is 10k/f, rounded up.
func (p Params) MinEpochSlots() uint64 { return p.slotsFor(10) }

// NonceCutoff is the first slot of an epoch whose blocks no longer feed
// the next epoch's nonce: 4k/f slots before the epoch ends.
func (p Params) NonceCutoff(epoch uint64) uint64 {
	return epoch*p.EpochSlots + p.EpochSlots - p.slotsFor(4)
}

// Epoch is the epoch of a slot.
func (p Params) Epoch(slot uint64) uint64 { return slot / p.EpochSlots }

// Encode returns the canonical encoding.
func (p Params) Encode() []byte {
	b := make([]byte, 0, ParamsSize)
	b = append(b, ParamsVersion)
	b = binary.BigEndian.AppendUint32(b, p.SlotMs)
	b = binary.BigEndian.AppendUint64(b, p.EpochSlots)
	b = binary.BigEndian.AppendUint64(b, p.Active.Num)
	b = binary.BigEndian.AppendUint64(b, p.Active.Den)
	b = binary.BigEndian.AppendUint32(b, p.K)
	b = binary.BigEndian.AppendUint32(b, p.TieSlots)
	return binary.BigEndian.AppendUint32(b, p.MaxProofLag)
}

// DecodeParams parses and checks an encoding written by Encode.
func DecodeParams(b []byte) (Params, error) {
	var p Params
	if len(b) != ParamsSize {
		return p, fmt.Errorf("%w: %d bytes, want %d", ErrParams, len(b), ParamsSize)
	}
	if b[0] != ParamsVersion {
		return p, fmt.Errorf("%w: version %d, want %d", ErrParams, b[0], ParamsVersion)
	}
	p.SlotMs = binary.BigEndian.Uint32(b[1:])
	p.EpochSlots = binary.BigEndian.Uint64(b[5:])
	p.Active = Coefficient{Num: binary.BigEndian.Uint64(b[13:]), Den: binary.BigEndian.Uint64(b[21:])}
	p.K = binary.BigEndian.Uint32(b[29:])
	p.TieSlots = binary.BigEndian.Uint32(b[33:])
	p.MaxProofLag = binary.BigEndian.Uint32(b[37:])
	return p, p.Check()
}

const genesisNonceDomain = "trellis/genesis-nonce/v1\x00"

// GenesisNonce is epoch 0's nonce, from which the others follow: a hash of the genesis
// block's hash, so tickets of one chain are worthless on another.
func GenesisNonce(genesisHash [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(genesisNonceDomain))
	h.Write(genesisHash[:])
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}
