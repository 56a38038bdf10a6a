package bft

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"slices"
	"sync"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	hostv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/host/v1"
)

// MaxValidators bounds a validator set; the certificate's signer count is a
// uint16.
const MaxValidators = 1<<16 - 1

// ErrValidatorSet marks a validator set from the host that cannot be used.
var ErrValidatorSet = errors.New("bft: invalid validator set")

// Validator is one member of a set, with its decoded BLS key.
type Validator struct {
	Address account.Address
	Key     bls.PublicKey
	Stake   uint64
	// KeyOK is false when the key or its proof of possession did not
	// verify: such a validator counts in the total stake but can never
	// sign, so it can only make a quorum harder to reach.
	KeyOK bool
}

// ValidatorSet is the set that decides one height, sorted by address.
type ValidatorSet struct {
	Validators []Validator
	Total      uint64
	index      map[account.Address]int
}

// keyCache remembers public keys whose proof of possession verified, so a
// key is decoded and checked once per process, not once per height.
type keyCache struct {
	mu sync.Mutex
	m  map[[bls.PublicKeySize]byte]bls.PublicKey
}

const maxCachedKeys = 1 << 17

var keys = &keyCache{m: make(map[[bls.PublicKeySize]byte]bls.PublicKey)}

func (c *keyCache) get(pk, pop []byte) (bls.PublicKey, bool) {
	var k [bls.PublicKeySize]byte
	if len(pk) != len(k) {
		return bls.PublicKey{}, false
	}
	copy(k[:], pk)
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v, true
	}
	key, err := bls.PublicKeyFromBytes(pk)
	if err != nil {
		return bls.PublicKey{}, false
	}
	sig, err := bls.SignatureFromBytes(pop)
	if err != nil || bls.VerifyProofOfPossession(key, sig) != nil {
		return bls.PublicKey{}, false
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m)
	}
	c.m[k] = key
	c.mu.Unlock()
	return key, true
}

// NewValidatorSet checks and decodes a set from the host: addresses of 32
// bytes, no duplicates, nonzero stake, a total that fits 64 bits. Keys
// without a valid proof of possession are kept but marked unusable.
func NewValidatorSet(p *hostv1.ValidatorSet) (*ValidatorSet, error) {
	vs := p.GetValidators()
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: no validators at height %d", ErrValidatorSet, p.GetHeight())
	}
	if len(vs) > MaxValidators {
		return nil, fmt.Errorf("%w: %d validators, at most %d", ErrValidatorSet, len(vs), MaxValidators)
	}
	s := &ValidatorSet{Validators: make([]Validator, 0, len(vs)), index: make(map[account.Address]int, len(vs))}
	for i, v := range vs {
		if len(v.GetAddress()) != account.AddressSize {
			return nil, fmt.Errorf("%w: validator %d has a %d-byte address", ErrValidatorSet, i, len(v.GetAddress()))
		}
		if v.GetStake() == 0 {
			return nil, fmt.Errorf("%w: validator %d has no stake", ErrValidatorSet, i)
		}
		var a account.Address
		copy(a[:], v.GetAddress())
		key, ok := keys.get(v.GetBlsPublicKey(), v.GetProofOfPossession())
		s.Validators = append(s.Validators, Validator{Address: a, Key: key, Stake: v.GetStake(), KeyOK: ok})
		t, carry := bits.Add64(s.Total, v.GetStake(), 0)
		if carry != 0 {
			return nil, fmt.Errorf("%w: total stake overflows 64 bits", ErrValidatorSet)
		}
		s.Total = t
	}
	slices.SortFunc(s.Validators, func(x, y Validator) int { return bytes.Compare(x.Address[:], y.Address[:]) })
	for i, v := range s.Validators {
		if _, dup := s.index[v.Address]; dup {
			return nil, fmt.Errorf("%w: validator %s listed twice", ErrValidatorSet, v.Address)
		}
		s.index[v.Address] = i
	}
	return s, nil
}

// Index returns a validator's position in the sorted set.
func (s *ValidatorSet) Index(a account.Address) (int, bool) {
	i, ok := s.index[a]
	return i, ok
}

// Quorum reports whether stake is strictly more than two thirds of total.
func Quorum(stake, total uint64) bool { return mulCmp(stake, 3, total, 2) > 0 }

// oneThird reports whether stake is strictly more than a third of total:
// at least one honest validator is among its holders.
func oneThird(stake, total uint64) bool { return mulCmp(stake, 3, total, 1) > 0 }

// mulCmp compares a·x with b·y without overflow.
func mulCmp(a, x, b, y uint64) int {
	ah, al := bits.Mul64(a, x)
	bh, bl := bits.Mul64(b, y)
	switch {
	case ah != bh:
		return cmpU(ah, bh)
	default:
		return cmpU(al, bl)
	}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// proposerDomain separates the proposer hash from every other hash.
const proposerDomain = "trellis/bft/proposer/v1"

// Proposer returns the index of the proposer of (height, round). The
// rounds of a height draw proposers without replacement: draw i picks, among
// the validators not drawn before it at this height, the one whose stake
// interval contains sha256(domain, chain id, height, i) mod their total
// stake, walking the set in address order; round r takes draw r mod n. So
// round 0 draws in proportion to stake, and a validator that is down costs
// a height at most one round before every other validator has had its turn
// (a draw with replacement could pick it round after round, each with a
// longer timeout). Every node computes the same answer.
func (s *ValidatorSet) Proposer(chainID string, height uint64, round uint32) int {
	n := len(s.Validators)
	want := int(round % uint32(n))
	used := make([]bool, n)
	left := s.Total
	pick := 0
	for i := 0; i <= want; i++ {
		t := proposerDraw(chainID, height, uint32(i), left)
		pick = n - 1
		for k, v := range s.Validators {
			if used[k] {
				continue
			}
			if t < v.Stake {
				pick = k
				break
			}
			t -= v.Stake
		}
		used[pick] = true
		left -= s.Validators[pick].Stake // stakes are nonzero, so left > 0 while validators remain
	}
	return pick
}

// proposerDraw is sha256(domain, chain id, height, draw) mod total.
func proposerDraw(chainID string, height uint64, draw uint32, total uint64) uint64 {
	h := sha256.New()
	h.Write([]byte(proposerDomain))
	h.Write([]byte{byte(len(chainID))})
	h.Write([]byte(chainID))
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], height)
	binary.BigEndian.PutUint32(b[8:], draw)
	h.Write(b[:])
	x := new(big.Int).SetBytes(h.Sum(nil))
	return x.Mod(x, new(big.Int).SetUint64(total)).Uint64()
}
