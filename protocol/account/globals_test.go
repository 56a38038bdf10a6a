package account

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

func TestGlobalsRoundTrip(t *testing.T) {
	for _, g := range []Globals{
		{},
		{Supply: 1_000_000_000, Burned: 12345, Accounts: 3},
		{Supply: math.MaxUint64, Burned: math.MaxUint64, Accounts: math.MaxUint32},
	} {
		enc := g.Encode()
		if len(enc) != GlobalsSize {
			t.Fatalf("%+v encodes to %d bytes", g, len(enc))
		}
		got, err := DecodeGlobals(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got != g {
			t.Fatalf("decoded %+v, want %+v", got, g)
		}
	}
}

func TestDecodeGlobalsRejects(t *testing.T) {
	good := Globals{Supply: 5, Burned: 6, Accounts: 7}.Encode()
	with := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, c := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"empty", nil, "0 bytes (version -1)"},
		{"truncated", good[:GlobalsSize-1], "20 bytes"},
		{"version only", good[:1], "1 bytes"},
		{"trailing", append(append([]byte(nil), good...), 0), "22 bytes"},
		{"version 0", with(func(b []byte) []byte { b[0] = 0; return b }), "version 0"},
		{"version 2", with(func(b []byte) []byte { b[0] = 2; return b }), "version 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeGlobals(c.in)
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error %v does not wrap ErrRecord", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// globalsLeafInput is the documented layout, written out independently:
// [kind=2, supply (4 limbs), burned (4 limbs), accounts (2 limbs)].
func globalsLeafInput(g Globals) []koalabear.Element {
	e := make([]koalabear.Element, 11)
	e[0].SetUint64(LeafGlobals)
	for i := range 4 {
		e[1+i].SetUint64(g.Supply >> (16 * i) & 0xffff)
		e[5+i].SetUint64(g.Burned >> (16 * i) & 0xffff)
	}
	e[9].SetUint64(uint64(g.Accounts) & 0xffff)
	e[10].SetUint64(uint64(g.Accounts) >> 16)
	return e
}

func TestGlobalsLeaf(t *testing.T) {
	base := Globals{Supply: 1 << 50, Burned: 77, Accounts: 70000}
	if base.Leaf() != hash.HashLeaf(globalsLeafInput(base)) {
		t.Fatal("globals leaf does not follow the documented layout")
	}
	seen := map[hash.Digest]string{base.Leaf(): "base"}
	for name, f := range map[string]func(*Globals){
		"supply":        func(g *Globals) { g.Supply++ },
		"supply top":    func(g *Globals) { g.Supply ^= 1 << 63 },
		"burned":        func(g *Globals) { g.Burned++ },
		"accounts low":  func(g *Globals) { g.Accounts++ },
		"accounts high": func(g *Globals) { g.Accounts ^= 1 << 20 },
		"swap":          func(g *Globals) { g.Supply, g.Burned = g.Burned, g.Supply },
	} {
		g := base
		f(&g)
		l := g.Leaf()
		if prev, dup := seen[l]; dup {
			t.Errorf("changing the %s gives the leaf of %s", name, prev)
		}
		seen[l] = name
	}
	// The globals leaf never equals an account leaf: the kinds and the
	// lengths differ.
	if (Globals{}).Leaf() == (&Account{}).Leaf() {
		t.Fatal("empty globals and empty account share a leaf")
	}
}
