package stark

import (
	"fmt"
	"slices"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// skipTraceCheck lets the package's soundness tests build proofs of wrong
// witnesses to show that the verifier rejects them.
var skipTraceCheck = false

// Prove builds a proof that trace (column-major, TraceWidth columns of
// TraceLength rows) satisfies the AIR. It returns an error wrapping ErrTrace
// for a wrong witness. The proof bytes depend only on the AIR, the trace and
// the parameters: never on the backend or its number of workers.
func Prove(a AIR, trace [][]fr.Element, p Params, b Backend) (*Proof, error) {
	return ProveWith(a, trace, p, b, ProveOptions{})
}

// Progress receives the prover's stage ("check", "trace", "lde", "commit",
// "composition", "ood", "deep", "fri", "grinding", "queries") and the
// fraction of the whole proof done so far, monotone in [0, 1]. It is called
// from the proving goroutine and must return quickly.
type Progress func(stage string, fraction float64)

// ProveOptions tune one Prove call without changing its output.
type ProveOptions struct {
	// Progress, if not nil, is told how far the proof has come.
	Progress Progress
	// SkipTraceCheck skips the CheckTrace pass. Only for callers that have
	// validated the witness themselves (a wrong trace then yields a proof the
	// verifier rejects rather than ErrTrace).
	SkipTraceCheck bool
}

// ProveWithProgress is Prove reporting its progress to progress (nil allowed).
// The proof bytes are the same as Prove's.
func ProveWithProgress(a AIR, trace [][]fr.Element, p Params, b Backend, progress Progress) (*Proof, error) {
	return ProveWith(a, trace, p, b, ProveOptions{Progress: progress})
}

// ProveWith is Prove with options; the proof bytes never depend on them.
func ProveWith(a AIR, trace [][]fr.Element, p Params, b Backend, o ProveOptions) (*Proof, error) {
	st, err := newStatement(a, p)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = NewCPU(0)
	}
	report := func(stage string, f float64) {
		if o.Progress != nil {
			o.Progress(stage, f)
		}
	}
	if !skipTraceCheck && !o.SkipTraceCheck {
		report("check", 0)
		if err := CheckTrace(a, trace); err != nil {
			return nil, err
		}
	} else if len(trace) != st.w {
		return nil, fmt.Errorf("%w: %d columns", ErrTrace, len(trace))
	}
	if len(trace) != st.w {
		return nil, fmt.Errorf("%w: trace has %d columns, AIR wants %d", ErrTrace, len(trace), st.w)
	}
	for c := range trace {
		if len(trace[c]) != st.n {
			return nil, fmt.Errorf("%w: column %d has %d rows, AIR wants %d", ErrTrace, c, len(trace[c]), st.n)
		}
	}
	pr := &prover{st: st, b: b, workers: b.Workers(), report: report}
	proof, err := pr.prove(trace)
	if err == nil {
		report("done", 1)
	}
	return proof, err
}

type prover struct {
	st      *statement
	b       Backend
	workers int
	report  func(stage string, fraction float64)
}

