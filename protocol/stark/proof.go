package stark

import (
	"encoding/binary"
	"errors"
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Proof is a STARK proof. Its only serialisation is MarshalBinary /
// DecodeProof; see docs/stark.md for the byte layout.
type Proof struct {
	Params         Params
	LogTraceLength int
	TraceWidth     int
	CompColumns    int // extension degree × number of composition chunks

	TraceCap, CompCap []hash.Digest   // Merkle caps of the trace and composition trees
	TraceOOD          []Ext           // trace columns at z
	TraceOODNext      []Ext           // trace columns at z·g
	CompOOD           []Ext           // composition chunks at z
	FRICaps           [][]hash.Digest // one cap per committed FRI layer
	FinalPoly         []Ext           // coefficients, low degree first
	Nonce             uint64
	Queries           []QueryProof // one per distinct query index, ascending
}

// QueryProof opens every commitment at one query position.
type QueryProof struct {
	TraceRow  []fr.Element
	TracePath []hash.Digest
	CompRow   []fr.Element
	CompPath  []hash.Digest
	Layers    []LayerOpening
}

// LayerOpening is one FRI layer's coset (the 2^LogFoldArity values that fold
// together) with its Merkle path.
type LayerOpening struct {
	Values []Ext
	Path   []hash.Digest
}

// Encoding constants.
const (
	// ProofVersion is the encoding of proofs with E4 challenges.
	ProofVersion = 1
	// ProofVersionE6 is the encoding of proofs with E6 challenges: the same
	// layout with 6 coordinates per extension value.
	ProofVersionE6 = 2
	// MaxProofSize bounds an encoded proof.
	MaxProofSize = 16 << 20
)

var proofMagic = [4]byte{'T', 'S', 'T', 'K'}

// ErrProofEncoding reports a malformed encoded proof.
var ErrProofEncoding = errors.New("stark: invalid proof encoding")

// Section tags, in their mandatory order.
const (
	secHeader = iota + 1
	secCommitments
	secOOD
	secFinal
	secNonce
	secQueries
	numSections = secQueries
)

const headerSize = 17

// versionOf is the encoding version of proofs with challenges in x.
func versionOf(x Extension) int {
	if x == E6Challenges {
		return ProofVersionE6
	}
	return ProofVersion
}

// shape holds every count the encoding depends on, derived from the header.
type shape struct {
	logN, logLDE, w, comp, layers, finalLen, queries, arity, logCap, ext int
}

func (p *Proof) shape() shape {
	return shape{
		logN: p.LogTraceLength, logLDE: p.LogTraceLength + p.Params.LogBlowup, w: p.TraceWidth,
		comp: p.CompColumns, layers: len(p.FRICaps), finalLen: len(p.FinalPoly), queries: len(p.Queries),
		arity: 1 << p.Params.LogFoldArity, logCap: p.Params.LogMerkleCap, ext: p.Params.Challenges.Degree(),
	}
}

// layerDepth is the Merkle depth of FRI layer l.
func (s shape) layerDepth(l int) int { return s.logLDE - (l+1)*bitsOf(s.arity) }

func (s shape) capLen(depth int) int  { return 1 << capHeight(s.logCap, depth) }
func (s shape) pathLen(depth int) int { return depth - capHeight(s.logCap, depth) }

func bitsOf(a int) int {
	if a == 4 {
		return 2
	}
	return 1
}

func (s shape) sectionSizes() [numSections + 1]int {
	var z [numSections + 1]int
	z[secHeader] = headerSize
	caps := 2 * s.capLen(s.logLDE)
	for l := range s.layers {
		caps += s.capLen(s.layerDepth(l))
	}
	z[secCommitments] = caps * hash.DigestSize
	extSize := 4 * s.ext
	z[secOOD] = (2*s.w + s.comp/s.ext) * extSize
	z[secFinal] = s.finalLen * extSize
	z[secNonce] = 8
	q := 4*s.w + 4*s.comp + 2*s.pathLen(s.logLDE)*hash.DigestSize
	for l := range s.layers {
		q += s.arity*extSize + s.pathLen(s.layerDepth(l))*hash.DigestSize
	}
	z[secQueries] = s.queries * q
	return z
}

type writer struct{ b []byte }

func (w *writer) u8(v int)          { w.b = append(w.b, byte(v)) }
func (w *writer) u16(v int)         { w.b = binary.LittleEndian.AppendUint16(w.b, uint16(v)) }
func (w *writer) u32(v int)         { w.b = binary.LittleEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) u64(v uint64)      { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *writer) elem(e fr.Element) { w.b = binary.LittleEndian.AppendUint32(w.b, uint32(e.Uint64())) }
func (w *writer) ext(e Ext, d int) {
	for _, c := range e[:d] {
		w.elem(c)
	}
}
func (w *writer) digest(d hash.Digest) { b := d.Bytes(); w.b = append(w.b, b[:]...) }

// MarshalBinary encodes the proof canonically. It fails only on a proof whose
// shape is inconsistent (which Prove never produces).
func (p *Proof) MarshalBinary() ([]byte, error) {
	if err := p.checkShape(); err != nil {
		return nil, err
	}
	s := p.shape()
	sizes := s.sectionSizes()
	w := &writer{}
	w.b = append(w.b, proofMagic[:]...)
	w.u8(versionOf(p.Params.Challenges))
	d := s.ext
	var sizeErr error
	section := func(tag int, body func()) {
		w.u8(tag)
		w.u32(sizes[tag])
		start := len(w.b)
		body()
		if len(w.b)-start != sizes[tag] && sizeErr == nil {
			sizeErr = fmt.Errorf("%w: section %d encodes to %d bytes, shape gives %d", ErrProofEncoding, tag, len(w.b)-start, sizes[tag])
		}
	}
	section(secHeader, func() {
		w.u8(p.Params.LogBlowup)
		w.u8(p.Params.NumQueries)
		w.u8(p.Params.GrindingBits)
		w.u8(p.Params.LogFoldArity)
		w.u8(p.Params.LogFinalSize)
		w.u8(p.Params.LogMerkleCap)
		w.u8(p.LogTraceLength)
		w.u16(p.TraceWidth)
		w.u16(p.CompColumns)
		w.u16(len(p.FRICaps))
		w.u16(len(p.FinalPoly))
		w.u16(len(p.Queries))
	})
	section(secCommitments, func() {
		for _, c := range append([][]hash.Digest{p.TraceCap, p.CompCap}, p.FRICaps...) {
			for _, d := range c {
				w.digest(d)
			}
		}
	})
	section(secOOD, func() {
		for _, v := range p.TraceOOD {
			w.ext(v, d)
		}
		for _, v := range p.TraceOODNext {
			w.ext(v, d)
		}
		for _, v := range p.CompOOD {
			w.ext(v, d)
		}
	})
	section(secFinal, func() {
		for _, v := range p.FinalPoly {
			w.ext(v, d)
		}
	})
	section(secNonce, func() { w.u64(p.Nonce) })
	section(secQueries, func() {
		for _, q := range p.Queries {
			for _, e := range q.TraceRow {
				w.elem(e)
			}
			for _, d := range q.TracePath {
				w.digest(d)
			}
			for _, e := range q.CompRow {
				w.elem(e)
			}
			for _, d := range q.CompPath {
				w.digest(d)
			}
			for _, l := range q.Layers {
				for _, v := range l.Values {
					w.ext(v, d)
				}
				for _, d := range l.Path {
					w.digest(d)
				}
			}
		}
	})
	if sizeErr != nil {
		return nil, sizeErr
	}
	return w.b, nil
}

// checkShape verifies that all slices agree with the header fields.
func (p *Proof) checkShape() error {
	if err := p.Params.Validate(); err != nil {
		return err
	}
	s := p.shape()
	if s.logN < 2 || s.logN > MaxLogTraceLength || s.logLDE > 24 {
		return fmt.Errorf("%w: trace length 2^%d", ErrProofEncoding, s.logN)
	}
	if s.w < 1 || s.w > MaxTraceWidth || s.comp < s.ext || s.comp%s.ext != 0 || s.comp > s.ext*64 {
		return fmt.Errorf("%w: width %d, composition columns %d", ErrProofEncoding, s.w, s.comp)
	}
	layers, finalLen := p.Params.numFRILayers(s.logN)
	if s.layers != layers || s.finalLen != finalLen {
		return fmt.Errorf("%w: %d FRI layers and %d final coefficients, parameters give %d and %d", ErrProofEncoding, s.layers, s.finalLen, layers, finalLen)
	}
	if s.queries < 1 || s.queries > p.Params.NumQueries {
		return fmt.Errorf("%w: %d query openings for %d queries", ErrProofEncoding, s.queries, p.Params.NumQueries)
	}
	if len(p.TraceOOD) != s.w || len(p.TraceOODNext) != s.w || len(p.CompOOD) != s.comp/s.ext {
		return fmt.Errorf("%w: out-of-domain value counts", ErrProofEncoding)
	}
	if len(p.TraceCap) != s.capLen(s.logLDE) || len(p.CompCap) != s.capLen(s.logLDE) {
		return fmt.Errorf("%w: Merkle cap sizes", ErrProofEncoding)
	}
	for l, c := range p.FRICaps {
		if len(c) != s.capLen(s.layerDepth(l)) {
			return fmt.Errorf("%w: FRI layer %d cap size", ErrProofEncoding, l)
		}
	}
	pl := s.pathLen(s.logLDE)
	for i, q := range p.Queries {
		if len(q.TraceRow) != s.w || len(q.TracePath) != pl || len(q.CompRow) != s.comp || len(q.CompPath) != pl || len(q.Layers) != s.layers {
			return fmt.Errorf("%w: query %d has the wrong shape", ErrProofEncoding, i)
		}
		for l, lo := range q.Layers {
			if len(lo.Values) != s.arity || len(lo.Path) != s.pathLen(s.layerDepth(l)) {
				return fmt.Errorf("%w: query %d layer %d has the wrong shape", ErrProofEncoding, i, l)
			}
		}
	}
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated", ErrProofEncoding)
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *reader) u8() int     { return int(r.take(1)[0]) }
func (r *reader) u16() int    { return int(binary.LittleEndian.Uint16(r.take(2))) }
func (r *reader) u32() int    { return int(binary.LittleEndian.Uint32(r.take(4))) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *reader) elem() fr.Element {
	v := binary.LittleEndian.Uint32(r.take(4))
	var e fr.Element
	if uint64(v) >= modulus {
		if r.err == nil {
			r.err = fmt.Errorf("%w: field element %d is not below the modulus", ErrProofEncoding, v)
		}
		return e
	}
	e.SetUint64(uint64(v))
	return e
}
func (r *reader) ext(d int) Ext {
	var e Ext
	for i := range d {
		e[i] = r.elem()
	}
	return e
}
func (r *reader) digest() hash.Digest {
	d, err := hash.DigestFromBytes(r.take(hash.DigestSize))
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%w: %w", ErrProofEncoding, err)
	}
	return d
}
func (r *reader) exts(n, d int) []Ext {
	v := make([]Ext, n)
	for i := range v {
		v[i] = r.ext(d)
	}
	return v
}
func (r *reader) elems(n int) []fr.Element {
	v := make([]fr.Element, n)
	for i := range v {
		v[i] = r.elem()
	}
	return v
}
func (r *reader) digests(n int) []hash.Digest {
	v := make([]hash.Digest, n)
	for i := range v {
		v[i] = r.digest()
	}
	return v
}

