package leader

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
)

// BlockData is a longest-chain block's consensus data: the slot, the
// leader's proof for it, and the leader's signature of the block.
//
// The signature covers the block with its signature bytes zeroed (the
// "unsigned hash"), as a vote.Message of step StepBlock: Height is the
// slot and Extra the block height, so the host's slashing protection lets a
// leader sign one block per slot, and two blocks signed for one slot are
// double-sign evidence the ledger slashes.
type BlockData struct {
	Slot  uint64
	Proof [bls.SignatureSize]byte
	Sig   [bls.SignatureSize]byte
}

// BlockDataVersion is the version byte of the encoding.
const BlockDataVersion = 1

// BlockDataSize is the size of an encoding.
const BlockDataSize = 1 + 8 + 2*bls.SignatureSize

// ErrBlock reports malformed or wrongly signed consensus data.
var ErrBlock = errors.New("leader: invalid block consensus data")

// Encode returns the canonical encoding.
func (d *BlockData) Encode() []byte {
	b := make([]byte, 0, BlockDataSize)
	b = append(b, BlockDataVersion)
	b = binary.BigEndian.AppendUint64(b, d.Slot)
	b = append(b, d.Proof[:]...)
	return append(b, d.Sig[:]...)
}

// DecodeBlockData parses an encoding written by Encode.
func DecodeBlockData(b []byte) (BlockData, error) {
	var d BlockData
	if len(b) != BlockDataSize {
		return d, fmt.Errorf("%w: %d bytes, want %d", ErrBlock, len(b), BlockDataSize)
	}
	if b[0] != BlockDataVersion {
		return d, fmt.Errorf("%w: version %d, want %d", ErrBlock, b[0], BlockDataVersion)
	}
	d.Slot = binary.BigEndian.Uint64(b[1:])
	copy(d.Proof[:], b[9:])
	copy(d.Sig[:], b[9+bls.SignatureSize:])
	return d, nil
}

// UnsignedHash is the hash of the header with d's signature zeroed: what
// the leader signs.
func UnsignedHash(h block.Header, d BlockData) block.Hash {
	d.Sig = [bls.SignatureSize]byte{}
	h.ConsensusData = d.Encode()
	return h.Hash()
}

// BlockMessage is the message a leader signs for a block at height whose
// unsigned hash is u, in slot.
func BlockMessage(chainID string, slot, height uint64, u block.Hash) vote.Message {
	return vote.Message{ChainID: chainID, Height: slot, Step: vote.StepBlock, BlockHash: u[:],
		Extra: binary.BigEndian.AppendUint64(nil, height)}
}

// VerifyBlockSig checks that h's consensus data is signed by pk and
// returns the data.
func VerifyBlockSig(h *block.Header, pk bls.PublicKey) (BlockData, error) {
	d, err := DecodeBlockData(h.ConsensusData)
	if err != nil {
		return d, err
	}
	sig, err := bls.SignatureFromBytes(d.Sig[:])
	if err != nil {
		return d, fmt.Errorf("%w: block signature: %w", ErrBlock, err)
	}
	m := BlockMessage(h.ChainID, d.Slot, h.Height, UnsignedHash(*h, d))
	if err := bls.Verify(pk, m.SignBytes(), sig); err != nil {
		return d, fmt.Errorf("%w: block signature does not verify with the leader's key: %w", ErrBlock, err)
	}
	return d, nil
}