func (pr *prover) prove(trace [][]fr.Element) (*Proof, error) {
	st, b := pr.st, pr.b
	var one fr.Element
	one.SetOne()
	tr := st.transcript()
	proof := &Proof{Params: st.params, LogTraceLength: st.logN, TraceWidth: st.w, CompColumns: 4 * st.c}

	// 1. Trace: interpolate, extend to the LDE coset, commit rows.
	pr.report("lde", 0.02)
	coeffs := make([][]fr.Element, st.w)
	for i := range coeffs {
		coeffs[i] = slices.Clone(trace[i])
	}
	b.Interpolate(coeffs, one)
	lde := b.Evaluate(coeffs, st.N, st.shift)
	pr.report("commit", 0.20)
	traceTree := buildTree(b, b.HashRows(lde))
	proof.TraceCap = traceTree.cap(st.params.LogMerkleCap)
	tr.AbsorbDigests(proof.TraceCap)
	alpha := tr.SampleE4()

	// 2. Constraint composition on the evaluation domain (n·c points, a
	// sub-coset of the LDE), interpolated and split into c chunks of degree < n.
	pr.report("composition", 0.35)
	comp := pr.composition(lde, alpha)
	compCoeffs := make([][]fr.Element, 4)
	for t := range compCoeffs {
		compCoeffs[t] = make([]fr.Element, len(comp))
		for i := range comp {
			compCoeffs[t][i] = e4Coords(&comp[i])[t]
		}
	}
	b.Interpolate(compCoeffs, st.shift)
	chunks := make([][]fr.Element, 4*st.c) // column 4k+t: coordinate t of chunk k
	for k := range st.c {
		for t := range 4 {
			chunks[4*k+t] = compCoeffs[t][k*st.n : (k+1)*st.n]
		}
	}
	compLDE := b.Evaluate(chunks, st.N, st.shift)
	compTree := buildTree(b, b.HashRows(compLDE))
	proof.CompCap = compTree.cap(st.params.LogMerkleCap)
	tr.AbsorbDigests(proof.CompCap)

	// 3. Out-of-domain evaluations at z and z·g.
	pr.report("ood", 0.60)
	z := st.sampleZ(tr)
	var zg E4
	zg.MulByElement(&z, &st.g)
	proof.TraceOOD = make([]E4, st.w)
	proof.TraceOODNext = make([]E4, st.w)
	zp, zgp := toDotCoeffs(powers(z, st.n)), toDotCoeffs(powers(zg, st.n))
	parallelFor(st.w, pr.workers, func(i int) {
		proof.TraceOOD[i] = evalWithPowers(coeffs[i], zp)
		proof.TraceOODNext[i] = evalWithPowers(coeffs[i], zgp)
	})
	proof.CompOOD = make([]E4, st.c)
	for k := range st.c {
		var v E4
		for t := range 4 {
			e := evalWithPowers(chunks[4*k+t], zp)
			bt := e4Basis(t)
			e.Mul(&e, &bt)
			v.Add(&v, &e)
		}
		proof.CompOOD[k] = v
	}
	tr.AbsorbE4(proof.TraceOOD...)
	tr.AbsorbE4(proof.TraceOODNext...)
	tr.AbsorbE4(proof.CompOOD...)

	// 4. DEEP composition over the LDE coset.
	gamma := tr.SampleE4()
	pr.report("deep", 0.65)
	q := pr.deep(lde, compLDE, proof, z, zg, gamma)

	// 5. FRI commit phase.
	pr.report("fri", 0.80)
	layerVals := make([][]E4, st.layers)
	layerTrees := make([]*merkleTree, st.layers)
	shift := st.shift
	arity := 1 << st.params.LogFoldArity
	for l := range st.layers {
		layerVals[l] = q
		layerTrees[l] = buildTree(b, b.HashRows(friLeafColumns(q, arity)))
		cp := layerTrees[l].cap(st.params.LogMerkleCap)
		proof.FRICaps = append(proof.FRICaps, cp)
		tr.AbsorbDigests(cp)
		beta := tr.SampleE4()
		for range st.params.LogFoldArity {
			q = b.FoldFRI(q, shift, beta)
			shift.Square(&shift)
			beta.Square(&beta)
		}
	}
	proof.FinalPoly = pr.finalPoly(q, shift)
	tr.AbsorbE4(proof.FinalPoly...)

	// 6. Grinding, then queries.
	pr.report("grinding", 0.95)
	proof.Nonce = pr.grind(tr.SampleDigest())
	tr.AbsorbUint64(proof.Nonce)
	pr.report("queries", 0.98)
	idx := sampleQueries(tr, st.params.NumQueries, st.logN+st.params.LogBlowup)
	for _, qi := range idx {
		qp := QueryProof{
			TraceRow: column(lde, qi), TracePath: traceTree.path(qi, st.params.LogMerkleCap),
			CompRow: column(compLDE, qi), CompPath: compTree.path(qi, st.params.LogMerkleCap),
		}
		pos := qi
		for l := range st.layers {
			groups := len(layerVals[l]) / arity
			j := pos % groups
			lo := LayerOpening{Values: make([]E4, arity), Path: layerTrees[l].path(j, st.params.LogMerkleCap)}
			for t := range arity {
				lo.Values[t] = layerVals[l][j+t*groups]
			}
			qp.Layers = append(qp.Layers, lo)
			pos = j
		}
		proof.Queries = append(proof.Queries, qp)
	}
	return proof, nil
}