// DecodeProof parses an encoded proof. It rejects, with an error wrapping
// ErrProofEncoding or ErrParams, any input that is not exactly the canonical
// encoding of a well-shaped proof: wrong magic or version, truncation,
// trailing bytes, oversize, section tags or lengths that disagree with the
// header, and field elements not below the modulus.
func DecodeProof(b []byte) (*Proof, error) {
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrProofEncoding, len(b), MaxProofSize)
	}
	if len(b) < 5 || [4]byte(b[:4]) != proofMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrProofEncoding)
	}
	p := &Proof{}
	switch b[4] {
	case ProofVersion:
	case ProofVersionE6:
		p.Params.Challenges = E6Challenges
	default:
		return nil, fmt.Errorf("%w: version %d, want %d or %d", ErrProofEncoding, b[4], ProofVersion, ProofVersionE6)
	}
	r := &reader{b: b[5:]}
	var sizes [numSections + 1]int
	sizes[secHeader] = headerSize
	section := func(tag int, body func()) error {
		t, l := r.u8(), r.u32()
		if r.err != nil {
			return fmt.Errorf("%w (section %d header)", r.err, tag)
		}
		if t != tag {
			return fmt.Errorf("%w: section tag %d, want %d", ErrProofEncoding, t, tag)
		}
		if l != sizes[tag] {
			return fmt.Errorf("%w: section %d is %d bytes, header implies %d", ErrProofEncoding, tag, l, sizes[tag])
		}
		if l > len(r.b) {
			return fmt.Errorf("%w: section %d truncated (%d of %d bytes)", ErrProofEncoding, tag, len(r.b), l)
		}
		rest := r.b[l:]
		r.b = r.b[:l]
		body()
		if r.err != nil {
			return fmt.Errorf("%w (section %d)", r.err, tag)
		}
		if len(r.b) != 0 {
			return fmt.Errorf("%w: section %d has %d unread bytes", ErrProofEncoding, tag, len(r.b))
		}
		r.b = rest
		return nil
	}
	var nLayers, nFinal, nQueries int
	err := section(secHeader, func() {
		p.Params.LogBlowup = r.u8()
		p.Params.NumQueries = r.u8()
		p.Params.GrindingBits = r.u8()
		p.Params.LogFoldArity = r.u8()
		p.Params.LogFinalSize = r.u8()
		p.Params.LogMerkleCap = r.u8()
		p.LogTraceLength = r.u8()
		p.TraceWidth = r.u16()
		p.CompColumns = r.u16()
		nLayers, nFinal, nQueries = r.u16(), r.u16(), r.u16()
	})
	if err != nil {
		return nil, err
	}
	// Validate the header before allocating anything it sizes.
	hdr := &Proof{Params: p.Params, LogTraceLength: p.LogTraceLength, TraceWidth: p.TraceWidth, CompColumns: p.CompColumns}
	if err := hdr.Params.Validate(); err != nil {
		return nil, err
	}
	s := shape{logN: p.LogTraceLength, logLDE: p.LogTraceLength + p.Params.LogBlowup, w: p.TraceWidth, comp: p.CompColumns,
		layers: nLayers, finalLen: nFinal, queries: nQueries, arity: 1 << p.Params.LogFoldArity, logCap: p.Params.LogMerkleCap,
		ext: p.Params.Challenges.Degree()}
	if s.logN < 2 || s.logN > MaxLogTraceLength || s.logLDE > 24 || s.w < 1 || s.w > MaxTraceWidth ||
		s.comp < s.ext || s.comp%s.ext != 0 || s.comp > s.ext*64 {
		return nil, fmt.Errorf("%w: header shape (log length %d, width %d, composition columns %d)", ErrProofEncoding, s.logN, s.w, s.comp)
	}
	if wl, wf := p.Params.numFRILayers(s.logN); wl != nLayers || wf != nFinal {
		return nil, fmt.Errorf("%w: header has %d FRI layers and %d final coefficients, parameters give %d and %d", ErrProofEncoding, nLayers, nFinal, wl, wf)
	}
	if nQueries < 1 || nQueries > p.Params.NumQueries {
		return nil, fmt.Errorf("%w: %d query openings for %d queries", ErrProofEncoding, nQueries, p.Params.NumQueries)
	}
	sizes = s.sectionSizes()
	total := 5
	for _, z := range sizes[1:] {
		total += 5 + z
	}
	if total != len(b) {
		return nil, fmt.Errorf("%w: %d bytes, header implies %d", ErrProofEncoding, len(b), total)
	}
	if err := section(secCommitments, func() {
		p.TraceCap, p.CompCap = r.digests(s.capLen(s.logLDE)), r.digests(s.capLen(s.logLDE))
		p.FRICaps = make([][]hash.Digest, nLayers)
		for l := range p.FRICaps {
			p.FRICaps[l] = r.digests(s.capLen(s.layerDepth(l)))
		}
	}); err != nil {
		return nil, err
	}
	if err := section(secOOD, func() {
		p.TraceOOD, p.TraceOODNext, p.CompOOD = r.exts(s.w, s.ext), r.exts(s.w, s.ext), r.exts(s.comp/s.ext, s.ext)
	}); err != nil {
		return nil, err
	}
	if err := section(secFinal, func() { p.FinalPoly = r.exts(nFinal, s.ext) }); err != nil {
		return nil, err
	}
	if err := section(secNonce, func() { p.Nonce = r.u64() }); err != nil {
		return nil, err
	}
	if err := section(secQueries, func() {
		p.Queries = make([]QueryProof, nQueries)
		for i := range p.Queries {
			q := &p.Queries[i]
			q.TraceRow, q.TracePath = r.elems(s.w), r.digests(s.pathLen(s.logLDE))
			q.CompRow, q.CompPath = r.elems(s.comp), r.digests(s.pathLen(s.logLDE))
			q.Layers = make([]LayerOpening, nLayers)
			for l := range q.Layers {
				q.Layers[l].Values = r.exts(s.arity, s.ext)
				q.Layers[l].Path = r.digests(s.pathLen(s.layerDepth(l)))
			}
		}
	}); err != nil {
		return nil, err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrProofEncoding, len(r.b))
	}
	return p, nil
}
