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

	"github.com/trellis-chain/trellis/protocol/hash"
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
	v := &Validator{Delegated: 123456, DelegatorShares: 130000, Slashed: 9}
	for i := range v.BLSPublicKey {
		v.BLSPublicKey[i] = byte(i + 1)
	}
	for i := range v.ProofOfPossession {
		v.ProofOfPossession[i] = byte(255 - i)
	}
	a.Validator = v
	return a
}

// digest returns a canonical digest whose elements start at v.
func digest(v uint64) hash.Digest {
	var d hash.Digest
	for i := range d {
		d[i].SetUint64(v + uint64(i))
	}
	return d
}

// prover returns an account with a prover record.
func prover() *Account {
	return &Account{Address: addr(10), Balance: 77, Nonce: 2, Prover: &Prover{
		Kind: "gpu", Throughput: 5_000_000, Price: 40, Bond: 10_000, Reputation: 1010, Proved: 3, Missed: 1, Slashed: 1000,
	}}
}

// escrow returns the escrow account with a registry and open jobs.
func escrow() *Account {
	a := &Account{Address: EscrowAddress, Balance: 1000}
	a.RegisterProver(addr(10))
	a.RegisterProver(addr(11))
	a.Jobs = []Job{
		{Height: 5, Public: Statement{OldRoot: digest(1), NewRoot: digest(100), BatchHash: digest(200), Updates: 7}, Reward: 300, Pay: 40, Prover: addr(10), Deadline: 25, Attempts: 1},
		{Height: 6, Public: Statement{OldRoot: digest(100), NewRoot: digest(300), BatchHash: digest(400), Updates: 1}, Reward: 0},
		{Height: 9, Reward: 500, Pay: 500},
	}
	return a
}

