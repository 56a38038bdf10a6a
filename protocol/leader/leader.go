package leader

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/trellis-chain/trellis/protocol/bls"
)

// OutputSize is the size of a VRF output.
const OutputSize = sha256.Size

// Output is a VRF output: 256 bits read big-endian as a number in [0, 2^256).
type Output [OutputSize]byte

// Domains (version 1). ProofDomain differs from the consensus vote
// domain, so a ticket is never a vote (the host's Signer signs tickets
// without slashing protection for that reason).
const (
	ProofDomain  = "trellis/leader/v1"
	outputDomain = "trellis/leader-output/v1\x00"
	nonceDomain  = "trellis/epoch-nonce/v1\x00"
)

// MaxSeedLen bounds an epoch seed.
const MaxSeedLen = 64

// ErrSeed reports an epoch seed over MaxSeedLen.
var ErrSeed = errors.New("leader: epoch seed too long")

// ProofMessage is what a validator signs to draw its ticket for a slot:
// ProofDomain | len(seed) u8 | seed | slot u64. The seed is the epoch
// nonce, which the chain's genesis hash starts, so tickets of one chain
// are worthless on another. The host's Signer signs exactly these bytes
// (SignLeaderProof).
func ProofMessage(seed []byte, slot uint64) ([]byte, error) {
	if len(seed) > MaxSeedLen {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrSeed, len(seed), MaxSeedLen)
	}
	b := make([]byte, 0, len(ProofDomain)+1+len(seed)+8)
	b = append(b, ProofDomain...)
	b = append(b, byte(len(seed)))
	b = append(b, seed...)
	return binary.BigEndian.AppendUint64(b, slot), nil
}

// OutputOf is the VRF output of a leader proof (a BLS signature).
func OutputOf(proof bls.Signature) Output {
	sb := proof.Bytes()
	h := sha256.New()
	h.Write([]byte(outputDomain))
	h.Write(sb[:])
	var o Output
	copy(o[:], h.Sum(nil))
	return o
}

// ErrProof reports a leader proof that does not verify.
var ErrProof = errors.New("leader: invalid leader proof")

// Verify checks proof under pk for the slot and returns its output.
func Verify(pk bls.PublicKey, seed []byte, slot uint64, proof bls.Signature) (Output, error) {
	msg, err := ProofMessage(seed, slot)
	if err != nil {
		return Output{}, err
	}
	if err := bls.Verify(pk, msg, proof); err != nil {
		return Output{}, fmt.Errorf("%w: slot %d: %v", ErrProof, slot, err)
	}
	return OutputOf(proof), nil
}

// NextNonce evolves an epoch nonce with the outputs of the blocks that
// count toward it, in chain order.
func NextNonce(prev [32]byte, outputs []Output) [32]byte {
	h := sha256.New()
	h.Write([]byte(nonceDomain))
	h.Write(prev[:])
	for _, o := range outputs {
		h.Write(o[:])
	}
	var n [32]byte
	copy(n[:], h.Sum(nil))
	return n
}

// Coefficient is the active-slot coefficient f = Num/Den, 0 < f < 1: the
// chance that a slot has at least one leader.
type Coefficient struct{ Num, Den uint64 }

// ParseCoefficient reads "num/den" and checks the value.
func ParseCoefficient(s string) (Coefficient, error) {
	var f Coefficient
	num, den, ok := strings.Cut(s, "/")
	var err error
	if ok {
		if f.Num, err = strconv.ParseUint(num, 10, 64); err == nil {
			f.Den, err = strconv.ParseUint(den, 10, 64)
		}
	}
	if !ok || err != nil {
		return f, fmt.Errorf("leader: active-slot coefficient %q: want a fraction such as \"1/5\"", s)
	}
	return f, f.Check()
}

// Check reports whether f is usable: 0 < f ≤ 1/2 (larger f makes forks
// from simultaneous leaders the rule rather than the exception).
func (f Coefficient) Check() error {
	if f.Den == 0 || f.Num == 0 || 2*f.Num > f.Den || f.Num > 1<<32 || f.Den > 1<<32 {
		return fmt.Errorf("leader: active-slot coefficient %d/%d: want 0 < f ≤ 1/2 with terms below 2^32", f.Num, f.Den)
	}
	return nil
}

// prec is the working precision in bits; terms bounds each series. With
// f ≤ 1/2 and σ ≤ 1 every series term past the 400th is below 2^-400.
const (
	prec  = 512
	terms = 400
)

func newF() *big.Float { return new(big.Float).SetPrec(prec).SetMode(big.ToNearestEven) }

// Threshold is φ(stake/total) = 1 − (1 − f)^(stake/total) scaled by 2^256
// and rounded down: a validator leads when its output is below it.
func Threshold(f Coefficient, stake, total uint64) (*big.Int, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	if total == 0 || stake > total {
		return nil, fmt.Errorf("leader: stake %d of a total %d", stake, total)
	}
	if stake == 0 {
		return new(big.Int), nil
	}
	// ln(1 − f) = −Σ_{k≥1} f^k / k, f ≤ 1/2.
	fr := newF().Quo(newF().SetUint64(f.Num), newF().SetUint64(f.Den))
	ln := newF()
	pow := newF().Set(fr)
	for k := uint64(1); k <= terms; k++ {
		ln.Add(ln, newF().Quo(pow, newF().SetUint64(k)))
		pow.Mul(pow, fr)
	}
	// x = σ · ln(1 − f) = −σ · ln; (1 − f)^σ = exp(x) = Σ x^k / k!, |x| ≤ ln 2.
	x := newF().Mul(ln, newF().Quo(newF().SetUint64(stake), newF().SetUint64(total)))
	x.Neg(x)
	exp := newF().SetUint64(1)
	term := newF().SetUint64(1)
	for k := uint64(1); k <= terms; k++ {
		term.Mul(term, x)
		term.Quo(term, newF().SetUint64(k))
		exp.Add(exp, term)
	}
	phi := newF().Sub(newF().SetUint64(1), exp)
	phi.SetMantExp(phi, 256) // × 2^256
	t, _ := phi.Int(nil)     // rounds toward zero
	return t, nil
}

// Leads reports whether output is a winning ticket under threshold t.
func Leads(output Output, t *big.Int) bool {
	return new(big.Int).SetBytes(output[:]).Cmp(t) < 0
}
