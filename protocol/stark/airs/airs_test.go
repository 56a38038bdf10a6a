package airs

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
)

func testParams() stark.Params {
	p := stark.DefaultParams()
	p.GrindingBits = 8
	return p
}

func seqState(start uint64) [16]fr.Element {
	var s [16]fr.Element
	for i := range s {
		s[i].SetUint64(start + uint64(i))
	}
	return s
}

// The AIR's trace filler computes exactly protocol/hash's permutation.
func TestFillPermutationMatchesHash(t *testing.T) {
	for _, start := range []uint64{0, 1, 1 << 30} {
		in := seqState(start)
		row := make([]fr.Element, PermColumns)
		got := FillPermutation(in, row)
		want := in
		hash.Permute(&want)
		if got != want {
			t.Fatalf("start %d: AIR permutation differs from protocol/hash", start)
		}
		out := make([]fr.Element, PermRowConstr)
		EvalPermutation(stark.BaseField{}, row, out)
		for k := range out {
			if !out[k].IsZero() {
				t.Fatalf("constraint %d fails on an honest row", k)
			}
		}
	}
}

func TestPoseidon2ChainProveVerify(t *testing.T) {
	for _, n := range []int{4, 64} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a, tr := NewPoseidon2Chain(n, seqState(7))
			want := seqState(7)
			for range n {
				hash.Permute(&want)
			}
			if a.Output != want {
				t.Fatal("chain output differs from protocol/hash")
			}
			p := testParams()
			proof, err := stark.Prove(a, tr, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := stark.Verify(a, p, proof); err != nil {
				t.Fatal(err)
			}
			// Another claimed output is rejected.
			bad := *a
			bad.Output[3].SetUint64(1)
			if err := stark.Verify(&bad, p, proof); err == nil {
				t.Fatal("proof verified for a wrong output")
			}
		})
	}
}

func TestPoseidon2WrongWitness(t *testing.T) {
	a, tr := NewPoseidon2Chain(16, seqState(1))
	tr[permPartial+5][3].SetUint64(9)
	if _, err := stark.Prove(a, tr, testParams(), nil); !errors.Is(err, stark.ErrTrace) {
		t.Fatalf("want ErrTrace, got %v", err)
	}
}

