package solo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// A solo certificate is the sequencer's BLS signature on a precommit for
// the block, made through the host's Signer (so slashing protection
// applies), with the round it signed in: a sequencer that crashed after
// signing a block it never finalized signs the next one in a later round,
// since the Signer refuses a second block in one slot.
//
//	version u8 (1) | round u32 | signer address [32] | signature [96]
const (
	certVersion = 1
	certSize    = 1 + 4 + account.AddressSize + bls.SignatureSize
	// maxRounds bounds the rounds a sequencer tries at one height.
	maxRounds = 8
)

var errCert = errors.New("solo: invalid certificate")

type certificate struct {
	round  uint32
	signer account.Address
	sig    [bls.SignatureSize]byte
}

func (c *certificate) encode() []byte {
	b := make([]byte, 0, certSize)
	b = append(b, certVersion)
	b = binary.BigEndian.AppendUint32(b, c.round)
	b = append(b, c.signer[:]...)
	return append(b, c.sig[:]...)
}

func decodeCertificate(b []byte) (*certificate, error) {
	if len(b) != certSize || b[0] != certVersion {
		return nil, fmt.Errorf("%w: %d bytes (version %d), want %d bytes of version %d", errCert, len(b), firstByte(b), certSize, certVersion)
	}
	c := &certificate{round: binary.BigEndian.Uint32(b[1:5])}
	if c.round >= maxRounds {
		return nil, fmt.Errorf("%w: round %d", errCert, c.round)
	}
	copy(c.signer[:], b[5:5+account.AddressSize])
	copy(c.sig[:], b[5+account.AddressSize:])
	return c, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// verify checks c on the block of hash at height against set, the
// validator set the block was made under: the signer must be seq when
// that is set, else hold more than two thirds of the stake, and its
// registered key must verify the signature.
func (c *certificate) verify(chainID string, height uint64, hash []byte, set *hostv1.ValidatorSet, seq account.Address) error {
	if !seq.IsZero() && c.signer != seq {
		return fmt.Errorf("%w: signed by %s, not the sequencer %s", errCert, c.signer, seq)
	}
	var stake uint64
	var key []byte
	for _, v := range set.GetValidators() {
		if string(v.GetAddress()) == string(c.signer[:]) {
			stake, key = v.GetStake(), v.GetBlsPublicKey()
		}
	}
	if key == nil {
		return fmt.Errorf("%w: signer %s is not a validator at height %d", errCert, c.signer, height)
	}
	if total := set.GetTotalStake(); seq.IsZero() && (total == 0 || stake > total || !overTwoThirds(stake, total)) {
		return fmt.Errorf("%w: signer %s holds %d of %d stake, not more than two thirds", errCert, c.signer, stake, total)
	}
	pk, err := bls.PublicKeyFromBytes(key)
	if err != nil {
		return fmt.Errorf("%w: signer %s's registered key: %v", errCert, c.signer, err)
	}
	m := vote.Message{ChainID: chainID, Height: height, Round: c.round, Step: vote.StepPrecommit, BlockHash: hash}
	sig, err := bls.SignatureFromBytes(c.sig[:])
	if err != nil {
		return fmt.Errorf("%w: signature: %v", errCert, err)
	}
	if err := bls.Verify(pk, m.SignBytes(), sig); err != nil {
		return fmt.Errorf("%w: the signature of %s on block %x at height %d: %v", errCert, c.signer, hash, height, err)
	}
	return nil
}

// overTwoThirds reports 3·stake > 2·total, in 128 bits.
func overTwoThirds(stake, total uint64) bool {
	h1, l1 := bits.Mul64(stake, 3)
	h2, l2 := bits.Mul64(total, 2)
	return h1 > h2 || h1 == h2 && l1 > l2
}
