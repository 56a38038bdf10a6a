package stark

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"
)

// validProof returns an AIR, parameters and an encoded valid proof small
// enough to tamper with exhaustively.
func validProof(t testing.TB) (*cubeAIR, Params, *Proof, []byte) {
	return validProofIn(t, E4Challenges)
}

func validProofIn(t testing.TB, x Extension) (*cubeAIR, Params, *Proof, []byte) {
	a, tr := cubeInstance(t, 256)
	p := testParams()
	p.Challenges = x
	proof, err := Prove(a, tr, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return a, p, proof, b
}

func bump(e *fr.Element) {
	var one fr.Element
	one.SetOne()
	e.Add(e, &one)
}

// bumpExt changes the last coordinate of an extension value.
func bumpExt(e *Ext, x Extension) { bump(&e[x.Degree()-1]) }

// TestTamperedProof changes one value in every part of a valid proof and
// checks that the verifier rejects it with the expected error, for each
// challenge field.
func TestTamperedProof(t *testing.T) {
	for _, x := range []Extension{E4Challenges, E6Challenges} {
		t.Run(x.String(), func(t *testing.T) { testTamperedProof(t, x) })
	}
}

func testTamperedProof(t *testing.T, x Extension) {
	a, p, _, enc := validProofIn(t, x)
	bumpE4 := func(e *Ext) { bumpExt(e, x) }
	other := E6Challenges - x
	fresh := func() *Proof {
		pr, err := DecodeProof(enc)
		if err != nil {
			t.Fatal(err)
		}
		return pr
	}
	cases := []struct {
		name   string
		tamper func(*Proof)
		want   error // nil: any rejection
	}{
		{"trace cap first", func(p *Proof) { bump(&p.TraceCap[0][0]) }, ErrOODMismatch},
		{"trace cap last", func(p *Proof) { bump(&p.TraceCap[len(p.TraceCap)-1][5]) }, ErrOODMismatch},
		{"composition cap", func(p *Proof) { bump(&p.CompCap[3][7]) }, ErrOODMismatch},
		{"trace OOD", func(p *Proof) { bumpE4(&p.TraceOOD[1]) }, ErrOODMismatch},
		{"trace OOD next", func(p *Proof) { bumpE4(&p.TraceOODNext[0]) }, ErrOODMismatch},
		{"composition OOD", func(p *Proof) { bumpE4(&p.CompOOD[1]) }, ErrOODMismatch},
		{"final poly", func(p *Proof) { bumpE4(&p.FinalPoly[0]) }, nil},
		{"nonce", func(p *Proof) { p.Nonce ^= 1 << 40 }, nil},
		{"swap two queries", func(p *Proof) { p.Queries[0], p.Queries[1] = p.Queries[1], p.Queries[0] }, ErrMerklePath},
		{"drop a query", func(p *Proof) { p.Queries = p.Queries[1:] }, ErrShape},
		{"params", func(p *Proof) { p.Params.NumQueries++ }, ErrParams},
		{"challenge field", func(p *Proof) { p.Params.Challenges = other }, ErrParams},
	}
	type tc = struct {
		name   string
		tamper func(*Proof)
		want   error
	}
	// Every FRI cap, first and last node.
	for l, c := range fresh().FRICaps {
		cases = append(cases,
			tc{fmt.Sprintf("FRI cap %d first", l), func(p *Proof) { bump(&p.FRICaps[l][0][l%8]) }, nil},
			tc{fmt.Sprintf("FRI cap %d last", l), func(p *Proof) { bump(&p.FRICaps[l][len(c)-1][0]) }, nil})
	}
	// Every part of every query: rows and paths give Merkle errors; a FRI
	// coset value gives a consistency error (the opened slot) or a Merkle error.
	for qi, q := range fresh().Queries {
		cases = append(cases,
			tc{fmt.Sprintf("query %d trace row", qi), func(p *Proof) { bump(&p.Queries[qi].TraceRow[qi%len(q.TraceRow)]) }, ErrMerklePath},
			tc{fmt.Sprintf("query %d trace path", qi), func(p *Proof) { bump(&p.Queries[qi].TracePath[qi%len(q.TracePath)][1]) }, ErrMerklePath},
			tc{fmt.Sprintf("query %d composition row", qi), func(p *Proof) { bump(&p.Queries[qi].CompRow[qi%len(q.CompRow)]) }, ErrMerklePath},
			tc{fmt.Sprintf("query %d composition path", qi), func(p *Proof) { bump(&p.Queries[qi].CompPath[qi%len(q.CompPath)][2]) }, ErrMerklePath},
		)
		for l, lo := range q.Layers {
			cases = append(cases, tc{fmt.Sprintf("query %d layer %d path", qi, l), func(p *Proof) { bump(&p.Queries[qi].Layers[l].Path[qi%len(lo.Path)][0]) }, ErrMerklePath})
			for v := range lo.Values {
				cases = append(cases, tc{fmt.Sprintf("query %d layer %d value %d", qi, l, v), func(p *Proof) { bumpE4(&p.Queries[qi].Layers[l].Values[v]) }, nil})
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr := fresh()
			if err := Verify(a, p, pr); err != nil {
				t.Fatalf("untampered proof rejected: %v", err)
			}
			c.tamper(pr)
			err := Verify(a, p, pr)
			if err == nil {
				t.Fatal("tampered proof accepted")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v", c.want, err)
			}
		})
	}
}

// TestTamperedLayerSlot checks the specific consistency errors of FRI.
func TestTamperedLayerSlot(t *testing.T) {
	for _, x := range []Extension{E4Challenges, E6Challenges} {
		t.Run(x.String(), func(t *testing.T) { testTamperedLayerSlot(t, x) })
	}
}

func testTamperedLayerSlot(t *testing.T, x Extension) {
	a, p, _, enc := validProofIn(t, x)
	pr, _ := DecodeProof(enc)
	st, _ := newStatement(a, p)
	idx := queryPositions(t, a, p, pr)
	arity := 1 << p.LogFoldArity
	pos, m := idx[0], st.N
	for l := range st.layers {
		groups := m / arity
		want := ErrFRIFold
		if l == 0 {
			want = ErrDEEPQuery
		}
		q, _ := DecodeProof(enc)
		bumpExt(&q.Queries[0].Layers[l].Values[pos/groups], x)
		if err := Verify(a, p, q); !errors.Is(err, want) {
			t.Fatalf("layer %d: want %v, got %v", l, want, err)
		}
		pos, m = pos%groups, groups
	}
	q, _ := DecodeProof(enc)
	for i := range q.FinalPoly {
		q.FinalPoly[i] = Ext{}
	}
	if err := Verify(a, p, q); err == nil {
		t.Fatal("zeroed final polynomial accepted")
	}
}

// queryPositions replays the transcript to learn the query positions.
func queryPositions(t *testing.T, a AIR, p Params, pr *Proof) []int {
	st, err := newStatement(a, p)
	if err != nil {
		t.Fatal(err)
	}
	if p.Challenges == E6Challenges {
		return replayQueries[E6](st, pr)
	}
	return replayQueries[E4](st, pr)
}

func replayQueries[E any, P extElem[E]](st *statement, pr *Proof) []int {
	p := st.params
	tr := st.transcript()
	tr.AbsorbDigests(pr.TraceCap)
	sampleExt[E](tr)
	tr.AbsorbDigests(pr.CompCap)
	sampleZ[E, P](st, tr)
	absorbExt(tr, fromExts[E](pr.TraceOOD))
	absorbExt(tr, fromExts[E](pr.TraceOODNext))
	absorbExt(tr, fromExts[E](pr.CompOOD))
	sampleExt[E](tr)
	for l := range st.layers {
		tr.AbsorbDigests(pr.FRICaps[l])
		sampleExt[E](tr)
	}
	absorbExt(tr, fromExts[E](pr.FinalPoly))
	tr.SampleDigest()
	tr.AbsorbUint64(pr.Nonce)
	return sampleQueries(tr, p.NumQueries, st.logN+p.LogBlowup)
}

func TestPublicInputsBound(t *testing.T) {
	a, p, proof, _ := validProof(t)
	cases := []struct {
		name string
		air  *cubeAIR
	}{
		{"other output", &cubeAIR{n: a.n, in: a.in, out: func() fr.Element { o := a.out; bump(&o); return o }()}},
		{"other input", &cubeAIR{n: a.n, in: func() fr.Element { o := a.in; bump(&o); return o }(), out: a.out}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify(c.air, p, proof); err == nil {
				t.Fatal("proof verified under other public inputs")
			}
		})
	}
	if err := Verify(&cubeAIR{n: 2 * a.n, in: a.in, out: a.out}, p, proof); !errors.Is(err, ErrShape) {
		t.Fatalf("other trace length: want ErrShape, got %v", err)
	}
}

