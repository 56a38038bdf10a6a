package backendtest

import (
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/stark/airs"
)

func TestCPU(t *testing.T) {
	for _, w := range []int{1, 2, 0} {
		Run(t, stark.NewCPU(w))
	}
}

func TestCompareProofs(t *testing.T) {
	var in [16]fr.Element
	a, tr := airs.NewPoseidon2Chain(16, in)
	p := stark.DefaultParams()
	p.GrindingBits = 4
	CompareProofs(t, stark.NewCPU(3), a, tr, p)
	p.Challenges = stark.E6Challenges
	CompareProofs(t, stark.NewCPU(3), a, tr, p)
}
