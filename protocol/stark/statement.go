package stark

import (
	"errors"
	"math/bits"
	"slices"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// transcriptLabel versions the whole protocol; change it with any change of
// the proof system.
const transcriptLabel = "trellis/stark/v1"

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
	t := NewTranscript(transcriptLabel)
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

// alphas returns the composition coefficients α^0..α^(k-1).
func powers(a E4, k int) []E4 {
	v := make([]E4, k)
	if k > 0 {
		v[0].SetOne()
	}
	for i := 1; i < k; i++ {
		v[i].Mul(&v[i-1], &a)
	}
	return v
}

func (s *statement) numCoeffs() int { return s.nRow + s.nTrans + len(s.bounds) }

// sampleZ draws the out-of-domain point, redrawing in the negligible event it
// falls on the trace domain or the LDE coset (where quotients are undefined).
func (s *statement) sampleZ(t *Transcript) E4 {
	shN := frPow(s.shift, uint64(s.N))
	for {
		z := t.SampleE4()
		zn := e4Pow(z, uint64(s.n))
		zN := e4Pow(zn, uint64(s.blowup))
		var one, sN E4
		one.SetOne()
		sN.B0.A0 = shN
		if !zn.Equal(&one) && !zN.Equal(&sN) {
			return z
		}
	}
}

// compositionAtZ evaluates the constraint composition at z from the
// out-of-domain trace values (the verifier's side of the OOD check).
func (s *statement) compositionAtZ(alpha, z E4, cur, next []E4) E4 {
	per := make([]E4, len(s.periodicCoeffs))
	for j, cf := range s.periodicCoeffs {
		per[j] = evalBaseAt(cf, e4Pow(z, uint64(s.n/len(cf))))
	}
	out := make([]E4, s.nRow+s.nTrans)
	s.air.EvalExt(Frame[E4]{Cur: cur, Next: next, Periodic: per}, out)
	al := powers(alpha, s.numCoeffs())
	var rowSum, trSum, t E4
	for k := 0; k < s.nRow; k++ {
		t.Mul(&out[k], &al[k])
		rowSum.Add(&rowSum, &t)
	}
	for k := s.nRow; k < s.nRow+s.nTrans; k++ {
		t.Mul(&out[k], &al[k])
		trSum.Add(&trSum, &t)
	}
	// (rowSum + trSum·(z - g^(n-1))) / (z^n - 1)
	gLast := frPow(s.g, uint64(s.n-1))
	var zl, zn, one, res E4
	zl.Set(&z)
	zl.B0.A0.Sub(&zl.B0.A0, &gLast)
	trSum.Mul(&trSum, &zl)
	rowSum.Add(&rowSum, &trSum)
	zn = e4Pow(z, uint64(s.n))
	one.SetOne()
	zn.Sub(&zn, &one)
	zn.Inverse(&zn)
	res.Mul(&rowSum, &zn)
	for i, b := range s.bounds {
		var num, den E4
		num.Set(&cur[b.Column])
		num.B0.A0.Sub(&num.B0.A0, &b.Value)
		num.Mul(&num, &al[s.nRow+s.nTrans+i])
		gr := frPow(s.g, uint64(b.Row))
		den.Set(&z)
		den.B0.A0.Sub(&den.B0.A0, &gr)
		den.Inverse(&den)
		num.Mul(&num, &den)
		res.Add(&res, &num)
	}
	return res
}

// powAccept reports whether nonce solves the grinding puzzle for seed.
func powAccept(seedDigest [8]fr.Element, nonce uint64, bitsNeeded int) bool {
	d := powDigest(seedDigest, nonce)
	return d[0].Uint64()>>(31-bitsNeeded) == 0
}
