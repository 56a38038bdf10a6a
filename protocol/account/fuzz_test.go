package account

import (
	"bytes"
	"testing"
)

// FuzzDecodeAccount checks that Decode never panics and that every record it
// accepts is canonical: it re-encodes to the input exactly, passes Check, and
// its leaf can be computed (Leaf panics on a malformed address).
func FuzzDecodeAccount(f *testing.F) {
	for _, a := range samples() {
		enc := a.Encode()
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(append(append([]byte(nil), enc...), 0))
	}
	f.Add([]byte{})
	f.Add([]byte{recordVersion})
	f.Add(raw(func(a *Account) { a.Delegations[0], a.Delegations[1] = a.Delegations[1], a.Delegations[0] }))
	f.Add(raw(func(a *Account) { a.Unbonding[1] = a.Unbonding[0] }))
	f.Add(raw(func(a *Account) { a.Delegations[0].Shares = 0 }))
	f.Add(raw(func(a *Account) { a.Prover = &Prover{Kind: "cpu", Bond: 1} }))
	f.Add(raw(func(a *Account) { a.Prover = &Prover{Kind: "CPU"} }))
	e := escrow()
	e.Jobs[0].Pay = e.Jobs[0].Reward + 1
	f.Add(e.Encode())
	e = escrow()
	e.Provers[0], e.Provers[1] = e.Provers[1], e.Provers[0]
	f.Add(e.Encode())
	e = escrow()
	e.Balance = 0
	f.Add(e.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			if a != nil {
				t.Fatalf("Decode returned an account with error %v", err)
			}
			return
		}
		if !bytes.Equal(a.Encode(), b) {
			t.Fatalf("re-encoding differs\n in %x\nout %x", b, a.Encode())
		}
		if err := a.Check(); err != nil {
			t.Fatalf("decoded account fails Check: %v", err)
		}
		_ = a.Leaf()
	})
}

// FuzzDecodeGlobals checks the same properties for the Globals record.
func FuzzDecodeGlobals(f *testing.F) {
	good := Globals{Supply: 1 << 60, Burned: 3, Accounts: 70000}.Encode()
	f.Add(good)
	f.Add(good[:GlobalsSize-1])
	f.Add(append(append([]byte(nil), good...), 0))
	f.Add(append([]byte{2}, good[1:]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeGlobals(b)
		if err != nil {
			if g != (Globals{}) {
				t.Fatalf("DecodeGlobals returned %+v with error %v", g, err)
			}
			return
		}
		if !bytes.Equal(g.Encode(), b) {
			t.Fatalf("re-encoding differs\n in %x\nout %x", b, g.Encode())
		}
		_ = g.Leaf()
	})
}
