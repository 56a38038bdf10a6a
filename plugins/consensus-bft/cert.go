package bft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/vote"
)

// CertificateVersion is the certificate encoding this package writes.
const CertificateVersion = 1

// Errors of certificates.
var (
	// ErrCertificate marks a certificate that is malformed.
	ErrCertificate = errors.New("bft: invalid certificate")
	// ErrCertificateRejected marks a well-formed certificate that does not
	// prove its block final: wrong block, too little stake, or a signature
	// that does not verify.
	ErrCertificateRejected = errors.New("bft: certificate rejected")
)

// Certificate proves that validators holding more than two thirds of the
// stake precommitted BlockHash at (Height, Round). Signers is a bitmap over
// the validator set sorted by address (bit i of byte i/8, least significant
// first); Signature aggregates their precommit signatures, which all sign
// the same bytes.
type Certificate struct {
	Height    uint64
	Round     uint32
	BlockHash [vote.HashSize]byte
	// N is the size of the validator set the bitmap covers.
	N         int
	Signers   []byte
	Signature [bls.SignatureSize]byte
}

const certFixed = 1 + 8 + 4 + vote.HashSize + 2 + bls.SignatureSize

// MaxCertificateSize bounds an encoded certificate.
const MaxCertificateSize = certFixed + (MaxValidators+7)/8

// Signed reports whether validator i signed.
func (c *Certificate) Signed(i int) bool {
	return i >= 0 && i < c.N && c.Signers[i/8]&(1<<(i%8)) != 0
}

// Message is the precommit every signer signed.
func (c *Certificate) Message(chainID string) vote.Message {
	return vote.Message{ChainID: chainID, Height: c.Height, Round: c.Round, Step: vote.StepPrecommit, BlockHash: c.BlockHash[:]}
}

// Encode returns the canonical encoding:
// version, height, round, block hash, n (uint16), bitmap, signature.
func (c *Certificate) Encode() []byte {
	b := make([]byte, 0, certFixed+len(c.Signers))
	b = append(b, CertificateVersion)
	b = binary.BigEndian.AppendUint64(b, c.Height)
	b = binary.BigEndian.AppendUint32(b, c.Round)
	b = append(b, c.BlockHash[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(c.N))
	b = append(b, c.Signers...)
	return append(b, c.Signature[:]...)
}

// DecodeCertificate parses an encoding written by Encode, rejecting any
// other bytes for the same certificate.
func DecodeCertificate(b []byte) (*Certificate, error) {
	if len(b) > MaxCertificateSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrCertificate, len(b), MaxCertificateSize)
	}
	if len(b) < certFixed {
		return nil, fmt.Errorf("%w: %d bytes, at least %d", ErrCertificate, len(b), certFixed)
	}
	if b[0] != CertificateVersion {
		return nil, fmt.Errorf("%w: version %d (want %d)", ErrCertificate, b[0], CertificateVersion)
	}
	c := &Certificate{Height: binary.BigEndian.Uint64(b[1:]), Round: binary.BigEndian.Uint32(b[9:])}
	copy(c.BlockHash[:], b[13:])
	c.N = int(binary.BigEndian.Uint16(b[13+vote.HashSize:]))
	rest := b[15+vote.HashSize:]
	nb := (c.N + 7) / 8
	if c.N == 0 {
		return nil, fmt.Errorf("%w: empty validator set", ErrCertificate)
	}
	if c.Round > MaxRound {
		return nil, fmt.Errorf("%w: round %d above %d", ErrCertificate, c.Round, MaxRound)
	}
	if len(rest) != nb+bls.SignatureSize {
		return nil, fmt.Errorf("%w: %d bytes after the header, want %d for %d validators", ErrCertificate, len(rest), nb+bls.SignatureSize, c.N)
	}
	c.Signers = append([]byte(nil), rest[:nb]...)
	if r := c.N % 8; r != 0 && c.Signers[nb-1]>>r != 0 {
		return nil, fmt.Errorf("%w: bitmap has bits beyond validator %d", ErrCertificate, c.N)
	}
	copy(c.Signature[:], rest[nb:])
	return c, nil
}

// Verify checks the certificate against the validator set that decided its
// height: the bitmap covers the set, the signers hold more than two thirds
// of the stake, and the aggregate signature verifies under their keys with
// one pairing check.
func (c *Certificate) Verify(chainID string, set *ValidatorSet) error {
	if c.N != len(set.Validators) {
		return fmt.Errorf("%w: bitmap of %d validators, the set has %d", ErrCertificateRejected, c.N, len(set.Validators))
	}
	pks := make([]bls.PublicKey, 0, c.N)
	var stake uint64
	for i, v := range set.Validators {
		if !c.Signed(i) {
			continue
		}
		if !v.KeyOK {
			return fmt.Errorf("%w: signer %s has no usable key", ErrCertificateRejected, v.Address)
		}
		pks = append(pks, v.Key)
		stake += v.Stake // cannot overflow: the set's total fits
	}
	if !Quorum(stake, set.Total) {
		return fmt.Errorf("%w: signers hold %d of %d stake, not more than two thirds", ErrCertificateRejected, stake, set.Total)
	}
	sig, err := bls.SignatureFromBytes(c.Signature[:])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	m := c.Message(chainID)
	if err := bls.VerifyAggregate(pks, m.SignBytes(), sig); err != nil {
		return fmt.Errorf("%w: height %d round %d: %w", ErrCertificateRejected, c.Height, c.Round, err)
	}
	return nil
}

// aggregate builds a certificate from precommit signatures by validator
// index; the caller has verified each one.
func aggregate(height uint64, round uint32, hash []byte, n int, sigs map[int][]byte, dec *sigDecoder) (*Certificate, error) {
	c := &Certificate{Height: height, Round: round, N: n, Signers: make([]byte, (n+7)/8)}
	copy(c.BlockHash[:], hash)
	list := make([]bls.Signature, 0, len(sigs))
	for i, s := range sigs {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("%w: signer %d outside a set of %d", ErrCertificate, i, n)
		}
		sig, err := dec.decode(s)
		if err != nil {
			return nil, fmt.Errorf("%w: signer %d: %w", ErrCertificate, i, err)
		}
		c.Signers[i/8] |= 1 << (i % 8)
		list = append(list, sig)
	}
	agg, err := bls.AggregateSignatures(list)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	c.Signature = agg.Bytes()
	return c, nil
}
