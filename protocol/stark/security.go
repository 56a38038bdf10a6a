package stark

import (
	"fmt"
	"math"
)

// Shape is what a proof's soundness depends on besides Params: the
// statement's trace and constraints.
type Shape struct {
	LogTraceLength int
	TraceWidth     int
	Constraints    int // row + transition + boundary constraints, batched by powers of one challenge
	MaxDegree      int // the highest constraint degree
}

// ShapeOf reads the shape of a statement.
func ShapeOf(a AIR) Shape {
	logN := 0
	for n := a.TraceLength(); n > 1; n >>= 1 {
		logN++
	}
	return Shape{LogTraceLength: logN, TraceWidth: a.TraceWidth(),
		Constraints: a.NumRowConstraints() + a.NumTransitionConstraints() + len(a.Boundaries()), MaxDegree: a.ConstraintDegree()}
}

// ChallengeFieldBits is log2 of E4 over KoalaBear, p = 2^31 - 2^24 + 1: the
// challenge field of Params with E4Challenges (Extension.Bits gives it for
// either field).
var ChallengeFieldBits = 4 * math.Log2(float64(2130706433))

// SecurityOf is Security with the challenge field the parameters name.
func (p Params) SecurityOf(sh Shape) Security { return p.Security(sh, p.Challenges.Bits()) }

// Security is a proof's soundness in bits, each figure the least of its
// terms (an error of 2^-b for b bits).
type Security struct {
	// Conjectured is the ethSTARK conjecture ("toy problem"): each query
	// gives log2(blowup) bits, grinding adds its bits, the field caps it.
	// Shown not to hold in general (ePrint 2025/2010, 2025/2046); quoted
	// for comparison only.
	Conjectured float64
	// UniqueDecoding is proven, with FRI's proximity parameter in the
	// unique-decoding radius (1 - rho)/2 (BCIKS20).
	UniqueDecoding float64
	// Johnson is proven up to the Johnson bound 1 - sqrt(rho) (list
	// decoding; mutual correlated agreement error of BCHKS25 Thm 4.2).
	Johnson float64
	// Terms are the Johnson-regime terms by name, for docs and tests.
	Terms map[string]float64
}

// Proven is the better of the two proven figures.
func (s Security) Proven() float64 { return max(s.UniqueDecoding, s.Johnson) }

// regime is a proximity regime of Reed-Solomon codes of rate rho.
type regime struct {
	theta float64                   // FRI's proximity parameter
	list  float64                   // list size at theta
	lin   func(dim float64) float64 // MCA error of a batch with independent coefficients
}

func (r regime) powers(dim float64, functions int) float64 {
	return r.lin(dim) * float64(max(functions-1, 1))
}

func uniqueDecoding(rho, field float64) regime {
	return regime{theta: (1 - rho) / 2, list: 1, lin: func(dim float64) float64 { return dim / rho / field }}
}

func johnson(rho, fieldBits float64) regime {
	field := math.Exp2(fieldBits)
	s := math.Sqrt(rho)
	gap := max(rho/20, s/100) // how far below the Johnson bound FRI's theta sits
	if fieldBits > 150 {
		gap = s / 100
	}
	theta := 1 - s - gap
	m := max(math.Ceil(s/gap), 3) + 0.5
	return regime{theta: theta, list: 1 / (2 * gap * s), lin: func(dim float64) float64 {
		n := dim / rho
		return ((2*math.Pow(m, 5)+3*m*theta*rho)*n/(3*rho*s) + m/s) / field
	}}
}

func securityBits(err float64) float64 {
	if err <= 0 {
		return math.Inf(1)
	}
	return -math.Log2(err)
}

// Security computes the soundness of proofs with parameters p of a
// statement of shape sh, with challenges from a field of fieldBits bits.
// The terms, for either regime (list size L, proximity theta, rate rho,
// trace length N, LDE domain D = N/rho, field F):
//
//	ALI (constraint batching by powers):  L · C / |F|
//	DEEP (out-of-domain point):           L · (d·(N + 1) + N - 1) / (|F| - N - D)
//	FRI batching (powers, w + c functions): MCA(N) · (w + c - 1)
//	FRI commit round i (fold by a):        MCA(N / a^(i+1)) · (a - 1)
//	FRI queries:                           (1 - theta)^q · 2^-grinding
//
// and the result is the least. Merkle hashing (Poseidon2, 8-element
// digests, ~124-bit collision resistance) is not the bound here.
func (p Params) Security(sh Shape, fieldBits float64) Security {
	rho := math.Exp2(-float64(p.LogBlowup))
	n := math.Exp2(float64(sh.LogTraceLength))
	d := n / rho
	field := math.Exp2(fieldBits)
	chunks := ceFactor(sh.MaxDegree)
	layers, _ := p.numFRILayers(sh.LogTraceLength)
	arity := 1 << p.LogFoldArity
	out := Security{Terms: map[string]float64{}}
	out.Conjectured = min(float64(p.NumQueries*p.LogBlowup+p.GrindingBits), fieldBits-math.Log2(d))
	for ri, r := range []regime{uniqueDecoding(rho, field), johnson(rho, fieldBits)} {
		terms := map[string]float64{
			"ALI":      securityBits(r.list * float64(sh.Constraints) / field),
			"DEEP":     securityBits(r.list * (float64(sh.MaxDegree)*(n+1) + n - 1) / (field - n - d)),
			"batching": securityBits(r.powers(n, sh.TraceWidth+chunks)),
			"queries":  securityBits(math.Pow(1-r.theta, float64(p.NumQueries)) * math.Exp2(-float64(p.GrindingBits))),
		}
		dim := n
		for i := range layers {
			dim /= float64(arity)
			terms[fmt.Sprintf("commit round %d", i+1)] = securityBits(r.powers(dim, arity))
		}
		least := math.Inf(1)
		for _, b := range terms {
			least = min(least, b)
		}
		if ri == 0 {
			out.UniqueDecoding = least
		} else {
			out.Johnson, out.Terms = least, terms
		}
	}
	return out
}
