package tx

import (
	"encoding/hex"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
)

// TestSigningElementsLayout reads a transfer's elements where the layout
// says they are: a statement will read them the same way.
func TestSigningElementsLayout(t *testing.T) {
	to := addr(2)
	x := &Tx{ChainID: testChain, Nonce: 0x0001000200030004, GasLimit: 1000, MaxFeePerGas: 7, MaxPriorityFeePerGas: 3,
		Body: Transfer{To: to, Amount: 0xfffe_0000_0000_0001}}
	x.Sign(key(1))
	e := x.SigningElements()
	u := func(i int) uint64 { return e[i].Uint64() }
	limbs := func(at int) uint64 { return u(at) | u(at+1)<<16 | u(at+2)<<32 | u(at+3)<<48 }
	c := 3 + (len(testChain)+1)/2 // after version, type, chain id length and bytes
	if u(0) != Version || u(1) != uint64(TypeTransfer) || u(2) != uint64(len(testChain)) {
		t.Fatalf("header elements %v", e[:3])
	}
	if limbs(c) != x.Nonce || limbs(c+4) != x.GasLimit || limbs(c+8) != x.MaxFeePerGas || limbs(c+12) != x.MaxPriorityFeePerGas {
		t.Fatal("fee fields are not where the layout puts them")
	}
	d := to.Digest()
	for i := range 8 {
		if !e[c+16+i].Equal(&d[i]) {
			t.Fatalf("recipient element %d", i)
		}
	}
	if limbs(c+24) != 0xfffe_0000_0000_0001 {
		t.Fatal("amount limbs")
	}
	if u(c+28) != 32 || len(e) != c+29+16 {
		t.Fatalf("key: length %d, %d elements in all", u(c+28), len(e))
	}
	// Pinned: the digest is consensus (headers chain it, hash-based keys
	// sign it).
	sd := x.SigningDigest()
	b := sd.Bytes()
	if got := hex.EncodeToString(b[:8]); got != "f05feb5d524aca2f" {
		t.Fatalf("signing digest changed: %s", got)
	}
}

// TestSigningElementsBindEveryField: changing any field of any body type
// changes the digest, and byte strings that differ only by a trailing zero
// do not collide.
func TestSigningElementsBindEveryField(t *testing.T) {
	for _, b := range bodies() {
		base := signed(b).SigningDigest()
		for name, edit := range map[string]func(*Tx){
			"nonce":    func(x *Tx) { x.Nonce++ },
			"gas":      func(x *Tx) { x.GasLimit++ },
			"fee":      func(x *Tx) { x.MaxFeePerGas++ },
			"tip":      func(x *Tx) { x.MaxPriorityFeePerGas++ },
			"chain id": func(x *Tx) { x.ChainID += "x" },
			"key":      func(x *Tx) { x.PublicKey[31] ^= 1 },
		} {
			x := signed(b)
			edit(x)
			if x.SigningDigest() == base {
				t.Errorf("%s: changing the %s keeps the digest", b.Type(), name)
			}
		}
	}
	for name, pair := range map[string][2]Body{
		"transfer amount":  {Transfer{To: addr(2), Amount: 1}, Transfer{To: addr(2), Amount: 2}},
		"transfer to":      {Transfer{To: addr(2), Amount: 1}, Transfer{To: addr(3), Amount: 1}},
		"proof bytes":      {Proof{Height: 1, Proof: "ab"}, Proof{Height: 1, Proof: "ab\x00"}},
		"proof height":     {Proof{Height: 1, Proof: "ab"}, Proof{Height: 2, Proof: "ab"}},
		"slash evidence":   {Slash{Evidence: "e"}, Slash{Evidence: "e\x00"}},
		"prover kind":      {ProverRegister{Kind: "gpu"}, ProverRegister{Kind: "gpu0"}},
		"bond key":         {Bond{Amount: 1}, Bond{Amount: 1, BLSPublicKey: [48]byte{1}}},
		"unbond validator": {Unbond{Validator: addr(2), Amount: 1}, Unbond{Validator: addr(3), Amount: 1}},
	} {
		a, b := &Tx{ChainID: testChain, Body: pair[0]}, &Tx{ChainID: testChain, Body: pair[1]}
		if a.SigningDigest() == b.SigningDigest() {
			t.Errorf("%s: two bodies share a digest", name)
		}
	}
	// An address that no decoded transaction can hold is reduced, not a
	// panic.
	var bad account.Address
	for i := range bad {
		bad[i] = 0xff
	}
	_ = (&Tx{ChainID: testChain, Body: Transfer{To: bad, Amount: 1}}).SigningElements()
}