func samples() map[string]*Account {
	onlyValidator := &Account{Address: addr(5), Bonded: 1, Validator: &Validator{}}
	onlyUnbonding := &Account{Address: addr(6), Unbonding: []Unbonding{{Validator: addr(6), Amount: 1, Release: 1}}}
	onlyDelegation := &Account{Address: addr(7), Delegations: []Delegation{{Validator: addr(8), Shares: math.MaxUint64}}}
	return map[string]*Account{
		"zero":            {},
		"plain":           {Address: addr(1), Balance: 42, Nonce: 3},
		"max":             {Address: addr(2), Balance: math.MaxUint64, Nonce: math.MaxUint64, Bonded: math.MaxUint64},
		"staked":          staked(),
		"only validator":  onlyValidator,
		"only unbonding":  onlyUnbonding,
		"only delegation": onlyDelegation,
		"treasury":        {Address: TreasuryAddress, Balance: 1 << 40},
		"prover":          prover(),
		"exited prover":   {Address: addr(12), Prover: &Prover{Kind: "cpu", Throughput: 1, Reputation: 900}},
		"escrow":          escrow(),
		"escrow no jobs":  {Address: EscrowAddress, Provers: []Address{addr(3)}},
		"prover and stake": func() *Account {
			a := staked()
			a.Prover = prover().Prover
			return a
		}(),
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for name, a := range samples() {
		t.Run(name, func(t *testing.T) {
			if err := a.Check(); err != nil {
				t.Fatal(err)
			}
			enc := a.Encode()
			want := baseSize + 2 + 40*len(a.Delegations) + 2 + 48*len(a.Unbonding) + 1 + 1 + 2 + 32*len(a.Provers) + 2 + JobSize*len(a.Jobs)
			if a.Validator != nil {
				want += BLSPublicKeySize + BLSSignatureSize + 24
			}
			if a.Prover != nil {
				want += 1 + len(a.Prover.Kind) + 7*8
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
			d[i] = Delegation{Validator: Address{byte(i / 256), byte(i)}, Shares: 1}
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
		{"version 1", set(good, 0, 1), "version 1"}, {"version 3", set(good, 0, 3), "version 3"},
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
		{"delegation zero amount", raw(func(a *Account) { a.Delegations[2].Shares = 0 }), "delegation 2 is empty"},
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
		if i < 0 || a.Delegations[i].Shares != amt {
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
	if got, want := a.Locked(), uint64(5000+123456+10+20+30); got != want { // own shares in other pools count there
		t.Errorf("Locked = %d, want %d", got, want)
	}
	if (&Account{Bonded: 9}).Stake() != 0 {
		t.Error("an account that is no validator has stake")
	}
	c := a.Clone()
	if !reflect.DeepEqual(a, c) {
		t.Fatal("clone differs")
	}
	c.Delegations[0].Shares++
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
		"delegation shares":    func(a *Account) { a.Delegations[1].Shares++ },
		"delegation dropped":   func(a *Account) { a.Delegations = a.Delegations[:2] },
		"unbonding validator":  func(a *Account) { a.Unbonding[0].Validator[0] ^= 1 },
		"unbonding amount":     func(a *Account) { a.Unbonding[1].Amount++ },
		"unbonding release":    func(a *Account) { a.Unbonding[2].Release++ },
		"unbonding dropped":    func(a *Account) { a.Unbonding = nil },
		"bls key":              func(a *Account) { a.Validator.BLSPublicKey[47] ^= 1 },
		"proof of possession":  func(a *Account) { a.Validator.ProofOfPossession[0] ^= 1 },
		"delegated":            func(a *Account) { a.Validator.Delegated++ },
		"delegator shares":     func(a *Account) { a.Validator.DelegatorShares++ },
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
		none := a.Bonded == 0 && len(a.Delegations) == 0 && len(a.Unbonding) == 0 && a.Validator == nil &&
			a.Prover == nil && len(a.Provers) == 0 && len(a.Jobs) == 0
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
		{Delegations: []Delegation{{Shares: 1}}},
		{Unbonding: []Unbonding{{Amount: 1}}},
		{Prover: &Prover{Kind: "cpu"}},
		{Provers: []Address{addr(1)}},
		{Jobs: []Job{{}}},
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

func TestMarketLocked(t *testing.T) {
	p := prover()
	if got := p.Locked(); got != 10_000 {
		t.Errorf("prover Locked = %d, want its bond 10000", got)
	}
	a := staked()
	a.Prover = prover().Prover
	if got, want := a.Locked(), staked().Locked()+10_000; got != want {
		t.Errorf("Locked = %d, want %d", got, want)
	}
	// Job rewards sit in the escrow balance: they are not locked.
	if escrow().Locked() != 0 {
		t.Error("escrow jobs count as locked")
	}
	if !p.ActiveProver() || (&Account{Prover: &Prover{Kind: "cpu"}}).ActiveProver() || (&Account{}).ActiveProver() {
		t.Error("ActiveProver: a prover is active exactly while it has a bond")
	}
}

func TestMarketCloneIsDeep(t *testing.T) {
	a := escrow()
	a.Prover = prover().Prover
	c := a.Clone()
	if !reflect.DeepEqual(a, c) {
		t.Fatal("clone differs")
	}
	c.Prover.Reputation++
	c.Provers[0][0] ^= 1
	c.Jobs[0].Reward++
	want := escrow()
	want.Prover = prover().Prover
	if !reflect.DeepEqual(a, want) {
		t.Fatal("changing the clone changed the original")
	}
}

func TestMarketHelpers(t *testing.T) {
	e := escrow()
	for h, want := range map[uint64]int{5: 0, 6: 1, 9: 2, 7: -1, 0: -1, 100: -1} {
		if got := e.Job(h); got != want {
			t.Errorf("Job(%d) = %d, want %d", h, got, want)
		}
	}
	if sum, ok := e.Allocated(); !ok || sum != 800 {
		t.Errorf("Allocated = %d, %v", sum, ok)
	}
	over := &Account{Jobs: []Job{{Reward: math.MaxUint64}, {Height: 1, Reward: 1}}}
	if _, ok := over.Allocated(); ok {
		t.Error("Allocated missed an overflow")
	}
	if e.RegisterProver(addr(10)) {
		t.Error("registered a prover twice")
	}
	if !e.RegisterProver(addr(12)) || len(e.Provers) != 3 || e.Check() != nil {
		t.Fatalf("registering a third prover: %v, %v", e.Provers, e.Check())
	}
	for _, k := range []byte{10, 11, 12} {
		if !e.UnregisterProver(addr(k)) {
			t.Fatalf("unregistering %d", k)
		}
	}
	if e.Provers != nil || e.UnregisterProver(addr(10)) {
		t.Fatal("registry not empty after removing every prover")
	}
	for _, c := range []struct {
		kind string
		ok   bool
	}{{"cpu", true}, {"gpu-h100", true}, {"a.b_c-9", true}, {"0123456789abcdef", true}, {"", false}, {"0123456789abcdefg", false}, {"GPU", false}, {"g pu", false}, {"gpu\x00", false}} {
		if err := CheckProverKind(c.kind); (err == nil) != c.ok {
			t.Errorf("CheckProverKind(%q) = %v", c.kind, err)
		}
	}
}

func TestMarketLeafChanges(t *testing.T) {
	base := func() *Account { a := escrow(); a.Prover = prover().Prover; return a }
	seen := map[hash.Digest]string{base().Leaf(): "base"}
	for name, f := range map[string]func(a *Account){
		"kind":           func(a *Account) { a.Prover.Kind = "cpu" },
		"throughput":     func(a *Account) { a.Prover.Throughput++ },
		"price":          func(a *Account) { a.Prover.Price++ },
		"bond":           func(a *Account) { a.Prover.Bond++ },
		"reputation":     func(a *Account) { a.Prover.Reputation++ },
		"proved":         func(a *Account) { a.Prover.Proved++ },
		"missed":         func(a *Account) { a.Prover.Missed++ },
		"prover slashed": func(a *Account) { a.Prover.Slashed++ },
		"prover dropped": func(a *Account) { a.Prover = nil },
		"registry":       func(a *Account) { a.Provers[1][31] ^= 1 },
		"registry short": func(a *Account) { a.Provers = a.Provers[:1] },
		"job height":     func(a *Account) { a.Jobs[0].Height-- },
		"job old root":   func(a *Account) { a.Jobs[0].Public.OldRoot[3].SetUint64(9) },
		"job new root":   func(a *Account) { a.Jobs[0].Public.NewRoot[7].SetUint64(9) },
		"job batch hash": func(a *Account) { a.Jobs[0].Public.BatchHash[0].SetUint64(9) },
		"job updates":    func(a *Account) { a.Jobs[0].Public.Updates++ },
		"job reward":     func(a *Account) { a.Jobs[0].Reward++ },
		"job pay":        func(a *Account) { a.Jobs[0].Pay++ },
		"job prover":     func(a *Account) { a.Jobs[0].Prover = addr(11) },
		"job deadline":   func(a *Account) { a.Jobs[0].Deadline++ },
		"job attempts":   func(a *Account) { a.Jobs[0].Attempts++ },
		"job dropped":    func(a *Account) { a.Jobs = a.Jobs[1:] },
	} {
		a := base()
		f(a)
		l := a.Leaf()
		if prev, dup := seen[l]; dup {
			t.Errorf("changing the %s gives the leaf of %s", name, prev)
		}
		seen[l] = name
	}
}

func TestDecodeRejectsMarket(t *testing.T) {
	rawE := func(f func(a *Account)) []byte { a := escrow(); a.Prover = prover().Prover; f(a); return a.Encode() }
	good := rawE(func(*Account) {})
	if _, err := Decode(good); err != nil {
		t.Fatal(err)
	}
	// pf is the offset of the prover flag: after the validator flag.
	pf := baseSize + 2 + 2 + 1
	set := func(i int, v ...byte) []byte {
		b := append([]byte(nil), good...)
		copy(b[i:], v)
		return b
	}
	manyProvers := func(n int) []Address {
		p := make([]Address, n)
		for i := range p {
			p[i] = Address{byte(i >> 8), byte(i)}
		}
		p[0][31] = 1
		return p
	}
	manyJobs := func(n int) []Job {
		j := make([]Job, n)
		for i := range j {
			j[i].Height = uint64(i)
		}
		return j
	}
	for _, c := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"prover flag 2", set(pf, 2), "prover flag"},
		{"prover kind empty", set(pf+1, 0), "prover kind of 0 bytes"},
		{"prover kind 17", set(pf+1, 17), "prover kind of 17 bytes"},
		{"prover kind upper case", set(pf+2, 'G'), "prover kind"},
		{"registry unsorted", rawE(func(a *Account) { a.Provers[0], a.Provers[1] = a.Provers[1], a.Provers[0] }), "registered provers not sorted"},
		{"registry duplicate", rawE(func(a *Account) { a.Provers[1] = a.Provers[0] }), "registered provers not sorted"},
		{"registry zero", rawE(func(a *Account) { a.Provers = []Address{{}} }), "zero address"},
		{"registry too long", rawE(func(a *Account) { a.Provers = manyProvers(MaxProvers + 1) }), "257 registered provers"},
		{"registry claims 65535", set(pf+1+1+3+56, 0xff, 0xff), "65535 registered provers"},
		{"jobs unsorted", rawE(func(a *Account) { a.Jobs[0], a.Jobs[1] = a.Jobs[1], a.Jobs[0] }), "jobs not sorted"},
		{"jobs duplicate height", rawE(func(a *Account) { a.Jobs[1].Height = a.Jobs[0].Height }), "jobs not sorted"},
		{"jobs too many", rawE(func(a *Account) { a.Balance = 0; a.Jobs = manyJobs(MaxJobs + 1) }), "257 jobs"},
		{"pay above reward", rawE(func(a *Account) { a.Jobs[0].Pay = 301 }), "pays 301, above its reward 300"},
		{"assigned without deadline", rawE(func(a *Account) { a.Jobs[0].Deadline = 0 }), "an assigned job has a deadline"},
		{"unassigned with deadline", rawE(func(a *Account) { a.Jobs[1].Deadline = 9 }), "an assigned job has a deadline"},
		{"deadline not after height", rawE(func(a *Account) { a.Jobs[0].Deadline = 5 }), "deadline 5, not after it"},
		{"unassigned partial pay", rawE(func(a *Account) { a.Jobs[2].Pay = 1 }), "not its whole reward"},
		{"rewards above balance", rawE(func(a *Account) { a.Balance = 799 }), "above the escrow balance 799"},
		{"rewards overflow", rawE(func(a *Account) {
			a.Balance = math.MaxUint64
			a.Jobs[2].Reward, a.Jobs[2].Pay = math.MaxUint64, math.MaxUint64
		}), "overflow"},
		{"job prover malformed", rawE(func(a *Account) { a.Jobs[0].Prover = Address{0xff, 0xff, 0xff, 0xff} }), "invalid address"},
		{"registry on a user account", (&Account{Address: addr(1), Provers: []Address{addr(2)}}).Encode(), "only the prover escrow"},
		{"jobs on a user account", (&Account{Address: addr(1), Balance: 5, Jobs: []Job{{Reward: 1, Pay: 1}}}).Encode(), "only the prover escrow"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.in)
			if err == nil {
				t.Fatalf("Decode accepted %+v", got)
			}
			if got != nil || !errors.Is(err, ErrRecord) {
				t.Errorf("Decode: %+v, %v", got, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
	// A digest word at the modulus is not canonical.
	b := append([]byte(nil), good...)
	j0 := len(b) - 3*JobSize
	copy(b[j0+8:], []byte{0x01, 0x00, 0x00, 0x7f})
	if _, err := Decode(b); !errors.Is(err, ErrRecord) {
		t.Fatalf("a job root word at the modulus: %v", err)
	}
	// The most entries allowed decode.
	full := rawE(func(a *Account) { a.Balance = 0; a.Provers = manyProvers(MaxProvers); a.Jobs = manyJobs(MaxJobs) })
	if _, err := Decode(full); err != nil {
		t.Fatalf("a record at the limits: %v", err)
	}
}

func TestMarketParamsCheck(t *testing.T) {
	if err := DefaultMarketParams().Check(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, f := range map[string]func(*MarketParams){
		"min bond 0":          func(m *MarketParams) { m.MinProverBond = 0 },
		"deadline 0":          func(m *MarketParams) { m.JobDeadline = 0 },
		"deadline too far":    func(m *MarketParams) { m.JobDeadline = MaxJobDeadline + 1 },
		"slash above 100%":    func(m *MarketParams) { m.MissSlashBps = 10_001 },
		"reputation max 0":    func(m *MarketParams) { m.ReputationMax = 0 },
		"start above max":     func(m *MarketParams) { m.ReputationStart = m.ReputationMax + 1 },
		"step above max":      func(m *MarketParams) { m.ReputationDown = m.ReputationMax + 1 },
		"zero value is unset": func(m *MarketParams) { *m = MarketParams{} },
	} {
		m := DefaultMarketParams()
		f(&m)
		if m.Check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	m := DefaultMarketParams()
	m.MissSlashBps, m.ReputationUp, m.ReputationDown = 0, 0, 0 // no slashing, fixed reputation: allowed
	if err := m.Check(); err != nil {
		t.Error(err)
	}
}
