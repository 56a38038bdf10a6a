package stark

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestProofBytesPinned pins the bytes of E4 (encoding version 1) proofs: the
// chain re-verifies old proofs on replay, so no refactoring of the prover
// may change a single byte of them.
func TestProofBytesPinned(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		p    Params
		want string
	}{
		{"n256 test params", 256, testParams(), goldenCube256},
		{"n64 arity2", 64, Params{LogBlowup: 2, NumQueries: 20, GrindingBits: 4, LogFoldArity: 1, LogFinalSize: 2}, goldenCube64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, tr := cubeInstance(t, tc.n)
			proof, err := Prove(a, tr, tc.p, NewCPU(0))
			if err != nil {
				t.Fatal(err)
			}
			b, err := proof.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != tc.want {
				t.Fatalf("proof bytes changed: sha256 %s, pinned %s", got, tc.want)
			}
			// Letting the prover consume the trace changes nothing.
			consumed, err := ProveWith(a, tr, tc.p, NewCPU(0), ProveOptions{ConsumeTrace: true})
			if err != nil {
				t.Fatal(err)
			}
			if b2, _ := consumed.MarshalBinary(); !bytes.Equal(b, b2) {
				t.Fatal("ConsumeTrace changed the proof")
			}
		})
	}
}

const (
	goldenCube256 = "87ecff402367b63d1c5004720d5082433701c90bd255dbb6347b449e268a49e4"
	goldenCube64  = "27380b8a6f0bd5795052f54ea0afc001df1ad49550cec0a94919c9edc209d1a4"
)
