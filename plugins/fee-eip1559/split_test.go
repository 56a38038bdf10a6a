package fee

import (
	"errors"
	"math"
	"testing"
)

func TestSplitApply(t *testing.T) {
	tests := []struct {
		name   string
		split  Split
		amount uint64
		want   Shares
	}{
		{"default base even", DefaultBaseFeeSplit, 21_000_000, Shares{Burn: 10_500_000, Treasury: 2_100_000, Prover: 8_400_000}},
		{"default base dust to burn", DefaultBaseFeeSplit, 999, Shares{Burn: 501, Treasury: 99, Prover: 399}},
		{"default base one unit", DefaultBaseFeeSplit, 1, Shares{Burn: 1}},
		{"default base zero", DefaultBaseFeeSplit, 0, Shares{}},
		{"default tip", DefaultTipSplit, 12_345, Shares{Sequencer: 12_345}},
		{"thirds remainder 2 to burn", Split{3333, 3333, 3333, 1}, 12_345, Shares{Burn: 4116, Treasury: 4114, Sequencer: 4114, Prover: 1}},
		{"no burn remainder to treasury", Split{0, 3334, 3333, 3333}, 7, Shares{Treasury: 3, Sequencer: 2, Prover: 2}},
		{"sequencer first nonzero", Split{0, 0, 1, 9999}, 1_000_007, Shares{Sequencer: 101, Prover: 999_906}},
		{"prover only", Split{Prover: BasisPoints}, 5, Shares{Prover: 5}},
		{"max uint64 needs 128 bits", DefaultBaseFeeSplit, math.MaxUint64,
			Shares{Burn: 9_223_372_036_854_775_808, Treasury: 1_844_674_407_370_955_161, Prover: 7_378_697_629_483_820_646}},
		{"max uint64 all burn", Split{Burn: BasisPoints}, math.MaxUint64, Shares{Burn: math.MaxUint64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.split.Apply(tc.amount)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("%+v.Apply(%d) = %+v, want %+v", tc.split, tc.amount, got, tc.want)
			}
			if sum, err := got.Sum(); err != nil || sum != tc.amount {
				t.Fatalf("shares sum to %d (%v), want %d", sum, err, tc.amount)
			}
		})
	}
}

func TestSplitApplyInvalid(t *testing.T) {
	for _, s := range []Split{{}, {Burn: 9_999}, {Burn: 10_000, Prover: 1}, {Burn: math.MaxUint32, Treasury: math.MaxUint32}} {
		if _, err := s.Apply(100); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%+v.Apply error = %v, want ErrInvalidParams", s, err)
		}
	}
}

// Conservation over many awkward amounts and splits: the parts always sum to
// the amount, a 0-bps recipient gets nothing, and nobody gets more than
// floor(share)+3.
func TestSplitConservation(t *testing.T) {
	splits := []Split{DefaultBaseFeeSplit, DefaultTipSplit, {3333, 3333, 3333, 1}, {1, 1, 1, 9997},
		{0, 0, 0, 10_000}, {0, 1, 0, 9_999}, {2_500, 2_500, 2_500, 2_500}, {7, 3_001, 4_999, 1_993}}
	amounts := []uint64{0, 1, 2, 3, 7, 9_999, 10_000, 10_001, 123_456_789, 1 << 53, math.MaxUint64 / 3, math.MaxUint64 - 1, math.MaxUint64}
	for _, s := range splits {
		for _, a := range amounts {
			sh := s.apply(a)
			sum, err := sh.Sum()
			if err != nil || sum != a {
				t.Fatalf("%+v.apply(%d) = %+v sums to %d (%v)", s, a, sh, sum, err)
			}
			for _, c := range []struct {
				bps uint32
				got uint64
			}{{s.Burn, sh.Burn}, {s.Treasury, sh.Treasury}, {s.Sequencer, sh.Sequencer}, {s.Prover, sh.Prover}} {
				if c.bps == 0 && c.got != 0 {
					t.Fatalf("%+v.apply(%d) = %+v pays a 0-bps recipient", s, a, sh)
				}
			}
		}
	}
}

func TestSharesSumOverflow(t *testing.T) {
	if _, err := (Shares{Burn: math.MaxUint64, Prover: 1}).Sum(); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Sum error = %v, want ErrOverflow", err)
	}
}