func column(cols [][]fr.Element, i int) []fr.Element {
	r := make([]fr.Element, len(cols))
	for c := range cols {
		r[c] = cols[c][i]
	}
	return r
}

// friLeafColumns lays a FRI layer out as 4·arity base columns so that leaf j
// holds, for t < arity, the coordinates of vals[j + t·m/arity].
func friLeafColumns(vals []E4, arity int) [][]fr.Element {
	groups := len(vals) / arity
	cols := make([][]fr.Element, 4*arity)
	for t := range arity {
		for c := range 4 {
			cols[4*t+c] = make([]fr.Element, groups)
		}
		for j := range groups {
			co := e4Coords(&vals[j+t*groups])
			for c := range 4 {
				cols[4*t+c][j] = co[c]
			}
		}
	}
	return cols
}

// sampleQueries draws the query positions and returns them sorted and
// deduplicated (the proof opens each distinct position once).
func sampleQueries(t *Transcript, k, logN int) []int {
	idx := make([]int, k)
	for i := range idx {
		idx[i] = t.SampleIndex(logN)
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

// composition evaluates the random linear combination of all constraint
// quotients on the n·c-point coset shift·<ω_{n·c}>.
func (pr *prover) composition(lde [][]fr.Element, alpha E4) []E4 {
	st := pr.st
	m := st.n * st.c
	step := st.blowup / st.c
	al := powers(alpha, st.numCoeffs())
	dal := toDotCoeffs(al)
	// Periodic columns on the evaluation coset: column of period p has period
	// p·c there (x^(n/p) runs over shift^(n/p)·<ω_{p·c}>).
	per := make([][]fr.Element, len(st.periodicCoeffs))
	for j, cf := range st.periodicCoeffs {
		sh := frPow(st.shift, uint64(st.n/len(cf)))
		per[j] = (&CPU{NumWorkers: 1}).Evaluate([][]fr.Element{cf}, len(cf)*st.c, sh)[0]
	}
	// 1/(x^n - 1) takes c values: x^n = shift^n·ω_c^i.
	invZ := make([]fr.Element, st.c)
	wc := rootOfUnity(st.c)
	xn := frPow(st.shift, uint64(st.n))
	for i := range invZ {
		var one fr.Element
		one.SetOne()
		invZ[i].Sub(&xn, &one)
		xn.Mul(&xn, &wc)
	}
	invZ = fr.BatchInvert(invZ)
	gLast := frPow(st.g, uint64(st.n-1))
	wm := rootOfUnity(m)
	gRows := make([]fr.Element, len(st.boundRows))
	for i, r := range st.boundRows {
		gRows[i] = frPow(st.g, uint64(r))
	}
	out := make([]E4, m)
	nc := st.nRow + st.nTrans
	parallelChunks(m, pr.workers*4, func(lo, hi int) {
		f := Frame[fr.Element]{Cur: make([]fr.Element, st.w), Next: make([]fr.Element, st.w), Periodic: make([]fr.Element, len(per))}
		cv := make([]fr.Element, nc)
		// Boundary denominators 1/(x - g^row) for this chunk, batch-inverted.
		den := make([][]fr.Element, len(gRows))
		xs := make([]fr.Element, hi-lo)
		x := frPow(wm, uint64(lo))
		x.Mul(&x, &st.shift)
		for i := range xs {
			xs[i] = x
			x.Mul(&x, &wm)
		}
		for r := range gRows {
			d := make([]fr.Element, hi-lo)
			for i := range d {
				d[i].Sub(&xs[i], &gRows[r])
			}
			den[r] = fr.BatchInvert(d)
		}
		bsum := make([]E4, len(gRows))
		// Rows are gathered a block of points at a time, column by
		// column, so each column is read sequentially (reading a wide row
		// point by point touches w scattered cache lines per point).
		const block = 32
		curBuf := make([]fr.Element, block*st.w)
		nextBuf := make([]fr.Element, block*st.w)
		for i := lo; i < hi; i++ {
			if (i-lo)%block == 0 {
				nb := min(block, hi-i)
				for c := range st.w {
					col := lde[c]
					for t := range nb {
						j := (i + t) * step
						curBuf[t*st.w+c] = col[j]
						nextBuf[t*st.w+c] = col[(j+st.blowup)%st.N]
					}
				}
			}
			bt := (i - lo) % block
			f.Cur = curBuf[bt*st.w : (bt+1)*st.w]
			f.Next = nextBuf[bt*st.w : (bt+1)*st.w]
			for k, p := range per {
				f.Periodic[k] = p[i%len(p)]
			}
			st.air.EvalBase(f, cv)
			var ra, ta dotAcc
			for k := 0; k < st.nRow; k++ {
				ra.add(&dal[k], cv[k])
			}
			for k := st.nRow; k < nc; k++ {
				ta.add(&dal[k], cv[k])
			}
			rowSum, trSum := ra.result(), ta.result()
			var t E4
			var xl fr.Element
			xl.Sub(&xs[i-lo], &gLast)
			trSum.MulByElement(&trSum, &xl)
			rowSum.Add(&rowSum, &trSum)
			rowSum.MulByElement(&rowSum, &invZ[i%st.c])
			for r := range bsum {
				bsum[r] = E4{}
			}
			for bi, bd := range st.bounds {
				var v fr.Element
				v.Sub(&f.Cur[bd.Column], &bd.Value)
				t.MulByElement(&al[nc+bi], &v)
				r := st.boundRowOf[bi]
				bsum[r].Add(&bsum[r], &t)
			}
			for r := range bsum {
				bsum[r].MulByElement(&bsum[r], &den[r][i-lo])
				rowSum.Add(&rowSum, &bsum[r])
			}
			out[i] = rowSum
		}
	})
	return out
}

// deep evaluates the DEEP composition polynomial on the LDE coset:
// Σ γ^k (T_k(x)-T_k(z))/(x-z) + Σ γ^(w+k) (T_k(x)-T_k(zg))/(x-zg)
// + Σ γ^(2w+k) (H_k(x)-H_k(z))/(x-z).
func (pr *prover) deep(lde, compLDE [][]fr.Element, proof *Proof, z, zg, gamma E4) []E4 {
	st := pr.st
	cz, czg, az, azg := st.deepCoeffs(gamma, proof)
	dcz := toDotCoeffs(cz)
	gw := czg[0] // czg[k] = γ^(w+k) = γ^w·cz[k]
	out := make([]E4, st.N)
	wN := rootOfUnity(st.N)
	parallelChunks(st.N, pr.workers*4, func(lo, hi int) {
		// Blocks of points, column by column, keep the accumulators in L1
		// and read each column sequentially.
		const block = 256
		var acc [block]dotAcc
		var sT [block]E4
		dz := make([]E4, block)
		dzg := make([]E4, block)
		x := frPow(wN, uint64(lo))
		x.Mul(&x, &st.shift)
		for b0 := lo; b0 < hi; b0 += block {
			nb := min(block, hi-b0)
			for i := range nb {
				dz[i].Neg(&z)
				dz[i].B0.A0.Add(&dz[i].B0.A0, &x)
				dzg[i].Neg(&zg)
				dzg[i].B0.A0.Add(&dzg[i].B0.A0, &x)
				x.Mul(&x, &wN)
			}
			iz := batchInvertE4(dz[:nb])
			izg := batchInvertE4(dzg[:nb])
			clear(acc[:nb])
			// s2's coefficients are γ^w times s1's trace coefficients, so
			// one dot product serves both (same values as summing separately).
			for k := range st.w {
				col := lde[k][b0 : b0+nb]
				for i := range col {
					acc[i].add(&dcz[k], col[i])
				}
			}
			for i := range nb {
				sT[i] = acc[i].result()
			}
			for k := range compLDE {
				col := compLDE[k][b0 : b0+nb]
				for i := range col {
					acc[i].add(&dcz[st.w+k], col[i])
				}
			}
			for i := range nb {
				s1 := acc[i].result()
				var s2 E4
				s2.Mul(&sT[i], &gw)
				s1.Sub(&s1, &az)
				s1.Mul(&s1, &iz[i])
				s2.Sub(&s2, &azg)
				s2.Mul(&s2, &izg[i])
				out[b0+i].Add(&s1, &s2)
			}
		}
	})
	return out
}

// deepCoeffs returns the DEEP coefficients: cz for the terms over (x - z)
// (trace columns, then the 4c composition coordinate columns), czg for the
// terms over (x - zg), and the constants az, azg subtracted in the numerators.
func (st *statement) deepCoeffs(gamma E4, proof *Proof) (cz, czg []E4, az, azg E4) {
	g := powers(gamma, 2*st.w+st.c)
	cz = make([]E4, st.w+4*st.c)
	czg = make([]E4, st.w)
	var t E4
	for k := range st.w {
		cz[k] = g[k]
		czg[k] = g[st.w+k]
		t.Mul(&g[k], &proof.TraceOOD[k])
		az.Add(&az, &t)
		t.Mul(&g[st.w+k], &proof.TraceOODNext[k])
		azg.Add(&azg, &t)
	}
	for k := range st.c {
		for c := range 4 {
			bc := e4Basis(c)
			cz[st.w+4*k+c].Mul(&g[2*st.w+k], &bc)
		}
		t.Mul(&g[2*st.w+k], &proof.CompOOD[k])
		az.Add(&az, &t)
	}
	return
}

func batchInvertE4(a []E4) []E4 {
	res := make([]E4, len(a))
	if len(a) == 0 {
		return res
	}
	var acc E4
	acc.SetOne()
	for i := range a {
		res[i] = acc
		acc.Mul(&acc, &a[i])
	}
	acc.Inverse(&acc)
	for i := len(a) - 1; i >= 0; i-- {
		res[i].Mul(&res[i], &acc)
		acc.Mul(&acc, &a[i])
	}
	return res
}

// finalPoly interpolates the last folded layer (on shift·<ω_m>) and keeps the
// coefficients below the degree bound; for an honest prover the rest are zero.
func (pr *prover) finalPoly(vals []E4, shift fr.Element) []E4 {
	cols := make([][]fr.Element, 4)
	for t := range cols {
		cols[t] = make([]fr.Element, len(vals))
		for i := range vals {
			cols[t][i] = e4Coords(&vals[i])[t]
		}
	}
	pr.b.Interpolate(cols, shift)
	out := make([]E4, pr.st.finalLen)
	for i := range out {
		out[i] = e4FromCoords(cols[0][i], cols[1][i], cols[2][i], cols[3][i])
	}
	return out
}

// powDigest is the grinding hash of a transcript seed and a nonce.
func powDigest(seed [8]fr.Element, nonce uint64) hash.Digest {
	return hash.Compress(seed, powBlock(nonce))
}

func powBlock(nonce uint64) hash.Digest {
	var blk hash.Digest
	blk[0].SetUint64(nonce & 0xffffff)
	blk[1].SetUint64((nonce >> 24) & 0xffffff)
	blk[2].SetUint64(nonce >> 48)
	blk[3].SetUint64(uint64(hash.TagPoW))
	return blk
}

// grind returns the smallest nonce whose digest has GrindingBits leading zero
// bits. Batches are hashed in parallel but scanned in order, so the result
// does not depend on the number of workers.
func (pr *prover) grind(seed hash.Digest) uint64 {
	bitsNeeded := pr.st.params.GrindingBits
	const batch = 1 << 12
	in := make([]hash.Digest, 2*batch)
	for base := uint64(0); ; base += batch {
		for i := range batch {
			in[2*i] = seed
			in[2*i+1] = powBlock(base + uint64(i))
		}
		out := pr.b.CompressLevel(in)
		for i := range out {
			if out[i][0].Uint64()>>(31-bitsNeeded) == 0 {
				return base + uint64(i)
			}
		}
	}
}

// evalWithPowers evaluates Σ c_i·x^i given the powers of x (a lazy dot
// product: exact, and several times faster than Horner in E4).
func evalWithPowers(c []fr.Element, pows []dotCoeff) E4 {
	var acc dotAcc
	for i := range c {
		acc.add(&pows[i], c[i])
	}
	return acc.result()
}
