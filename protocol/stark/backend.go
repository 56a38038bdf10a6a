package stark

import (
	"math/bits"
	"runtime"
	"sync"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
	"github.com/consensys/gnark-crypto/field/koalabear/fft"
	"github.com/consensys/gnark-crypto/utils"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Backend runs the heavy kernels. Every implementation must return exactly the
// same values as the CPU backend (field arithmetic is exact, so only bugs can
// make two backends differ): the proof bytes then do not depend on the backend.
// All vectors are in natural order; a coset domain of size m with offset s is
// {s·ω_m^i : i < m} where ω_m = fr.Generator(m).
type Backend interface {
	// Interpolate replaces each column's evaluations on s·<ω_m> (m = column
	// length, a power of two) by its m coefficients.
	Interpolate(cols [][]fr.Element, shift fr.Element)
	// Evaluate returns each coefficient vector's evaluations on shift·<ω_size>;
	// len(coeffs[i]) ≤ size.
	Evaluate(coeffs [][]fr.Element, size int, shift fr.Element) [][]fr.Element
	// HashRows returns hash.HashLeaf of every row of the column-major matrix.
	HashRows(cols [][]fr.Element) []hash.Digest
	// CompressLevel returns one Merkle level: out[i] = Compress(in[2i], in[2i+1]).
	CompressLevel(in []hash.Digest) []hash.Digest
	// FoldFRI halves a FRI layer given on shift·<ω_m>, m = len(vals):
	// out[i] = (v[i]+v[i+m/2])/2 + beta·(v[i]-v[i+m/2])/(2·shift·ω_m^i).
	FoldFRI(vals []E4, shift fr.Element, beta E4) []E4
	// FoldFRI6 is FoldFRI for proofs with E6 challenges.
	FoldFRI6(vals []E6, shift fr.Element, beta E6) []E6
	// Workers is the degree of parallelism used for the prover's own loops.
	Workers() int
}

// CPU is the pure-Go backend; it spreads work over columns and chunks on
// NumWorkers goroutines (0: all CPUs).
type CPU struct {
	NumWorkers int

	mu      sync.Mutex
	domains map[domainKey]*fft.Domain
}

type domainKey struct {
	size  int
	shift fr.Element
}

// NewCPU returns a CPU backend using the given number of workers (0: all).
func NewCPU(workers int) *CPU { return &CPU{NumWorkers: workers} }

// Workers implements Backend.
func (c *CPU) Workers() int {
	if c.NumWorkers > 0 {
		return c.NumWorkers
	}
	return runtime.GOMAXPROCS(0)
}

func (c *CPU) domain(size int, shift fr.Element) *fft.Domain {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.domains == nil {
		c.domains = make(map[domainKey]*fft.Domain)
	}
	k := domainKey{size, shift}
	d, ok := c.domains[k]
	if !ok {
		d = fft.NewDomain(uint64(size), fft.WithShift(shift))
		c.domains[k] = d
	}
	return d
}

// parallelFor runs f(i) for i in [0, n) on up to w goroutines.
func parallelFor(n, w int, f func(i int)) {
	parallelChunks(n, w, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i)
		}
	})
}

// parallelChunks splits [0, n) into up to w contiguous ranges.
func parallelChunks(n, w int, f func(lo, hi int)) {
	w = max(1, min(w, n))
	if w == 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	per := (n + w - 1) / w
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() { defer wg.Done(); f(lo, hi) }()
	}
	wg.Wait()
}

// Interpolate implements Backend.
func (c *CPU) Interpolate(cols [][]fr.Element, shift fr.Element) {
	if len(cols) == 0 {
		return
	}
	m := len(cols[0])
	d := c.domain(m, shift)
	coset := !shift.IsOne()
	tasks := fft.WithNbTasks(max(1, c.Workers()/len(cols))) // few wide columns: split each FFT
	parallelFor(len(cols), c.Workers(), func(i int) {
		if coset {
			d.FFTInverse(cols[i], fft.DIF, fft.OnCoset(), tasks)
		} else {
			d.FFTInverse(cols[i], fft.DIF, tasks)
		}
		utils.BitReverse(cols[i])
	})
}

