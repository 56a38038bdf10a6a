package account

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/core/hash"
)

// key returns the ed25519 key whose seed is 32 copies of b.
func key(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// addr returns the address of key(b).
func addr(b byte) Address { return FromPublicKey(key(b).Public().(ed25519.PublicKey)) }

// staked returns an account with every kind of stake record.
func staked() *Account {
	a := &Account{Address: addr(1), Balance: 1_000_000, Nonce: 7, Bonded: 5000}
	a.AddDelegation(addr(2), 300)
	a.AddDelegation(addr(3), 400)
	a.AddDelegation(addr(4), 500)
	a.Unbonding = []Unbonding{
		{Validator: addr(2), Amount: 10, Release: 100},
		{Validator: addr(3), Amount: 20, Release: 100},
		{Validator: addr(2), Amount: 30, Release: 250},
	}
	a.SortUnbonding()
	v := &Validator{Delegated: 123456, Slashed: 9}
	for i := range v.BLSPublicKey {
		v.BLSPublicKey[i] = byte(i + 1)
	}
	for i := range v.ProofOfPossession {
		v.ProofOfPossession[i] = byte(255 - i)
	}
	a.Validator = v
	return a
}

func samples() map[string]*Account {
	onlyValidator := &Account{Address: addr(5), Bonded: 1, Validator: &Validator{}}
	onlyUnbonding := &Account{Address: addr(6), Unbonding: []Unbonding{{Validator: addr(6), Amount: 1, Release: 1}}}
	onlyDelegation := &Account{Address: addr(7), Delegations: []Delegation{{Validator: addr(8), Amount: math.MaxUint64}}}
	return map[string]*Account{
		"zero":            {},
		"plain":           {Address: addr(1), Balance: 42, Nonce: 3},
		"max":             {Address: addr(2), Balance: math.MaxUint64, Nonce: math.MaxUint64, Bonded: math.MaxUint64},
		"staked":          staked(),
		"only validator":  onlyValidator,
		"only unbonding":  onlyUnbonding,
		"only delegation": onlyDelegation,
		"treasury":        {Address: TreasuryAddress, Balance: 1 << 40},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for name, a := range samples() {
		t.Run(name, func(t *testing.T) {
			if err := a.Check(); err != nil {
				t.Fatal(err)
			}
			enc := a.Encode()
			want := baseSize + 2 + 40*len(a.Delegations) + 2 + 48*len(a.Unbonding) + 1
			if a.Validator != nil {
				want += BLSPublicKeySize + BLSSignatureSize + 16
			}
			if len(enc) != want {
				t.Fatalf("record is %d bytes, want %d", len(enc), want)
			}
			got, err := Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, a) {
				t.Fatalf("decoded %+v, want %+v", got, a)
			}
			if !bytes.Equal(got.Encode(), enc) {
				t.Fatal("re-encoding differs")
			}
			if got.Leaf() != a.Leaf() {
				t.Fatal("leaf differs after a round trip")
			}
		})
	}
}

// raw encodes a without checking its invariants, to build bad records.
func raw(f func(a *Account)) []byte {
	a := staked()
	f(a)
	return a.Encode()
}

func TestDecodeRejects(t *testing.T) {
	good := staked().Encode()
	plain := (&Account{Address: addr(1), Balance: 1}).Encode()
	set := func(src []byte, i int, v ...byte) []byte {
		b := append([]byte(nil), src...)
		copy(b[i:], v)
		return b
	}
	badWord := []byte{0x01, 0x00, 0x00, 0x7f} // the modulus, little-endian
	many := func(n int) []Delegation {
		d := make([]Delegation, n)
		for i := range d {
			d[i] = Delegation{Validator: Address{byte(i / 256), byte(i)}, Amount: 1}
		}
		return d
	}
	manyU := func(n int) []Unbonding {
		u := make([]Unbonding, n)
		for i := range u {
			u[i] = Unbonding{Validator: addr(2), Amount: 1, Release: uint64(i)}
		}
		return u
	}
	// flag is the offset of the validator flag in a plain record.
	flag := baseSize + 4
	cases := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"empty", nil, "truncated"},
		{"version 0", set(good, 0, 0), "version 0"},
		{"version 2", set(good, 0, 2), "version 2"},
		{"only a version", good[:1], "truncated"},
		{"truncated by one", good[:len(good)-1], "truncated"},
		{"trailing byte", append(append([]byte(nil), good...), 0), "1 trailing bytes"},
		{"trailing bytes on a plain record", append(append([]byte(nil), plain...), 1, 2, 3), "3 trailing bytes"},
		{"validator flag 2", set(plain, flag, 2), "validator flag"},
		{"validator flag 255", set(plain, flag, 255), "validator flag"},
		{"address word = modulus", set(plain, 1, badWord...), "invalid address"},
		{"address word = 0xffffffff", set(plain, 29, 0xff, 0xff, 0xff, 0xff), "invalid address"},
		{"delegation validator malformed", set(good, baseSize+2+40+4, badWord...), "invalid address"},
		{"unbonding validator malformed", set(good, baseSize+2+3*40+2, badWord...), "invalid address"},
		{"delegations unsorted", raw(func(a *Account) { a.Delegations[0], a.Delegations[1] = a.Delegations[1], a.Delegations[0] }), "delegations not sorted"},
		{"delegations duplicate", raw(func(a *Account) { a.Delegations[1].Validator = a.Delegations[0].Validator }), "delegations not sorted"},
		{"delegation zero amount", raw(func(a *Account) { a.Delegations[2].Amount = 0 }), "delegation 2 is empty"},
		{"unbonding unsorted by release", raw(func(a *Account) { a.Unbonding[0], a.Unbonding[2] = a.Unbonding[2], a.Unbonding[0] }), "unbonding entries not sorted"},
		{"unbonding unsorted by validator", raw(func(a *Account) { a.Unbonding[0], a.Unbonding[1] = a.Unbonding[1], a.Unbonding[0] }), "unbonding entries not sorted"},
		{"unbonding duplicate", raw(func(a *Account) { a.Unbonding[1] = a.Unbonding[0] }), "unbonding entries not sorted"},
		{"unbonding zero amount", raw(func(a *Account) { a.Unbonding[1].Amount = 0 }), "unbonding entry 1 is empty"},
		{"65 delegations", raw(func(a *Account) { a.Delegations = many(MaxDelegations + 1) }), "65 delegations, at most 64"},
		{"65535 delegations claimed", set(plain, baseSize, 0xff, 0xff), "65535 delegations"},
		{"33 unbonding entries", raw(func(a *Account) { a.Unbonding = manyU(MaxUnbonding + 1) }), "33 unbonding entries, at most 32"},
		{"65535 unbonding claimed", set(plain, baseSize+2, 0xff, 0xff), "65535 unbonding"},
		{"delegation count beyond input", set(plain, baseSize, 0, 3), "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.in)
			if err == nil {
				t.Fatalf("Decode accepted %x as %+v", c.in, got)
			}
			if got != nil {
				t.Error("Decode returned an account with an error")
			}
			if !errors.Is(err, ErrRecord) {
				t.Errorf("error %q does not wrap ErrRecord", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
	// The most entries allowed decode.
	full := raw(func(a *Account) { a.Delegations, a.Unbonding = many(MaxDelegations), manyU(MaxUnbonding) })
	if _, err := Decode(full); err != nil {
		t.Fatalf("a record at the limits: %v", err)
	}
}

func TestDecodeRejectsEveryPrefix(t *testing.T) {
	for _, a := range samples() {
		enc := a.Encode()
		for n := range len(enc) {
			if got, err := Decode(enc[:n]); err == nil || !errors.Is(err, ErrRecord) {
				t.Fatalf("Decode of %d of %d bytes: %+v, %v", n, len(enc), got, err)
			}
		}
	}
}

func TestAddDelegation(t *testing.T) {
	order := []byte{9, 3, 7, 1, 5, 3, 9, 2}
	a := &Account{Address: addr(1)}
	want := map[Address]uint64{}
	for i, k := range order {
		a.AddDelegation(addr(k), uint64(i+1))
		want[addr(k)] += uint64(i + 1)
		if err := a.Check(); err != nil {
			t.Fatalf("after adding %d: %v", i, err)
		}
	}
	if len(a.Delegations) != len(want) {
		t.Fatalf("%d delegations, want %d", len(a.Delegations), len(want))
	}
	if !slices.IsSortedFunc(a.Delegations, func(x, y Delegation) int { return bytes.Compare(x.Validator[:], y.Validator[:]) }) {
		t.Fatal("delegations are not sorted")
	}
	for v, amt := range want {
		i := a.Delegation(v)
		if i < 0 || a.Delegations[i].Amount != amt {
			t.Fatalf("delegation to %s: index %d, want amount %d", v, i, amt)
		}
	}
	if a.Delegation(addr(4)) != -1 {
		t.Fatal("Delegation found a validator never delegated to")
	}
}

func TestSortUnbonding(t *testing.T) {
	a := &Account{Unbonding: []Unbonding{
		{Validator: addr(2), Amount: 1, Release: 300},
		{Validator: addr(3), Amount: 2, Release: 100},
		{Validator: addr(2), Amount: 4, Release: 100},
		{Validator: addr(3), Amount: 8, Release: 100},
		{Validator: addr(2), Amount: 16, Release: 300},
		{Validator: addr(4), Amount: 32, Release: 200},
	}}
	a.SortUnbonding()
	lo, hi := addr(2), addr(3)
	if bytes.Compare(lo[:], hi[:]) > 0 {
		lo, hi = hi, lo
	}
	amt := map[Address]uint64{addr(2): 4, addr(3): 2 + 8}
	want := []Unbonding{
		{Validator: lo, Amount: amt[lo], Release: 100},
		{Validator: hi, Amount: amt[hi], Release: 100},
		{Validator: addr(4), Amount: 32, Release: 200},
		{Validator: addr(2), Amount: 17, Release: 300},
	}
	if !reflect.DeepEqual(a.Unbonding, want) {
		t.Fatalf("got %+v\nwant %+v", a.Unbonding, want)
	}
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	empty := &Account{}
	empty.SortUnbonding()
	if len(empty.Unbonding) != 0 {
		t.Fatal("SortUnbonding invented entries")
	}
}

func TestStakeLockedClone(t *testing.T) {
	a := staked()
	if got, want := a.Stake(), uint64(5000+123456); got != want {
		t.Errorf("Stake = %d, want %d", got, want)
	}
	if got, want := a.Locked(), uint64(5000+300+400+500+10+20+30); got != want {
		t.Errorf("Locked = %d, want %d", got, want)
	}
	if (&Account{Bonded: 9}).Stake() != 0 {
		t.Error("an account that is no validator has stake")
	}
	c := a.Clone()
	if !reflect.DeepEqual(a, c) {
		t.Fatal("clone differs")
	}
	c.Delegations[0].Amount++
	c.Unbonding[0].Amount++
	c.Validator.Slashed++
	if !reflect.DeepEqual(a, staked()) {
		t.Fatal("changing the clone changed the original")
	}
}

// leafChanges lists one change to every field an account leaf commits to.
func leafChanges() map[string]func(a *Account) {
	return map[string]func(a *Account){
		"address":              func(a *Account) { a.Address = addr(9) },
		"address last byte":    func(a *Account) { a.Address[31] ^= 1 },
		"balance low limb":     func(a *Account) { a.Balance ^= 1 },
		"balance high limb":    func(a *Account) { a.Balance ^= 1 << 63 },
		"nonce":                func(a *Account) { a.Nonce++ },
		"nonce limb 2":         func(a *Account) { a.Nonce ^= 1 << 32 },
		"bonded":               func(a *Account) { a.Bonded++ },
		"bonded limb 1":        func(a *Account) { a.Bonded ^= 1 << 16 },
		"delegation validator": func(a *Account) { a.Delegations[0].Validator[31] ^= 1 },
		"delegation amount":    func(a *Account) { a.Delegations[1].Amount++ },
		"delegation dropped":   func(a *Account) { a.Delegations = a.Delegations[:2] },
		"unbonding validator":  func(a *Account) { a.Unbonding[0].Validator[0] ^= 1 },
		"unbonding amount":     func(a *Account) { a.Unbonding[1].Amount++ },
		"unbonding release":    func(a *Account) { a.Unbonding[2].Release++ },
		"unbonding dropped":    func(a *Account) { a.Unbonding = nil },
		"bls key":              func(a *Account) { a.Validator.BLSPublicKey[47] ^= 1 },
		"proof of possession":  func(a *Account) { a.Validator.ProofOfPossession[0] ^= 1 },
		"delegated":            func(a *Account) { a.Validator.Delegated++ },
		"slashed":              func(a *Account) { a.Validator.Slashed++ },
		"validator dropped":    func(a *Account) { a.Validator = nil },
		"validator zeroed":     func(a *Account) { a.Validator = &Validator{} },
	}
}

func TestLeafChangesWithEveryField(t *testing.T) {
	base := staked()
	seen := map[hash.Digest]string{base.Leaf(): "base"}
	for name, f := range leafChanges() {
		a := staked()
		f(a)
		l := a.Leaf()
		if prev, dup := seen[l]; dup {
			t.Errorf("changing the %s gives the leaf of %s", name, prev)
		}
		seen[l] = name
	}
	if base.Leaf() != staked().Leaf() {
		t.Fatal("leaf is not deterministic")
	}
	// A plain account: every field it has.
	p := &Account{Address: addr(1), Balance: 5, Nonce: 6, Bonded: 7}
	pl := p.Leaf()
	for name, f := range map[string]func(*Account){
		"balance": func(a *Account) { a.Balance = 6 },
		"nonce":   func(a *Account) { a.Nonce = 5 },
		"bonded":  func(a *Account) { a.Bonded = 0 },
		"swap":    func(a *Account) { a.Balance, a.Nonce = a.Nonce, a.Balance },
	} {
		q := *p
		f(&q)
		if q.Leaf() == pl {
			t.Errorf("changing the %s leaves the leaf unchanged", name)
		}
	}
}

func TestLeafInputLayout(t *testing.T) {
	a := staked()
	e := a.LeafInput()
	if e[0].Uint64() != LeafAccount {
		t.Fatalf("kind %d", e[0].Uint64())
	}
	d := a.Address.Digest()
	if !slices.Equal(e[1:9], d[:]) {
		t.Fatal("elements 1..8 are not the address")
	}
	for i, v := range []uint64{a.Balance, a.Nonce, a.Locked()} {
		var got uint64
		for j := range 4 {
			l := e[9+4*i+j].Uint64()
			if l > 0xffff {
				t.Fatalf("limb %d of amount %d is %d, over 16 bits", j, i, l)
			}
			got |= l << (16 * j)
		}
		if got != v {
			t.Fatalf("amount %d: limbs give %d, want %d", i, got, v)
		}
	}
	x := a.ExtraDigest()
	if !slices.Equal(e[21:29], x[:]) {
		t.Fatal("elements 21..28 are not the extra digest")
	}
	if a.Leaf() != hash.HashLeaf(e[:]) {
		t.Fatal("Leaf is not HashLeaf of LeafInput")
	}
}

func TestExtraDigestZeroExactlyWithoutStakeRecords(t *testing.T) {
	for name, a := range samples() {
		none := a.Bonded == 0 && len(a.Delegations) == 0 && len(a.Unbonding) == 0 && a.Validator == nil
		if got := a.ExtraDigest() == (hash.Digest{}); got != none {
			t.Errorf("%s: extra digest zero = %v, want %v", name, got, none)
		}
		if a.HasExtra() == none {
			t.Errorf("%s: HasExtra = %v", name, a.HasExtra())
		}
	}
	// Each kind of record alone, even empty-valued, makes it non-zero and
	// distinct; the self-bond lives in the extra digest too (the leaf's locked
	// limbs carry only the total).
	seen := map[hash.Digest]bool{}
	for _, a := range []*Account{
		{Bonded: 100},
		{Validator: &Validator{}},
		{Delegations: []Delegation{{Amount: 1}}},
		{Unbonding: []Unbonding{{Amount: 1}}},
	} {
		x := a.ExtraDigest()
		if x == (hash.Digest{}) || seen[x] {
			t.Errorf("extra digest %s is zero or repeated", x)
		}
		seen[x] = true
	}
}

func TestHashBytes(t *testing.T) {
	// Limbs are little-endian 16-bit, the last one zero-padded.
	got := HashBytes(hash.TagExtra, []byte{0x01, 0x02, 0x03})
	var e [2]koalabear.Element
	e[0].SetUint64(0x0201)
	e[1].SetUint64(0x03)
	if got != hash.HashWithTag(hash.TagExtra, e[:]) {
		t.Fatal("HashBytes does not hash 16-bit little-endian limbs")
	}
	if HashBytes(hash.TagExtra, nil) != hash.HashWithTag(hash.TagExtra, nil) {
		t.Fatal("HashBytes of nothing")
	}
	if HashBytes(hash.TagExtra, []byte{1}) == HashBytes(hash.TagSystem, []byte{1}) {
		t.Fatal("tags do not separate")
	}
}

func TestLimbs(t *testing.T) {
	l := Limbs(0x0123_4567_89ab_cdef)
	for i, want := range []uint64{0xcdef, 0x89ab, 0x4567, 0x0123} {
		if l[i].Uint64() != want {
			t.Fatalf("limb %d = %#x, want %#x", i, l[i].Uint64(), want)
		}
	}
}