// TestFlipEveryByteRegion flips bytes across the whole encoding (every
// section: header, commitments, OOD values, final polynomial, nonce, every
// query): no flipped proof may decode and verify, and nothing may panic.
func TestFlipEveryByteRegion(t *testing.T) {
	a, p, proof, enc := validProof(t)
	// Every byte before the query section; a stride through the queries,
	// which repeat the same layout for each query.
	sizes := proof.shape().sectionSizes()
	queryStart := len(enc) - sizes[secQueries]
	stride := 5
	if testing.Short() {
		stride = 41
	}
	flip := func(i int, mask byte) {
		b := bytes.Clone(enc)
		b[i] ^= mask
		if err := VerifyBytes(a, p, b); err == nil {
			t.Fatalf("flipping bit %#x of byte %d (of %d) still verifies", mask, i, len(enc))
		}
	}
	for i := range queryStart {
		flip(i, 0x01)
		flip(i, 0x40)
	}
	for i := queryStart; i < len(enc); i += stride {
		flip(i, 0x01)
	}
	flip(len(enc)-1, 0x01)
}

func TestDecodeRejects(t *testing.T) {
	_, _, _, enc := validProof(t)
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"magic", append([]byte("XSTK"), enc[4:]...)},
		{"version", append(append([]byte{}, enc[:4]...), append([]byte{9}, enc[5:]...)...)},
		{"truncated", enc[:len(enc)-1]},
		{"truncated header", enc[:12]},
		{"trailing", append(bytes.Clone(enc), 0)},
		{"oversized", make([]byte, MaxProofSize+1)},
		{"non-canonical element", func() []byte {
			b := bytes.Clone(enc)
			// First trace-root element (after magic, version, header section, tag, length).
			off := 5 + 5 + headerSize + 5
			b[off], b[off+1], b[off+2], b[off+3] = 0xff, 0xff, 0xff, 0x7f
			return b
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeProof(c.b); !errors.Is(err, ErrProofEncoding) && !errors.Is(err, ErrParams) {
				t.Fatalf("want ErrProofEncoding, got %v", err)
			}
		})
	}
}

func FuzzDecodeProof(f *testing.F) {
	a, tr := cubeInstance(f, 4)
	p := Params{LogBlowup: 1, NumQueries: 2, GrindingBits: 0, LogFoldArity: 1, LogFinalSize: 1, LogMerkleCap: 1}
	proof, err := Prove(a, tr, p, nil)
	if err != nil {
		f.Fatal(err)
	}
	enc, err := proof.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add(enc[:len(enc)/2])
	f.Add([]byte("TSTK\x01"))
	p.Challenges = E6Challenges
	proof6, err := Prove(a, tr, p, nil)
	if err != nil {
		f.Fatal(err)
	}
	enc6, err := proof6.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc6)
	f.Add([]byte("TSTK\x02"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pr, err := DecodeProof(b)
		if err != nil {
			return
		}
		out, err := pr.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded proof does not re-encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatal("decoding is not canonical")
		}
		_ = Verify(a, p, pr) // must not panic
	})
}