// Evaluate implements Backend. The coefficients are scaled by shift^k and
// placed straight at their bit-reversed positions, so a DIT transform
// yields natural order without a separate bit-reversal pass over the
// (blowup-times larger) output. With m coefficients padded to the next
// power of two, coefficient k lands at (size/m)·rev_m(k): the output is
// written in order (every size/m-th slot) and the reads jump instead, which
// costs far fewer cache misses than scattered writes.
func (c *CPU) Evaluate(coeffs [][]fr.Element, size int, shift fr.Element) [][]fr.Element {
	out := make([][]fr.Element, len(coeffs))
	d := c.domain(size, shift)
	table, err := d.CosetTable()
	if err != nil {
		panic(err) // domains are always built with precomputation
	}
	tasks := fft.WithNbTasks(max(1, c.Workers()/max(1, len(coeffs))))
	parallelFor(len(coeffs), c.Workers(), func(i int) {
		a := make([]fr.Element, size)
		cf := coeffs[i]
		m := 1
		for m < len(cf) {
			m <<= 1
		}
		stride, revBits := size/m, 64-uint(bits.TrailingZeros(uint(m)))
		for j := range m {
			k := int(bits.Reverse64(uint64(j)) >> revBits) // 0 when m = 1: a shift by 64 is 0
			if k < len(cf) {
				a[j*stride].Mul(&cf[k], &table[k])
			}
		}
		d.FFT(a, fft.DIT, tasks)
		out[i] = a
	})
	return out
}

// HashRows implements Backend.
func (c *CPU) HashRows(cols [][]fr.Element) []hash.Digest {
	return hash.HashRows(hash.TagLeaf, cols, c.Workers())
}

// CompressLevel implements Backend.
func (c *CPU) CompressLevel(in []hash.Digest) []hash.Digest {
	return hash.CompressLevel(in, c.Workers())
}

// FoldFRI implements Backend.
func (c *CPU) FoldFRI(vals []E4, shift fr.Element, beta E4) []E4 {
	return foldFRI(c.Workers(), vals, shift, beta)
}

// FoldFRI6 implements Backend.
func (c *CPU) FoldFRI6(vals []E6, shift fr.Element, beta E6) []E6 {
	return foldFRI(c.Workers(), vals, shift, beta)
}

func foldFRI[E any, P extElem[E]](workers int, vals []E, shift fr.Element, beta E) []E {
	h := len(vals) / 2
	out := make([]E, h)
	var half fr.Element
	half.SetUint64(2)
	half.Inverse(&half)
	wInv := rootOfUnity(len(vals))
	wInv.Inverse(&wInv)
	var sInv fr.Element
	sInv.Inverse(&shift)
	parallelChunks(h, workers, func(lo, hi int) {
		// xInv = 1/(2·shift·ω^i), advanced by ω^-1 per step.
		xInv := frPow(wInv, uint64(lo))
		xInv.Mul(&xInv, &sInv).Mul(&xInv, &half)
		for i := lo; i < hi; i++ {
			out[i] = foldPair[E, P](vals[i], vals[i+h], xInv, half, beta)
			xInv.Mul(&xInv, &wInv)
		}
	})
	return out
}

// foldFRIWith calls the backend's fold for E.
func foldFRIWith[E any](b Backend, vals []E, shift fr.Element, beta E) []E {
	switch v := any(vals).(type) {
	case []E4:
		return any(b.FoldFRI(v, shift, any(beta).(E4))).([]E)
	case []E6:
		return any(b.FoldFRI6(v, shift, any(beta).(E6))).([]E)
	}
	panic("stark: unknown extension") // E is E4 or E6 by construction
}

// foldPair is the binary FRI fold of f(x)=a, f(-x)=b with halfXInv = 1/(2x):
// (a+b)/2 + beta·(a-b)/(2x).
func foldPair[E any, P extElem[E]](a, b E, halfXInv, half fr.Element, beta E) E {
	var s, d E
	P(&s).Add(&a, &b)
	P(&s).MulByElement(&s, &half)
	P(&d).Sub(&a, &b)
	P(&d).MulByElement(&d, &halfXInv)
	P(&d).Mul(&d, &beta)
	P(&s).Add(&s, &d)
	return s
}
