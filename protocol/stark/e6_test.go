package stark

import (
	"bytes"
	"errors"
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// TestCoordsLayout: the generic coordinate view reads E4 and E6 in the
// order the encoding and the transcript use.
func TestCoordsLayout(t *testing.T) {
	var e4 E4
	e4.B0.A0.SetUint64(1)
	e4.B0.A1.SetUint64(2)
	e4.B1.A0.SetUint64(3)
	e4.B1.A1.SetUint64(4)
	var e6 E6
	e6.B0.A0.SetUint64(1)
	e6.B0.A1.SetUint64(2)
	e6.B1.A0.SetUint64(3)
	e6.B1.A1.SetUint64(4)
	e6.B2.A0.SetUint64(5)
	e6.B2.A1.SetUint64(6)
	for name, c := range map[string][]fr.Element{"E4": coords(&e4), "E6": coords(&e6)} {
		for i, v := range c {
			if v.Uint64() != uint64(i+1) {
				t.Fatalf("%s coordinate %d is %d", name, i, v.Uint64())
			}
		}
	}
	if degree[E4]() != 4 || degree[E6]() != 6 {
		t.Fatalf("degrees %d, %d", degree[E4](), degree[E6]())
	}
	if x := fromExt[E6](new(Ext)); !x.IsZero() {
		t.Fatal("zero Ext is not zero")
	}
}

// TestE6IsAField: the challenge extension has inverses (a product with a
// zero divisor would make a quotient undefined).
func TestE6IsAField(t *testing.T) {
	for i := range 200 {
		var x, inv, prod E6
		for j, c := range coords(&x) {
			c.SetUint64(uint64(i*7919 + j*104729 + 1))
			coords(&x)[j] = c
		}
		inv.Inverse(&x)
		prod.Mul(&x, &inv)
		if !prod.IsOne() {
			t.Fatalf("x·x⁻¹ = %s", prod.String())
		}
	}
}

func TestProveVerifyE6(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		p    Params
	}{
		{"n4", 4, Params{LogBlowup: 1, NumQueries: 2, LogFoldArity: 1, LogFinalSize: 1, LogMerkleCap: 1, Challenges: E6Challenges}},
		{"n64 arity2", 64, Params{LogBlowup: 2, NumQueries: 20, GrindingBits: 4, LogFoldArity: 1, LogFinalSize: 2, Challenges: E6Challenges}},
		{"n1024 arity4", 1024, Params{LogBlowup: 2, NumQueries: 30, GrindingBits: 4, LogFoldArity: 2, LogFinalSize: 3, LogMerkleCap: 4, Challenges: E6Challenges}},
		{"n1024 ProvenParams", 1024, ProvenParams()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, tr := cubeInstance(t, tc.n)
			proof, err := Prove(a, tr, tc.p, NewCPU(0))
			if err != nil {
				t.Fatal(err)
			}
			if proof.CompColumns != 6*ceFactor(3) {
				t.Fatalf("%d composition columns", proof.CompColumns)
			}
			b, err := proof.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if b[4] != ProofVersionE6 {
				t.Fatalf("encoding version %d", b[4])
			}
			if err := VerifyBytes(a, tc.p, b); err != nil {
				t.Fatal(err)
			}
			back, err := DecodeProof(b)
			if err != nil {
				t.Fatal(err)
			}
			if back.Params != tc.p {
				t.Fatalf("decoded params %+v", back.Params)
			}
			if b2, _ := back.MarshalBinary(); !bytes.Equal(b, b2) {
				t.Fatal("re-encoding differs")
			}
			// The E4 verifier refuses it, and an E4 proof of the same
			// statement does not pass the E6 verifier.
			p4 := tc.p
			p4.Challenges = E4Challenges
			if err := VerifyBytes(a, p4, b); !errors.Is(err, ErrParams) {
				t.Fatalf("E4 verifier: %v", err)
			}
			proof4, err := Prove(a, tr, p4, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(a, tc.p, proof4); !errors.Is(err, ErrParams) {
				t.Fatalf("E6 verifier on an E4 proof: %v", err)
			}
		})
	}
}

func TestE6DeterministicAcrossWorkers(t *testing.T) {
	a, tr := cubeInstance(t, 512)
	p := testParams()
	p.Challenges = E6Challenges
	var ref []byte
	for _, w := range []int{1, 3, 8} {
		proof, err := Prove(a, tr, p, NewCPU(w))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := proof.MarshalBinary()
		if ref == nil {
			ref = b
		} else if !bytes.Equal(ref, b) {
			t.Fatalf("E6 proof with %d workers differs from 1 worker", w)
		}
	}
}

func TestE6NeedsEvalExt6(t *testing.T) {
	a, tr := cubeInstance(t, 16)
	type plain struct{ AIR }
	p := testParams()
	p.Challenges = E6Challenges
	if _, err := Prove(plain{a}, tr, p, nil); !errors.Is(err, ErrAIR) {
		t.Fatalf("prove: %v", err)
	}
}

// TestE6WrongWitness: the E6 prover refuses a wrong trace like the E4 one,
// and a proof of it made without the check does not verify.
func TestE6WrongWitness(t *testing.T) {
	a, tr := cubeInstance(t, 64)
	p := testParams()
	p.Challenges = E6Challenges
	tr[1][10].SetUint64(5)
	if _, err := Prove(a, tr, p, nil); !errors.Is(err, ErrTrace) {
		t.Fatalf("prove: %v", err)
	}
	proof, err := ProveWith(a, tr, p, nil, ProveOptions{SkipTraceCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(a, p, proof); err == nil {
		t.Fatal("proof of a wrong trace verified")
	}
}

func TestCubeEvalVec(t *testing.T) {
	a, _ := cubeInstance(t, 64)
	if err := CheckEvalVec(a, 4); err != nil {
		t.Fatal(err)
	}
}