func TestFibonacci(t *testing.T) {
	a, tr := NewFibonacci(128)
	p := testParams()
	proof, err := stark.Prove(a, tr, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := stark.Verify(a, p, proof); err != nil {
		t.Fatal(err)
	}
	bad := *a
	bad.Result.SetUint64(5)
	if err := stark.Verify(&bad, p, proof); err == nil {
		t.Fatal("wrong result verified")
	}
}

// Worker count must not change a single byte, on the widest AIR too.
func TestPoseidon2Deterministic(t *testing.T) {
	a, tr := NewPoseidon2Chain(32, seqState(3))
	p := testParams()
	var ref []byte
	for _, w := range []int{1, 2, 5} {
		proof, err := stark.Prove(a, tr, p, stark.NewCPU(w))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := proof.MarshalBinary()
		if ref == nil {
			ref = b
		} else if !bytes.Equal(b, ref) {
			t.Fatalf("%d workers: proof differs", w)
		}
	}
}

func TestPoseidon2RoundsProveVerify(t *testing.T) {
	for _, perms := range []int{1, 8} {
		t.Run(fmt.Sprint(perms), func(t *testing.T) {
			a, tr := NewPoseidon2Rounds(perms, seqState(11))
			// The trace's last row must be the protocol/hash output.
			for i := range 16 {
				if !tr[i][a.TraceLength()-1].Equal(&a.Output[i]) {
					t.Fatalf("trace output lane %d differs from protocol/hash", i)
				}
			}
			p := testParams()
			proof, err := stark.Prove(a, tr, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := stark.Verify(a, p, proof); err != nil {
				t.Fatal(err)
			}
			bad := *a
			bad.Output[0].SetUint64(0)
			if err := stark.Verify(&bad, p, proof); err == nil {
				t.Fatal("wrong output verified")
			}
		})
	}
}

// The base-field fast paths of the linear layers equal the generic code
// (which the E4 verifier runs).
func TestLinearLayersFastPath(t *testing.T) {
	in := seqState(123456)
	var e4s [16]stark.E4
	for i := range in {
		e4s[i].B0.A0 = in[i]
	}
	a, b := in, e4s
	matExternal(stark.BaseField{}, &a)
	matExternal(stark.ExtField{}, &b)
	for i := range a {
		if !b[i].B0.A0.Equal(&a[i]) || !b[i].B1.A1.IsZero() {
			t.Fatalf("external layer lane %d differs", i)
		}
	}
	a, b = in, e4s
	matInternal(stark.BaseField{}, &a)
	matInternal(stark.ExtField{}, &b)
	for i := range a {
		if !b[i].B0.A0.Equal(&a[i]) {
			t.Fatalf("internal layer lane %d differs", i)
		}
	}
}

// The base-field constraint fast path equals the generic evaluation, on an
// honest row and on a corrupted one.
func TestEvalPermutationFastPath(t *testing.T) {
	row := make([]fr.Element, PermColumns)
	FillPermutation(seqState(99), row)
	for _, corrupt := range []int{-1, 0, permFull1 + 3, permPartial + 7, PermOutput + 15} {
		r := append([]fr.Element(nil), row...)
		if corrupt >= 0 {
			r[corrupt].SetUint64(4242)
		}
		fast := make([]fr.Element, PermRowConstr)
		EvalPermutation(stark.BaseField{}, r, fast)
		e := make([]stark.E4, PermColumns)
		for i := range r {
			e[i].B0.A0 = r[i]
		}
		slow := make([]stark.E4, PermRowConstr)
		EvalPermutation(stark.ExtField{}, e, slow)
		for k := range fast {
			if !slow[k].B0.A0.Equal(&fast[k]) {
				t.Fatalf("corrupt %d: constraint %d differs", corrupt, k)
			}
		}
	}
}

// A Poseidon2 proof with any byte flipped (sampled across all sections) is
// rejected.
func TestPoseidon2FlippedBytes(t *testing.T) {
	a, tr := NewPoseidon2Chain(16, seqState(5))
	p := testParams()
	proof, err := stark.Prove(a, tr, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := stark.VerifyBytes(a, p, enc); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(enc); i += 61 {
		b := bytes.Clone(enc)
		b[i] ^= 0x04
		if err := stark.VerifyBytes(a, p, b); err == nil {
			t.Fatalf("flipped byte %d of %d verifies", i, len(enc))
		}
	}
}

func digestSeq(start uint64) hash.Digest {
	var d hash.Digest
	for i := range d {
		d[i].SetUint64(start*31 + uint64(i))
	}
	return d
}

func TestMerklePath(t *testing.T) {
	const depth = 32
	leaf := hash.HashLeaf([]fr.Element{seqState(1)[0], seqState(2)[1]})
	sibs := make([]hash.Digest, depth)
	bits := make([]bool, depth)
	want := leaf
	for i := range sibs {
		sibs[i] = digestSeq(uint64(i + 1))
		bits[i] = i%3 == 1
		if bits[i] {
			want = hash.HashNode(sibs[i], want)
		} else {
			want = hash.HashNode(want, sibs[i])
		}
	}
	a, tr, err := NewMerklePath(leaf, sibs, bits)
	if err != nil {
		t.Fatal(err)
	}
	if a.Root != want {
		t.Fatal("AIR root differs from hash.HashNode folding")
	}
	p := testParams()
	proof, err := stark.Prove(a, tr, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := stark.Verify(a, p, proof); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		air  MerklePath
	}{
		{"other root", MerklePath{Depth: depth, Leaf: leaf, Root: digestSeq(99)}},
		{"other leaf", MerklePath{Depth: depth, Leaf: digestSeq(98), Root: a.Root}},
	} {
		if err := stark.Verify(&c.air, p, proof); err == nil {
			t.Fatalf("%s: proof verified", c.name)
		}
	}
	// A non-boolean direction is a wrong witness.
	tr[mpBit][3].SetUint64(2)
	if _, err := stark.Prove(a, tr, p, nil); !errors.Is(err, stark.ErrTrace) {
		t.Fatalf("want ErrTrace, got %v", err)
	}
	if _, _, err := NewMerklePath(leaf, sibs[:5], bits[:5]); err == nil {
		t.Fatal("depth 5 accepted")
	}
}

// TestE6 proves every AIR of this package with E6 challenges: each one's
// EvalExt6 must compute the same polynomials as EvalBase, or the
// out-of-domain check fails.
func TestE6(t *testing.T) {
	p := testParams()
	p.Challenges = stark.E6Challenges
	fib, fibTr := NewFibonacci(64)
	chain, chainTr := NewPoseidon2Chain(8, seqState(3))
	rounds, roundsTr := NewPoseidon2Rounds(2, seqState(5))
	sibs := make([]hash.Digest, 4)
	for i := range sibs {
		sibs[i] = digestSeq(uint64(i + 1))
	}
	path, pathTr, err := NewMerklePath(digestSeq(9), sibs, []bool{true, false, true, true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		a  stark.AIR
		tr [][]fr.Element
	}{{fib, fibTr}, {chain, chainTr}, {rounds, roundsTr}, {path, pathTr}} {
		t.Run(c.a.ID(), func(t *testing.T) {
			proof, err := stark.Prove(c.a, c.tr, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := proof.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := stark.VerifyBytes(c.a, p, b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEvalVec: every AIR here evaluates the same constraints 16 points at a
// time as one at a time.
func TestEvalVec(t *testing.T) {
	fib, _ := NewFibonacci(64)
	chain, _ := NewPoseidon2Chain(8, seqState(3))
	rounds, _ := NewPoseidon2Rounds(2, seqState(5))
	sibs := make([]hash.Digest, 4)
	path, _, err := NewMerklePath(digestSeq(9), sibs, []bool{true, false, true, true})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []stark.AIR{fib, chain, rounds, path} {
		if err := stark.CheckEvalVec(a, 3); err != nil {
			t.Fatal(err)
		}
	}
}
