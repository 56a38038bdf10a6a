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
	// ConsumeTrace lets the prover overwrite the trace's columns (with
	// their coefficients) instead of copying them: for callers that drop
	// the trace after proving, it saves a copy of the whole trace.
	ConsumeTrace bool
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
	var proof *Proof
	if p.Challenges == E6Challenges {
		proof, err = (&prover[E6, *E6]{st: st, b: b, workers: b.Workers(), report: report, consume: o.ConsumeTrace}).prove(trace)
	} else {
		proof, err = (&prover[E4, *E4]{st: st, b: b, workers: b.Workers(), report: report, consume: o.ConsumeTrace}).prove(trace)
	}
	if err == nil {
		report("done", 1)
	}
	return proof, err
}

// prover makes one proof with challenges in E.
type prover[E any, P extElem[E]] struct {
	st      *statement
	b       Backend
	workers int
	report  func(stage string, fraction float64)
	consume bool // ProveOptions.ConsumeTrace
}

func (pr *prover[E, P]) prove(trace [][]fr.Element) (*Proof, error) {
	st, b := pr.st, pr.b
	var one fr.Element
	one.SetOne()
	tr := st.transcript()
	d := degree[E]()
	proof := &Proof{Params: st.params, LogTraceLength: st.logN, TraceWidth: st.w, CompColumns: d * st.c}

	// 1. Trace: interpolate, extend to the LDE coset, commit rows.
	pr.report("lde", 0.02)
	coeffs := trace
	if !pr.consume {
		coeffs = make([][]fr.Element, st.w)
		for i := range coeffs {
			coeffs[i] = slices.Clone(trace[i])
		}
	}
	b.Interpolate(coeffs, one)
	lde := b.Evaluate(coeffs, st.N, st.shift)
	pr.report("commit", 0.20)
	traceTree := buildTree(b, b.HashRows(lde))
	proof.TraceCap = traceTree.cap(st.params.LogMerkleCap)
	tr.AbsorbDigests(proof.TraceCap)
	alpha := sampleExt[E](tr)

	// 2. Constraint composition on the evaluation domain (n·c points, a
	// sub-coset of the LDE), interpolated and split into c chunks of degree < n.
	pr.report("composition", 0.35)
	comp := pr.composition(lde, alpha)
	compCoeffs := coordColumns(comp)
	b.Interpolate(compCoeffs, st.shift)
	chunks := make([][]fr.Element, d*st.c) // column d·k+t: coordinate t of chunk k
	for k := range st.c {
		for t := range d {
			chunks[d*k+t] = compCoeffs[t][k*st.n : (k+1)*st.n]
		}
	}
	compLDE := b.Evaluate(chunks, st.N, st.shift)
	compTree := buildTree(b, b.HashRows(compLDE))
	proof.CompCap = compTree.cap(st.params.LogMerkleCap)
	tr.AbsorbDigests(proof.CompCap)

	// 3. Out-of-domain evaluations at z and z·g.
	pr.report("ood", 0.60)
	z := sampleZ[E, P](st, tr)
	var zg E
	P(&zg).MulByElement(&z, &st.g)
	traceOOD, traceOODNext := make([]E, st.w), make([]E, st.w)
	zp, zgp := toDotCoeffs(powers[E, P](z, st.n)), toDotCoeffs(powers[E, P](zg, st.n))
	parallelFor(st.w, pr.workers, func(i int) {
		traceOOD[i] = evalWithPowers[E](coeffs[i], zp)
		traceOODNext[i] = evalWithPowers[E](coeffs[i], zgp)
	})
	compOOD := make([]E, st.c)
	for k := range st.c {
		var v E
		for t := range d {
			e := evalWithPowers[E](chunks[d*k+t], zp)
			bt := basis[E](t)
			P(&e).Mul(&e, &bt)
			P(&v).Add(&v, &e)
		}
		compOOD[k] = v
	}
	proof.TraceOOD, proof.TraceOODNext, proof.CompOOD = toExts(traceOOD), toExts(traceOODNext), toExts(compOOD)
	absorbExt(tr, traceOOD)
	absorbExt(tr, traceOODNext)
	absorbExt(tr, compOOD)

	// 4. DEEP composition over the LDE coset.
	gamma := sampleExt[E](tr)
	pr.report("deep", 0.65)
	q := pr.deep(lde, compLDE, traceOOD, traceOODNext, compOOD, z, zg, gamma)

	// 5. FRI commit phase.
	pr.report("fri", 0.80)
	layerVals := make([][]E, st.layers)
	layerTrees := make([]*merkleTree, st.layers)
	shift := st.shift
	arity := 1 << st.params.LogFoldArity
	for l := range st.layers {
		layerVals[l] = q
		layerTrees[l] = buildTree(b, b.HashRows(friLeafColumns(q, arity)))
		cp := layerTrees[l].cap(st.params.LogMerkleCap)
		proof.FRICaps = append(proof.FRICaps, cp)
		tr.AbsorbDigests(cp)
		beta := sampleExt[E](tr)
		for range st.params.LogFoldArity {
			q = foldFRIWith(b, q, shift, beta)
			shift.Square(&shift)
			P(&beta).Square(&beta)
		}
	}
	final := pr.finalPoly(q, shift)
	proof.FinalPoly = toExts(final)
	absorbExt(tr, final)

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
			lo := LayerOpening{Values: make([]Ext, arity), Path: layerTrees[l].path(j, st.params.LogMerkleCap)}
			for t := range arity {
				lo.Values[t] = toExt(&layerVals[l][j+t*groups])
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

// friLeafColumns lays a FRI layer out as d·arity base columns (d the
// extension degree) so that leaf j holds, for t < arity, the coordinates of
// vals[j + t·m/arity].
func friLeafColumns[E any](vals []E, arity int) [][]fr.Element {
	d := degree[E]()
	groups := len(vals) / arity
	cols := make([][]fr.Element, d*arity)
	for t := range arity {
		for c := range d {
			cols[d*t+c] = make([]fr.Element, groups)
		}
		for j := range groups {
			co := coords(&vals[j+t*groups])
			for c := range d {
				cols[d*t+c][j] = co[c]
			}
		}
	}
	return cols
}

// coordColumns splits extension values into one column per coordinate.
func coordColumns[E any](vals []E) [][]fr.Element {
	d := degree[E]()
	cols := make([][]fr.Element, d)
	for t := range cols {
		cols[t] = make([]fr.Element, len(vals))
	}
	for i := range vals {
		for t, c := range coords(&vals[i]) {
			cols[t][i] = c
		}
	}
	return cols
}

// basis returns the t-th basis element of E (coordinate t set to one).
func basis[E any](t int) E {
	var e E
	coords(&e)[t].SetOne()
	return e
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
func (pr *prover[E, P]) composition(lde [][]fr.Element, alpha E) []E {
	st := pr.st
	m := st.n * st.c
	step := st.blowup / st.c
	al := powers[E, P](alpha, st.numCoeffs())
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
	out := make([]E, m)
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
		bsum := make([]E, len(gRows))
		// Points are taken a block at a time: rows are gathered column by
		// column (reading a wide row point by point touches w scattered
		// cache lines per point), the constraints evaluated point by point
		// into constraint-major rows, and the random linear combination
		// accumulated one constraint at a time over the whole block with
		// the extension's vector kernels (AVX-512 where the CPU has it).
		const block = 64
		curBuf := make([]fr.Element, block*st.w)
		nextBuf := make([]fr.Element, block*st.w)
		cvT := make([]fr.Element, nc*block)
		rowAcc, trAcc := make([]E, block), make([]E, block)
		// An AIR with EvalVec is evaluated VecWidth points per call.
		va, _ := st.air.(AIRVec)
		vf := &VecField{}
		vCur, vNext := make([]Vec, st.w), make([]Vec, st.w)
		vPer, vOut := make([]Vec, len(per)), make([]Vec, nc)
		for b0 := lo; b0 < hi; b0 += block {
			nb := min(block, hi-b0)
			if va != nil && nb%VecWidth == 0 {
				for s0 := 0; s0 < nb; s0 += VecWidth {
					vf.reset()
					for c := range st.w {
						col, cur, next := lde[c], vf.slot(), vf.slot()
						for t := range VecWidth {
							j := (b0 + s0 + t) * step
							cur[t] = col[j]
							next[t] = col[(j+st.blowup)&(st.N-1)] // N is a power of two
						}
						vCur[c], vNext[c] = cur, next
					}
					for k, p := range per {
						v := vf.slot()
						for t := range VecWidth {
							v[t] = p[(b0+s0+t)%len(p)]
						}
						vPer[k] = v
					}
					va.EvalVec(vf, Frame[Vec]{Cur: vCur, Next: vNext, Periodic: vPer}, vOut)
					for k, v := range vOut {
						copy(cvT[k*block+s0:k*block+s0+VecWidth], v[:])
					}
				}
			} else {
				for c := range st.w {
					col := lde[c]
					for t := range nb {
						j := (b0 + t) * step
						curBuf[t*st.w+c] = col[j]
						nextBuf[t*st.w+c] = col[(j+st.blowup)&(st.N-1)] // N is a power of two
					}
				}
				for t := range nb {
					f.Cur = curBuf[t*st.w : (t+1)*st.w]
					f.Next = nextBuf[t*st.w : (t+1)*st.w]
					for k, p := range per {
						f.Periodic[k] = p[(b0+t)%len(p)]
					}
					st.air.EvalBase(f, cv)
					for k := range cv {
						cvT[k*block+t] = cv[k]
					}
				}
			}
			clear(rowAcc)
			clear(trAcc)
			for k := range nc {
				acc := rowAcc
				if k >= st.nRow {
					acc = trAcc
				}
				mulAcc(acc[:nb], cvT[k*block:k*block+nb], &al[k])
			}
			for t := range nb {
				i := b0 + t
				rowSum, trSum := rowAcc[t], trAcc[t]
				var tmp E
				var xl fr.Element
				xl.Sub(&xs[i-lo], &gLast)
				P(&trSum).MulByElement(&trSum, &xl)
				P(&rowSum).Add(&rowSum, &trSum)
				P(&rowSum).MulByElement(&rowSum, &invZ[i%st.c])
				if len(st.bounds) > 0 {
					clear(bsum)
					for bi, bd := range st.bounds {
						var v fr.Element
						v.Sub(&lde[bd.Column][i*step], &bd.Value)
						P(&tmp).MulByElement(&al[nc+bi], &v)
						r := st.boundRowOf[bi]
						P(&bsum[r]).Add(&bsum[r], &tmp)
					}
					for r := range bsum {
						P(&bsum[r]).MulByElement(&bsum[r], &den[r][i-lo])
						P(&rowSum).Add(&rowSum, &bsum[r])
					}
				}
				out[i] = rowSum
			}
		}
	})
	return out
}

// deep evaluates the DEEP composition polynomial on the LDE coset:
// Σ γ^k (T_k(x)-T_k(z))/(x-z) + Σ γ^(w+k) (T_k(x)-T_k(zg))/(x-zg)
// + Σ γ^(2w+k) (H_k(x)-H_k(z))/(x-z).
func (pr *prover[E, P]) deep(lde, compLDE [][]fr.Element, traceOOD, traceOODNext, compOOD []E, z, zg, gamma E) []E {
	st := pr.st
	cz, czg, az, azg := deepCoeffs[E, P](st, gamma, traceOOD, traceOODNext, compOOD)
	gw := czg[0] // czg[k] = γ^(w+k) = γ^w·cz[k]
	out := make([]E, st.N)
	wN := rootOfUnity(st.N)
	var mz, mzg E
	P(&mz).Neg(&z)
	P(&mzg).Neg(&zg)
	parallelChunks(st.N, pr.workers*4, func(lo, hi int) {
		// Blocks of points, column by column, keep the accumulators in L1
		// and read each column sequentially.
		const block = 256
		var sT, acc [block]E
		dz := make([]E, block)
		dzg := make([]E, block)
		x := frPow(wN, uint64(lo))
		x.Mul(&x, &st.shift)
		for b0 := lo; b0 < hi; b0 += block {
			nb := min(block, hi-b0)
			for i := range nb {
				dz[i] = mz
				addBase(&dz[i], x)
				dzg[i] = mzg
				addBase(&dzg[i], x)
				x.Mul(&x, &wN)
			}
			iz := batchInvert[E, P](dz[:nb])
			izg := batchInvert[E, P](dzg[:nb])
			clear(acc[:nb])
			// s2's coefficients are γ^w times s1's trace coefficients, so
			// one sum serves both (same values as summing separately).
			for k := range st.w {
				mulAcc(acc[:nb], lde[k][b0:b0+nb], &cz[k])
			}
			sT = acc
			for k := range compLDE {
				mulAcc(acc[:nb], compLDE[k][b0:b0+nb], &cz[st.w+k])
			}
			for i := range nb {
				s1 := acc[i]
				var s2 E
				P(&s2).Mul(&sT[i], &gw)
				P(&s1).Sub(&s1, &az)
				P(&s1).Mul(&s1, &iz[i])
				P(&s2).Sub(&s2, &azg)
				P(&s2).Mul(&s2, &izg[i])
				P(&out[b0+i]).Add(&s1, &s2)
			}
		}
	})
	return out
}

// deepCoeffs returns the DEEP coefficients: cz for the terms over (x - z)
// (trace columns, then the d·c composition coordinate columns), czg for the
// terms over (x - zg), and the constants az, azg subtracted in the numerators.
func deepCoeffs[E any, P extElem[E]](st *statement, gamma E, traceOOD, traceOODNext, compOOD []E) (cz, czg []E, az, azg E) {
	d := degree[E]()
	g := powers[E, P](gamma, 2*st.w+st.c)
	cz = make([]E, st.w+d*st.c)
	czg = make([]E, st.w)
	var t E
	for k := range st.w {
		cz[k] = g[k]
		czg[k] = g[st.w+k]
		P(&t).Mul(&g[k], &traceOOD[k])
		P(&az).Add(&az, &t)
		P(&t).Mul(&g[st.w+k], &traceOODNext[k])
		P(&azg).Add(&azg, &t)
	}
	for k := range st.c {
		for c := range d {
			bc := basis[E](c)
			P(&cz[st.w+d*k+c]).Mul(&g[2*st.w+k], &bc)
		}
		P(&t).Mul(&g[2*st.w+k], &compOOD[k])
		P(&az).Add(&az, &t)
	}
	return
}

func batchInvert[E any, P extElem[E]](a []E) []E {
	res := make([]E, len(a))
	if len(a) == 0 {
		return res
	}
	var acc E
	P(&acc).SetOne()
	for i := range a {
		res[i] = acc
		P(&acc).Mul(&acc, &a[i])
	}
	P(&acc).Inverse(&acc)
	for i := len(a) - 1; i >= 0; i-- {
		P(&res[i]).Mul(&res[i], &acc)
		P(&acc).Mul(&acc, &a[i])
	}
	return res
}

// finalPoly interpolates the last folded layer (on shift·<ω_m>) and keeps the
// coefficients below the degree bound; for an honest prover the rest are zero.
func (pr *prover[E, P]) finalPoly(vals []E, shift fr.Element) []E {
	cols := coordColumns(vals)
	pr.b.Interpolate(cols, shift)
	out := make([]E, pr.st.finalLen)
	for i := range out {
		x := coords(&out[i])
		for t := range x {
			x[t] = cols[t][i]
		}
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
func (pr *prover[E, P]) grind(seed hash.Digest) uint64 {
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
// product: exact, and several times faster than Horner in the extension).
func evalWithPowers[E any](c []fr.Element, pows []dotCoeff) E {
	var acc dotAcc
	acc.addTo(pows[:len(c)], c, degree[E]())
	return dotResult[E](&acc)
}
