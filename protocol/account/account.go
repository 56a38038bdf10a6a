package account

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/wire"
)

// Index is an account's position in the state tree, assigned in order at the
// account's first credit. Indices below FirstUserIndex are system records.
type Index uint32

// Reserved indices.
const (
	GlobalsIndex   Index = 0 // the Globals record
	TreasuryIndex  Index = 1 // the treasury account
	EscrowIndex    Index = 2 // prover escrow: prover shares awaiting proofs
	FirstUserIndex Index = 3
)

// System account addresses.
var (
	TreasuryAddress = SystemAddress("trellis/treasury")
	EscrowAddress   = SystemAddress("trellis/prover-escrow")
)

// Limits on the stake records of one account, so that a record and its leaf
// hash stay small.
const (
	MaxDelegations = 64
	MaxUnbonding   = 32
)

// BLS key sizes: compressed G1 public key, compressed G2 signature.
const (
	BLSPublicKeySize = 48
	BLSSignatureSize = 96
)

// Account is the ledger state of one address. Total stake bonded by the
// account is Bonded plus the sum of its Delegations; tokens unbonding are in
// Unbonding until their release height.
type Account struct {
	Address Address
	Balance uint64
	Nonce   uint64
	// Bonded is stake the account bonded to itself as a validator.
	Bonded      uint64
	Delegations []Delegation // sorted by validator; shares > 0
	Unbonding   []Unbonding  // sorted by release height, then validator
	Validator   *Validator   // nil unless the account ever bonded as a validator
	// Prover is nil unless the account ever registered as a prover.
	Prover *Prover
	// Provers (the registry of active provers, sorted) and Jobs (open proof
	// jobs, sorted by height) are held by the prover escrow account only.
	Provers []Address
	Jobs    []Job
}

// Delegation is a holding in a validator's delegation pool, in shares:
// Validator.Value converts them to tokens. Shares, not tokens, so that a
// slash cuts every delegation to a validator at once, by cutting the pool.
type Delegation struct {
	Validator Address
	Shares    uint64
}

// Unbonding is stake leaving a validator; it returns to the balance at Release.
type Unbonding struct {
	Validator Address
	Amount    uint64
	Release   uint64 // height at whose start the amount is credited
}

// Validator is the registration of an account that bonds as a validator.
type Validator struct {
	BLSPublicKey      [BLSPublicKeySize]byte
	ProofOfPossession [BLSSignatureSize]byte
	// Delegated is the tokens of the delegation pool: stake other
	// accounts delegated to this validator, less what slashes took. The
	// validator's record holds them (Locked counts them here).
	Delegated uint64
	// DelegatorShares is the shares outstanding in the pool; zero exactly
	// when Delegated is.
	DelegatorShares uint64
	// Slashed counts tokens slashed from this validator, its delegation
	// pool and the unbonding entries leaving it, for queries.
	Slashed uint64
}

// Value is what shares of v's delegation pool are worth, rounded down;
// all of the pool for all of the shares.
func (v *Validator) Value(shares uint64) uint64 {
	if shares >= v.DelegatorShares {
		return v.Delegated
	}
	q, _ := MulDiv(shares, v.Delegated, v.DelegatorShares)
	return q
}

// SharesFor is how many shares amount tokens buy in v's pool (rounded
// down); ok is false if the pool's shares would overflow.
func (v *Validator) SharesFor(amount uint64) (uint64, bool) {
	if v.DelegatorShares == 0 {
		return amount, true
	}
	s, ok := MulDiv(amount, v.DelegatorShares, v.Delegated)
	if !ok || v.DelegatorShares+s < s {
		return 0, false
	}
	return s, true
}

// SharesToWithdraw is how many shares leave the pool for amount tokens
// (rounded up, so that the pool never pays more than the shares are
// worth); ok is false on overflow.
func (v *Validator) SharesToWithdraw(amount uint64) (uint64, bool) {
	if v.Delegated == 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(amount, v.DelegatorShares)
	if hi >= v.Delegated {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, v.Delegated)
	if r != 0 {
		q++
	}
	return q, q != 0
}

