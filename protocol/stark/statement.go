package stark

import (
	"errors"
	"math/bits"
	"slices"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// transcriptLabel versions the whole protocol; change it with any change of
// the proof system. Proofs with E6 challenges are version 2.
func transcriptLabel(x Extension) string {
	if x == E6Challenges {
		return "trellis/stark/v2"
	}
	return "trellis/stark/v1"
}

// Sentinel errors. Verification errors wrap exactly one of them.
var (
	ErrTrace        = errors.New("stark: trace does not satisfy the AIR")
	ErrPublicInputs = errors.New("stark: public inputs do not fit the AIR")
	ErrShape        = errors.New("stark: proof shape does not match the AIR")
	ErrMerklePath   = errors.New("stark: Merkle path does not open the commitment")
	ErrOODMismatch  = errors.New("stark: out-of-domain constraint check failed")
	ErrDEEPQuery    = errors.New("stark: DEEP composition value does not match the first FRI layer")
	ErrFRIFold      = errors.New("stark: FRI folding is inconsistent")
	ErrFRIFinal     = errors.New("stark: FRI final polynomial does not match the last layer")
	ErrPoW          = errors.New("stark: proof-of-work nonce is invalid")
)

// statement holds what prover and verifier derive identically from the AIR
// and the parameters.
type statement struct {
	air            AIR
	params         Params
	n, logN        int
	w              int
	blowup, N      int // LDE size N = n·blowup
	c              int // composition chunks
	nRow, nTrans   int
	bounds         []Boundary
	boundRows      []int // distinct boundary rows, ascending
	boundRowOf     []int // index into boundRows for each boundary
	periodicCoeffs [][]fr.Element
	shift, g       fr.Element // LDE coset offset, trace-domain generator
	layers         int
	finalLen       int
}

func newStatement(a AIR, p Params) (*statement, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := checkAIR(a, p); err != nil {
		return nil, err
	}
	s := &statement{air: a, params: p, n: a.TraceLength(), w: a.TraceWidth(),
		nRow: a.NumRowConstraints(), nTrans: a.NumTransitionConstraints(), bounds: a.Boundaries()}
	s.logN = bits.TrailingZeros(uint(s.n))
	s.blowup = 1 << p.LogBlowup
	s.N = s.n * s.blowup
	s.c = ceFactor(a.ConstraintDegree())
	s.shift = cosetShift()
	s.g = rootOfUnity(s.n)
	s.layers, s.finalLen = p.numFRILayers(s.logN)
	rowIdx := map[int]int{}
	for _, b := range s.bounds {
		if _, ok := rowIdx[b.Row]; !ok {
			rowIdx[b.Row] = 0
			s.boundRows = append(s.boundRows, b.Row)
		}
	}
	slices.Sort(s.boundRows)
	for i, r := range s.boundRows {
		rowIdx[r] = i
	}
	for _, b := range s.bounds {
		s.boundRowOf = append(s.boundRowOf, rowIdx[b.Row])
	}
	var one fr.Element
	one.SetOne()
	for _, col := range a.PeriodicColumns() {
		cf := append([]fr.Element(nil), col...)
		if len(cf) > 1 {
			(&CPU{NumWorkers: 1}).Interpolate([][]fr.Element{cf}, one)
		}
		s.periodicCoeffs = append(s.periodicCoeffs, cf)
	}
	return s, nil
}

// transcript starts the Fiat–Shamir transcript bound to the whole statement:
// protocol version, parameters, AIR id and shape, public inputs, periodic
// columns, boundaries.
func (s *statement) transcript() *Transcript {
	t := NewTranscript(transcriptLabel(s.params.Challenges))
	p := s.params
	for _, v := range []int{p.LogBlowup, p.NumQueries, p.GrindingBits, p.LogFoldArity, p.LogFinalSize, s.logN, s.w, s.nRow, s.nTrans, s.air.ConstraintDegree()} {
		t.AbsorbUint64(uint64(v))
	}
	t.AbsorbBytes([]byte(s.air.ID()))
	pub := s.air.PublicInputs()
	t.AbsorbUint64(uint64(len(pub)))
	t.Absorb(pub...)
	per := s.air.PeriodicColumns()
	t.AbsorbUint64(uint64(len(per)))
	for _, col := range per {
		t.AbsorbUint64(uint64(len(col)))
		t.Absorb(col...)
	}
	t.AbsorbUint64(uint64(len(s.bounds)))
	for _, b := range s.bounds {
		t.AbsorbUint64(uint64(b.Column))
		t.AbsorbUint64(uint64(b.Row))
		t.Absorb(b.Value)
	}
	return t
}

// powers returns a^0..a^(k-1).
func powers[E any, P extElem[E]](a E, k int) []E {
	v := make([]E, k)
	if k > 0 {
		P(&v[0]).SetOne()
	}
	for i := 1; i < k; i++ {
		P(&v[i]).Mul(&v[i-1], &a)
	}
	return v
}

func (s *statement) numCoeffs() int { return s.nRow + s.nTrans + len(s.bounds) }

// sampleZ draws the out-of-domain point, redrawing in the negligible event it
// falls on the trace domain or the LDE coset (where quotients are undefined).
func sampleZ[E any, P extElem[E]](s *statement, t *Transcript) E {
	shN := frPow(s.shift, uint64(s.N))
	for {
		z := sampleExt[E](t)
		zn := extPow[E, P](z, uint64(s.n))
		zN := extPow[E, P](zn, uint64(s.blowup))
		one, sN := lift[E](fr.One()), lift[E](shN)
		if !P(&zn).Equal(&one) && !P(&zN).Equal(&sN) {
			return z
		}
	}
}

// evalExt evaluates the AIR's constraints at an extension point.
func evalExt[E any](a AIR, f Frame[E], out []E) {
	switch f := any(f).(type) {
	case Frame[E4]:
		a.EvalExt(f, any(out).([]E4))
	case Frame[E6]:
		a.(AIR6).EvalExt6(f, any(out).([]E6))
	}
}

// compositionAtZ evaluates the constraint composition at z from the
// out-of-domain trace values (the verifier's side of the OOD check).
func compositionAtZ[E any, P extElem[E]](s *statement, alpha, z E, cur, next []E) E {
	per := make([]E, len(s.periodicCoeffs))
	for j, cf := range s.periodicCoeffs {
		per[j] = evalBaseAt[E, P](cf, extPow[E, P](z, uint64(s.n/len(cf))))
	}
	out := make([]E, s.nRow+s.nTrans)
	evalExt(s.air, Frame[E]{Cur: cur, Next: next, Periodic: per}, out)
	al := powers[E, P](alpha, s.numCoeffs())
	var rowSum, trSum, t E
	for k := 0; k < s.nRow; k++ {
		P(&t).Mul(&out[k], &al[k])
		P(&rowSum).Add(&rowSum, &t)
	}
	for k := s.nRow; k < s.nRow+s.nTrans; k++ {
		P(&t).Mul(&out[k], &al[k])
		P(&trSum).Add(&trSum, &t)
	}
	// (rowSum + trSum·(z - g^(n-1))) / (z^n - 1)
	gLast := frPow(s.g, uint64(s.n-1))
	var zl, res E
	zl = z
	addBase(&zl, neg(gLast))
	P(&trSum).Mul(&trSum, &zl)
	P(&rowSum).Add(&rowSum, &trSum)
	zn := extPow[E, P](z, uint64(s.n))
	addBase(&zn, neg(fr.One()))
	P(&zn).Inverse(&zn)
	P(&res).Mul(&rowSum, &zn)
	for i, b := range s.bounds {
		var num, den E
		num = cur[b.Column]
		addBase(&num, neg(b.Value))
		P(&num).Mul(&num, &al[s.nRow+s.nTrans+i])
		den = z
		addBase(&den, neg(frPow(s.g, uint64(b.Row))))
		P(&den).Inverse(&den)
		P(&num).Mul(&num, &den)
		P(&res).Add(&res, &num)
	}
	return res
}

func neg(x fr.Element) fr.Element {
	x.Neg(&x)
	return x
}

// powAccept reports whether nonce solves the grinding puzzle for seed.
func powAccept(seedDigest [8]fr.Element, nonce uint64, bitsNeeded int) bool {
	d := powDigest(seedDigest, nonce)
	return d[0].Uint64()>>(31-bitsNeeded) == 0
}
