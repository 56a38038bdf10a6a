package stark

import (
	"math"
	"testing"
)

// TestSecurityAnchors checks the calculator against figures computed
// independently: the query-phase terms of a published soundness report
// (soundcalc, ZisK Main: Goldilocks^3, rate 1/2, 128 queries, no
// grinding: 53 bits unique decoding, 62 up to the Johnson bound) and the
// ethSTARK conjecture by hand.
func TestSecurityAnchors(t *testing.T) {
	p := Params{LogBlowup: 1, NumQueries: 128, GrindingBits: 0, LogFoldArity: 2, LogFinalSize: 5, LogMerkleCap: 4}
	goldilocks3 := 3 * math.Log2(18446744069414584321)
	s := p.Security(Shape{LogTraceLength: 22, TraceWidth: 64, Constraints: 64, MaxDegree: 3}, goldilocks3)
	if q := s.Terms["queries"]; math.Floor(q) != 62 {
		t.Errorf("Johnson-regime query phase %.2f bits, want 62", q)
	}
	if math.Floor(s.UniqueDecoding) != 53 {
		t.Errorf("unique decoding %.2f bits, want 53 (the query phase)", s.UniqueDecoding)
	}
	if s.Conjectured != 128 {
		t.Errorf("conjectured %.1f, want 128 queries × 1 bit", s.Conjectured)
	}
}

// TestSecurityMoves: each parameter moves the figures the way the
// formulas say, and a larger field lifts every field-bound term by the
// difference.
func TestSecurityMoves(t *testing.T) {
	base := Params{LogBlowup: 2, NumQueries: 40, GrindingBits: 20, LogFoldArity: 2, LogFinalSize: 5, LogMerkleCap: 4}
	sh := Shape{LogTraceLength: 16, TraceWidth: 60, Constraints: 100, MaxDegree: 3}
	s0 := base.Security(sh, ChallengeFieldBits)
	more := base
	more.NumQueries += 10
	if s := more.Security(sh, ChallengeFieldBits); s.Terms["queries"] <= s0.Terms["queries"] || s.Conjectured <= s0.Conjectured {
		t.Errorf("10 more queries: queries %.1f → %.1f, conjectured %.1f → %.1f", s0.Terms["queries"], s.Terms["queries"], s0.Conjectured, s.Conjectured)
	}
	if s := more.Security(sh, 200); s.Conjectured != 120 {
		t.Errorf("conjectured %.1f with a large field, want 50 queries × 2 bits + 20", s.Conjectured)
	}
	// Below 2^150 the Johnson gap is fixed, so 16 more field bits lift the
	// field-bound terms by 16 and leave the query phase alone.
	s16 := base.Security(sh, ChallengeFieldBits+16)
	for _, term := range []string{"batching", "ALI", "commit round 1"} {
		if d := s16.Terms[term] - s0.Terms[term]; math.Abs(d-16) > 0.01 {
			t.Errorf("16 more field bits lift %s by %.2f", term, d)
		}
	}
	if s16.Terms["queries"] != s0.Terms["queries"] {
		t.Error("the field size moved the query phase")
	}
	// Above 2^150 (E6) the gap tightens toward the Johnson bound: queries
	// gain too.
	if s6 := base.Security(sh, 6*math.Log2(2130706433)); s6.Terms["queries"] <= s0.Terms["queries"] || s6.Terms["batching"] <= s0.Terms["batching"]+40 {
		t.Errorf("E6: queries %.1f, batching %.1f", s6.Terms["queries"], s6.Terms["batching"])
	}
	longer := sh
	longer.LogTraceLength += 2
	if s := base.Security(longer, ChallengeFieldBits); s.Terms["batching"] >= s0.Terms["batching"] {
		t.Error("a longer trace did not lower the batching term")
	}
	if s0.Proven() < s0.UniqueDecoding || s0.Proven() < s0.Johnson {
		t.Error("Proven is not the better regime")
	}
}

// TestProvenParams: ProvenParams keeps ≥ 100 proven and ≥ 128 conjectured
// bits for every statement shape this package accepts: trace lengths up to
// 2^22, widths up to MaxTraceWidth, every constraint count and the degrees
// its blowup allows.
func TestProvenParams(t *testing.T) {
	p := ProvenParams()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	least, leastConj := math.Inf(1), math.Inf(1)
	for logN := 2; logN <= MaxLogTraceLength; logN++ {
		for _, w := range []int{1, 64, 376, 1024, MaxTraceWidth} {
			for _, c := range []int{1, 600, MaxConstraints + MaxBoundaries} {
				for _, d := range []int{2, 3, 5} {
					s := p.SecurityOf(Shape{LogTraceLength: logN, TraceWidth: w, Constraints: c, MaxDegree: d})
					least, leastConj = min(least, s.Proven()), min(leastConj, s.Conjectured)
				}
			}
		}
	}
	t.Logf("ProvenParams: least proven %.1f bits, least conjectured %.1f", least, leastConj)
	if least < 100 || leastConj < 128 {
		t.Fatalf("least proven %.1f, conjectured %.1f", least, leastConj)
	}
	// The same parameters with E4 challenges do not reach it: the field,
	// not the queries, is what E4 lacks.
	e4 := p
	e4.Challenges = E4Challenges
	if s := e4.SecurityOf(Shape{LogTraceLength: 17, TraceWidth: 376, Constraints: 600, MaxDegree: 3}); s.Proven() >= 100 {
		t.Fatalf("E4 gives %.1f proven bits", s.Proven())
	}
}