// MulDiv returns a*b/c rounded down; ok is false if c is 0 or the
// quotient does not fit 64 bits.
func MulDiv(a, b, c uint64) (uint64, bool) {
	if c == 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, c)
	return q, true
}

// Stake returns a validator's voting stake: self-bond plus its
// delegation pool.
func (a *Account) Stake() uint64 {
	if a.Validator == nil {
		return 0
	}
	return a.Bonded + a.Validator.Delegated
}

// Locked returns the tokens the account holds outside its balance: own bond,
// delegations, unbonding entries and prover bond. Overflow is impossible
// while supply is conserved, since every amount is part of a 64-bit supply.
func (a *Account) Locked() uint64 {
	t := a.Bonded
	if a.Prover != nil {
		t += a.Prover.Bond
	}
	if a.Validator != nil {
		t += a.Validator.Delegated
	}
	for _, u := range a.Unbonding {
		t += u.Amount
	}
	return t
}

// Clone returns a deep copy.
func (a *Account) Clone() *Account {
	c := *a
	c.Delegations = slices.Clone(a.Delegations)
	c.Unbonding = slices.Clone(a.Unbonding)
	if a.Validator != nil {
		v := *a.Validator
		c.Validator = &v
	}
	if a.Prover != nil {
		p := *a.Prover
		c.Prover = &p
	}
	c.Provers = slices.Clone(a.Provers)
	c.Jobs = slices.Clone(a.Jobs)
	return &c
}

// Record encoding, version 1, all integers big-endian:
//
//	version u8 | address [32] | balance u64 | nonce u64 | extra
//	extra = bonded u64
//	        n u16 | n × (validator [32] | shares u64)
//	        m u16 | m × (validator [32] | amount u64 | release u64)
//	        has u8 | [has=1] bls [48] | pop [96] | delegated u64 | delegator shares u64 | slashed u64
//	        has u8 | [has=1] kind len u8 (1..16) | kind | throughput u64 | price u64 |
//	                         bond u64 | reputation u64 | proved u64 | missed u64 | slashed u64
//	        p u16 | p × prover address [32]                  (escrow only; sorted)
//	        j u16 | j × (height u64 | old root [32] | new root [32] | batch hash [32] |
//	                     updates u32 | reward u64 | pay u64 | prover [32] |
//	                     deadline u64 | attempts u32)          (escrow only; by height)
//
// Version 2 added the delegation pool's shares: delegations hold shares.
const recordVersion = 2

// ErrRecord reports a malformed account record.
var ErrRecord = errors.New("malformed account record")

const baseSize = 1 + AddressSize + 3*8

// Encode returns the canonical record encoding.
func (a *Account) Encode() []byte {
	b := make([]byte, 0, baseSize+10+len(a.Delegations)*40+len(a.Unbonding)*48+len(a.Provers)*AddressSize+len(a.Jobs)*JobSize)
	b = append(b, recordVersion)
	b = append(b, a.Address[:]...)
	b = binary.BigEndian.AppendUint64(b, a.Balance)
	b = binary.BigEndian.AppendUint64(b, a.Nonce)
	return a.appendExtra(b)
}

// appendExtra appends the record's tail after the nonce: the bytes the extra
// digest commits to.
func (a *Account) appendExtra(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, a.Bonded)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Delegations)))
	for _, d := range a.Delegations {
		b = append(b, d.Validator[:]...)
		b = binary.BigEndian.AppendUint64(b, d.Shares)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Unbonding)))
	for _, u := range a.Unbonding {
		b = append(b, u.Validator[:]...)
		b = binary.BigEndian.AppendUint64(b, u.Amount)
		b = binary.BigEndian.AppendUint64(b, u.Release)
	}
	if a.Validator == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = append(b, a.Validator.BLSPublicKey[:]...)
		b = append(b, a.Validator.ProofOfPossession[:]...)
		b = binary.BigEndian.AppendUint64(b, a.Validator.Delegated)
		b = binary.BigEndian.AppendUint64(b, a.Validator.DelegatorShares)
		b = binary.BigEndian.AppendUint64(b, a.Validator.Slashed)
	}
	return a.appendMarket(b)
}

