package stark

import (
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// VerifyBytes decodes and verifies an encoded proof.
func VerifyBytes(a AIR, p Params, b []byte) error {
	proof, err := DecodeProof(b)
	if err != nil {
		return err
	}
	return Verify(a, p, proof)
}

// Verify checks proof against the AIR (built from the public inputs) under
// the verifier's parameters. The error wraps the sentinel of the first check
// that failed: ErrParams, ErrAIR, ErrPublicInputs, ErrShape, ErrOODMismatch,
// ErrPoW, ErrMerklePath, ErrDEEPQuery, ErrFRIFold or ErrFRIFinal.
func Verify(a AIR, p Params, proof *Proof) error {
	st, err := newStatement(a, p)
	if err != nil {
		return err
	}
	if proof == nil {
		return fmt.Errorf("%w: nil proof", ErrShape)
	}
	if proof.Params != p {
		return fmt.Errorf("%w: proof uses %+v, verifier requires %+v", ErrParams, proof.Params, p)
	}
	d := p.Challenges.Degree()
	if proof.LogTraceLength != st.logN || proof.TraceWidth != st.w || proof.CompColumns != d*st.c {
		return fmt.Errorf("%w: proof is for 2^%d rows × %d columns (%d composition columns), AIR has 2^%d × %d (%d)",
			ErrShape, proof.LogTraceLength, proof.TraceWidth, proof.CompColumns, st.logN, st.w, d*st.c)
	}
	if err := proof.checkShape(); err != nil {
		return fmt.Errorf("%w: %w", ErrShape, err)
	}
	if p.Challenges == E6Challenges {
		return verify[E6](st, proof)
	}
	return verify[E4](st, proof)
}

// verify checks a well-shaped proof with challenges in E.
func verify[E any, P extElem[E]](st *statement, proof *Proof) error {
	p := st.params
	traceOOD, traceOODNext, compOOD := fromExts[E](proof.TraceOOD), fromExts[E](proof.TraceOODNext), fromExts[E](proof.CompOOD)
	finalPoly := fromExts[E](proof.FinalPoly)

	// Replay the transcript.
	tr := st.transcript()
	tr.AbsorbDigests(proof.TraceCap)
	alpha := sampleExt[E](tr)
	tr.AbsorbDigests(proof.CompCap)
	z := sampleZ[E, P](st, tr)
	var zg E
	P(&zg).MulByElement(&z, &st.g)
	absorbExt(tr, traceOOD)
	absorbExt(tr, traceOODNext)
	absorbExt(tr, compOOD)

	// Out-of-domain check: C(z) from the AIR equals Σ z^(kn)·H_k(z).
	want := compositionAtZ[E, P](st, alpha, z, traceOOD, traceOODNext)
	var got, zk E
	zn := extPow[E, P](z, uint64(st.n))
	P(&zk).SetOne()
	for k := range st.c {
		var t E
		P(&t).Mul(&compOOD[k], &zk)
		P(&got).Add(&got, &t)
		P(&zk).Mul(&zk, &zn)
	}
	if !P(&got).Equal(&want) {
		return fmt.Errorf("%w: composition at z is %s, constraints give %s", ErrOODMismatch, P(&got).String(), P(&want).String())
	}

	gamma := sampleExt[E](tr)
	betas := make([]E, st.layers)
	for l := range st.layers {
		tr.AbsorbDigests(proof.FRICaps[l])
		betas[l] = sampleExt[E](tr)
	}
	absorbExt(tr, finalPoly)
	seed := tr.SampleDigest()
	if !powAccept(seed, proof.Nonce, p.GrindingBits) {
		return fmt.Errorf("%w: nonce %d does not give %d leading zero bits", ErrPoW, proof.Nonce, p.GrindingBits)
	}
	tr.AbsorbUint64(proof.Nonce)
	logLDE := st.logN + p.LogBlowup
	idx := sampleQueries(tr, p.NumQueries, logLDE)
	if len(idx) != len(proof.Queries) {
		return fmt.Errorf("%w: %d query openings, transcript draws %d distinct positions", ErrShape, len(proof.Queries), len(idx))
	}

	cz, czg, az, azg := deepCoeffs[E, P](st, gamma, traceOOD, traceOODNext, compOOD)
	dcz, dczg, dg := toDotCoeffs(cz), toDotCoeffs(czg), degree[E]()
	arity := 1 << p.LogFoldArity
	wN := rootOfUnity(st.N)
	var half fr.Element
	half.SetUint64(2)
	half.Inverse(&half)
	for qn, qi := range idx {
		q := &proof.Queries[qn]
		if !verifyPath(proof.TraceCap, hash.HashLeaf(q.TraceRow), qi, q.TracePath) {
			return fmt.Errorf("%w: trace row %d (query %d)", ErrMerklePath, qi, qn)
		}
		if !verifyPath(proof.CompCap, hash.HashLeaf(q.CompRow), qi, q.CompPath) {
			return fmt.Errorf("%w: composition row %d (query %d)", ErrMerklePath, qi, qn)
		}
		// DEEP composition at x = shift·ω_N^qi.
		x := frPow(wN, uint64(qi))
		x.Mul(&x, &st.shift)
		var a1, a2 dotAcc
		a1.addTo(dcz[:st.w], q.TraceRow, dg)
		a1.addTo(dcz[st.w:st.w+len(q.CompRow)], q.CompRow, dg)
		a2.addTo(dczg, q.TraceRow, dg)
		s1, s2 := dotResult[E](&a1), dotResult[E](&a2)
		var d E
		P(&s1).Sub(&s1, &az)
		P(&d).Neg(&z)
		addBase(&d, x)
		P(&d).Inverse(&d)
		P(&s1).Mul(&s1, &d)
		P(&s2).Sub(&s2, &azg)
		P(&d).Neg(&zg)
		addBase(&d, x)
		P(&d).Inverse(&d)
		P(&s2).Mul(&s2, &d)
		var cur E // value expected at position qi of layer 0
		P(&cur).Add(&s1, &s2)

		// FRI query phase: each layer opens the coset containing pos.
		pos, m, shift := qi, st.N, st.shift
		for l := range st.layers {
			lo := &q.Layers[l]
			groups := m / arity
			j, slot := pos%groups, pos/groups
			vals := fromExts[E](lo.Values)
			if !P(&vals[slot]).Equal(&cur) {
				if l == 0 {
					return fmt.Errorf("%w: position %d (query %d)", ErrDEEPQuery, qi, qn)
				}
				return fmt.Errorf("%w: layer %d position %d (query %d)", ErrFRIFold, l, pos, qn)
			}
			leaf := make([]fr.Element, 0, degree[E]()*arity)
			for t := range vals {
				leaf = append(leaf, coords(&vals[t])...)
			}
			if !verifyPath(proof.FRICaps[l], hash.HashLeaf(leaf), j, lo.Path) {
				return fmt.Errorf("%w: FRI layer %d leaf %d (query %d)", ErrMerklePath, l, j, qn)
			}
			cur = foldCoset[E, P](vals, j, m, shift, betas[l], half)
			for range p.LogFoldArity {
				shift.Square(&shift)
			}
			pos, m = j, groups
		}
		// Last check: the final polynomial at the remaining point.
		xf := frPow(rootOfUnity(m), uint64(pos))
		xf.Mul(&xf, &shift)
		if fv := evalExtAt[E, P](finalPoly, lift[E](xf)); !P(&fv).Equal(&cur) {
			if st.layers == 0 {
				return fmt.Errorf("%w: position %d (query %d)", ErrDEEPQuery, qi, qn)
			}
			return fmt.Errorf("%w: position %d (query %d)", ErrFRIFinal, pos, qn)
		}
	}
	return nil
}

// foldCoset folds the arity values at positions j + t·(m/arity) of a layer on
// shift·<ω_m> down to the value at position j of the next layer, by repeated
// binary folds with beta, beta², … (the same arithmetic as Backend.FoldFRI).
func foldCoset[E any, P extElem[E]](vals []E, j, m int, shift fr.Element, beta E, half fr.Element) E {
	v := append([]E(nil), vals...)
	groups := m / len(vals)
	for len(v) > 1 {
		h := len(v) / 2
		w := rootOfUnity(m)
		for t := range h {
			x := frPow(w, uint64(j+t*groups))
			x.Mul(&x, &shift)
			x.Double(&x)
			x.Inverse(&x)
			v[t] = foldPair[E, P](v[t], v[t+h], x, half, beta)
		}
		v = v[:h]
		m /= 2
		shift.Square(&shift)
		P(&beta).Square(&beta)
	}
	return v[0]
}
