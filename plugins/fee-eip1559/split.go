package fee

import (
	"fmt"
	"math/bits"
)

// Shares are amounts for the four recipients of fees.
type Shares struct {
	Burn      uint64 `json:"burn"`
	Treasury  uint64 `json:"treasury"`
	Sequencer uint64 `json:"sequencer"`
	Prover    uint64 `json:"prover"`
}

// Sum returns the total of the four shares, or ErrOverflow.
func (s Shares) Sum() (uint64, error) {
	total := s.Burn
	for _, v := range [...]uint64{s.Treasury, s.Sequencer, s.Prover} {
		var carry uint64
		total, carry = bits.Add64(total, v, 0)
		if carry != 0 {
			return 0, fmt.Errorf("%w: sum of shares %+v", ErrOverflow, s)
		}
	}
	return total, nil
}

// add returns s + o per recipient, or false on overflow.
func (s Shares) add(o Shares) (Shares, bool) {
	var c1, c2, c3, c4 uint64
	s.Burn, c1 = bits.Add64(s.Burn, o.Burn, 0)
	s.Treasury, c2 = bits.Add64(s.Treasury, o.Treasury, 0)
	s.Sequencer, c3 = bits.Add64(s.Sequencer, o.Sequencer, 0)
	s.Prover, c4 = bits.Add64(s.Prover, o.Prover, 0)
	return s, c1|c2|c3|c4 == 0
}

// Apply divides amount by the split. Each recipient gets
// floor(amount × bps / 10,000) (with a 128-bit product, so any uint64 amount
// works); the remainder, at most 3, goes to the first recipient with a
// non-zero share in the fixed order burn, treasury, sequencer, prover. A
// recipient with 0 bps thus never receives anything, the default base-fee
// split sends its dust to burn, and the shares always sum to amount exactly.
// It fails only for an invalid split.
func (s Split) Apply(amount uint64) (Shares, error) {
	if err := s.validate("split"); err != nil {
		return Shares{}, err
	}
	return s.apply(amount), nil
}

// apply is Apply for a split known to be valid (bps sum to 10,000, so each
// product's high word is below 10,000 and Div64 cannot fault).
func (s Split) apply(amount uint64) Shares {
	part := func(bps uint32) uint64 {
		hi, lo := bits.Mul64(amount, uint64(bps))
		if hi == 0 { // the usual case: a division by a constant, no DIV
			return lo / BasisPoints
		}
		q, _ := bits.Div64(hi, lo, BasisPoints)
		return q
	}
	sh := Shares{
		Burn:      part(s.Burn),
		Treasury:  part(s.Treasury),
		Sequencer: part(s.Sequencer),
		Prover:    part(s.Prover),
	}
	// Each floor loses less than 1, so the parts sum to at most amount and
	// the remainder is below 4; no step here can overflow.
	rem := amount - sh.Burn - sh.Treasury - sh.Sequencer - sh.Prover
	switch {
	case s.Burn != 0:
		sh.Burn += rem
	case s.Treasury != 0:
		sh.Treasury += rem
	case s.Sequencer != 0:
		sh.Sequencer += rem
	default:
		sh.Prover += rem
	}
	return sh
}