// Decode parses a record produced by Encode. It rejects anything Encode would
// not produce: unknown versions, trailing bytes, unsorted or empty entries.
func Decode(b []byte) (*Account, error) {
	r := reader{wire.NewReader(b, ErrRecord)}
	if v := r.U8(); v != recordVersion {
		if err := r.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: version %d, want %d", ErrRecord, v, recordVersion)
	}
	a := &Account{}
	r.address(&a.Address)
	a.Balance, a.Nonce, a.Bonded = r.U64(), r.U64(), r.U64()
	if n := int(r.U16()); n > 0 {
		if n > MaxDelegations {
			return nil, fmt.Errorf("%w: %d delegations, at most %d", ErrRecord, n, MaxDelegations)
		}
		a.Delegations = make([]Delegation, n)
		for i := range a.Delegations {
			r.address(&a.Delegations[i].Validator)
			a.Delegations[i].Shares = r.U64()
		}
	}
	if n := int(r.U16()); n > 0 {
		if n > MaxUnbonding {
			return nil, fmt.Errorf("%w: %d unbonding entries, at most %d", ErrRecord, n, MaxUnbonding)
		}
		a.Unbonding = make([]Unbonding, n)
		for i := range a.Unbonding {
			r.address(&a.Unbonding[i].Validator)
			a.Unbonding[i].Amount = r.U64()
			a.Unbonding[i].Release = r.U64()
		}
	}
	switch r.U8() {
	case 0:
	case 1:
		v := &Validator{}
		r.Fixed(v.BLSPublicKey[:])
		r.Fixed(v.ProofOfPossession[:])
		v.Delegated, v.DelegatorShares, v.Slashed = r.U64(), r.U64(), r.U64()
		a.Validator = v
	default:
		if r.Err() == nil {
			return nil, fmt.Errorf("%w: validator flag is not 0 or 1", ErrRecord)
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := a.readMarket(&r); err != nil {
		return nil, err
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	if err := a.Check(); err != nil {
		return nil, err
	}
	return a, nil
}

// Check verifies the invariants Encode relies on.
func (a *Account) Check() error {
	if len(a.Delegations) > MaxDelegations || len(a.Unbonding) > MaxUnbonding {
		return fmt.Errorf("%w: too many stake entries", ErrRecord)
	}
	if v := a.Validator; v != nil && (v.Delegated == 0) != (v.DelegatorShares == 0) {
		return fmt.Errorf("%w: delegation pool of %d tokens in %d shares", ErrRecord, v.Delegated, v.DelegatorShares)
	}
	for i, d := range a.Delegations {
		if d.Shares == 0 {
			return fmt.Errorf("%w: delegation %d is empty", ErrRecord, i)
		}
		if i > 0 && compareAddr(a.Delegations[i-1].Validator, d.Validator) >= 0 {
			return fmt.Errorf("%w: delegations not sorted by validator", ErrRecord)
		}
	}
	for i, u := range a.Unbonding {
		if u.Amount == 0 {
			return fmt.Errorf("%w: unbonding entry %d is empty", ErrRecord, i)
		}
		if i > 0 && !unbondingLess(a.Unbonding[i-1], u) {
			return fmt.Errorf("%w: unbonding entries not sorted", ErrRecord)
		}
	}
	return a.checkMarket()
}

func compareAddr(x, y Address) int { return slices.Compare(x[:], y[:]) }

// unbondingLess orders entries by release height, then validator; entries with
// both equal are merged, so the order is strict.
func unbondingLess(x, y Unbonding) bool {
	if x.Release != y.Release {
		return x.Release < y.Release
	}
	return compareAddr(x.Validator, y.Validator) < 0
}

// SortUnbonding restores the canonical order of a.Unbonding, merging entries
// with the same release height and validator.
func (a *Account) SortUnbonding() {
	slices.SortFunc(a.Unbonding, func(x, y Unbonding) int {
		switch {
		case unbondingLess(x, y):
			return -1
		case unbondingLess(y, x):
			return 1
		}
		return 0
	})
	out := a.Unbonding[:0]
	for _, u := range a.Unbonding {
		if n := len(out); n > 0 && out[n-1].Release == u.Release && out[n-1].Validator == u.Validator {
			out[n-1].Amount += u.Amount
			continue
		}
		out = append(out, u)
	}
	a.Unbonding = out
}

// Delegation returns the index of the delegation to v, or -1.
func (a *Account) Delegation(v Address) int {
	i, ok := slices.BinarySearchFunc(a.Delegations, v, func(d Delegation, v Address) int { return compareAddr(d.Validator, v) })
	if !ok {
		return -1
	}
	return i
}

// AddDelegation adds shares to the delegation to v, creating it in order.
func (a *Account) AddDelegation(v Address, shares uint64) {
	i, ok := slices.BinarySearchFunc(a.Delegations, v, func(d Delegation, v Address) int { return compareAddr(d.Validator, v) })
	if ok {
		a.Delegations[i].Shares += shares
		return
	}
	a.Delegations = slices.Insert(a.Delegations, i, Delegation{Validator: v, Shares: shares})
}

// Leaf kinds: the first element of every state-tree leaf.
const (
	LeafAccount = 1
	LeafGlobals = 2
)

// LeafElements is the number of field elements of an account leaf.
const LeafElements = 1 + 8 + 4 + 4 + 4 + 8

// Limbs splits v into four 16-bit limbs, least significant first.
func Limbs(v uint64) [4]koalabear.Element {
	var l [4]koalabear.Element
	for i := range l {
		l[i].SetUint64((v >> (16 * i)) & 0xffff)
	}
	return l
}

// LeafInput returns the elements an account leaf hashes.
func (a *Account) LeafInput() [LeafElements]koalabear.Element {
	var e [LeafElements]koalabear.Element
	e[0].SetUint64(LeafAccount)
	ad := a.Address.Digest()
	copy(e[1:9], ad[:])
	bl, nl, sl := Limbs(a.Balance), Limbs(a.Nonce), Limbs(a.Locked())
	copy(e[9:13], bl[:])
	copy(e[13:17], nl[:])
	copy(e[17:21], sl[:])
	x := a.ExtraDigest()
	copy(e[21:29], x[:])
	return e
}

// HasExtra reports whether the account holds anything beyond its balance and
// nonce: a self-bond, a stake record, a prover record, registry or job.
func (a *Account) HasExtra() bool {
	return a.Bonded != 0 || len(a.Delegations) != 0 || len(a.Unbonding) != 0 || a.Validator != nil ||
		a.Prover != nil || len(a.Provers) != 0 || len(a.Jobs) != 0
}

// ExtraDigest commits to the self-bond, the stake records and the prover
// market records (the record's tail after the nonce): zero exactly when the
// account has none of them.
func (a *Account) ExtraDigest() hash.Digest {
	if !a.HasExtra() {
		return hash.Digest{}
	}
	return HashBytes(hash.TagExtra, a.appendExtra(nil))
}

// HashBytes hashes bytes as 16-bit little-endian limbs (the last one zero-padded).
func HashBytes(tag hash.Tag, b []byte) hash.Digest {
	elems := make([]koalabear.Element, (len(b)+1)/2)
	for i := range elems {
		v := uint64(b[2*i])
		if 2*i+1 < len(b) {
			v |= uint64(b[2*i+1]) << 8
		}
		elems[i].SetUint64(v)
	}
	return hash.HashWithTag(tag, elems)
}

// Leaf returns the account's state-tree leaf digest.
func (a *Account) Leaf() hash.Digest {
	e := a.LeafInput()
	return hash.HashLeaf(e[:])
}

// reader is wire.Reader with the record's own field types.
type reader struct{ wire.Reader }

func (r *reader) address(dst *Address) {
	v := r.Take(AddressSize)
	if v == nil {
		return
	}
	a, err := AddressFromBytes(v)
	if err != nil {
		r.Fail(fmt.Errorf("%w: %v", ErrRecord, err))
		return
	}
	*dst = a
}
