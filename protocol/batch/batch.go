package batch

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark"
	"github.com/trellis-chain/trellis/protocol/state"
)

// Statement names the block statement and its version.
const Statement = "batch/v1"

// TagBatch is the domain tag of the batch hash, listed with the others in
// protocol/hash.
const TagBatch = hash.TagBatch

// Sentinel errors; every error of this package wraps one of them.
var (
	// ErrPublic reports malformed or inconsistent public inputs.
	ErrPublic = errors.New("batch: invalid public inputs")
	// ErrWitness reports a witness that does not satisfy the statement.
	ErrWitness = errors.New("batch: witness does not satisfy the statement")
	// ErrProof reports a proof (or proof file) that does not verify or decode.
	ErrProof = errors.New("batch: invalid proof")
)

// Leaf input sizes (elements), as hashed by hash.HashLeaf.
const (
	AccountLeafElements = 29 // account.LeafElements
	GlobalsLeafElements = 11
)

// MaxUpdates bounds the number of leaf updates one statement may have.
// 2^15 covers a block of the default 10M gas limit (at most ~20,000
// updates: two per 1,000-gas transfer); its trace is 2^21 rows.
const MaxUpdates = 1 << 15

// Public is the statement's public input: the state roots before and after
// the block, the batch hash of its leaf updates and their number (which fixes
// the trace length).
type Public struct {
	OldRoot, NewRoot, BatchHash hash.Digest
	Updates                     uint32
}

// PublicSize is the length of an encoded Public.
const PublicSize = 3*hash.DigestSize + 4

// Encode returns OldRoot | NewRoot | BatchHash | Updates (u32 little-endian).
func (p Public) Encode() []byte {
	b := make([]byte, 0, PublicSize)
	for _, d := range []hash.Digest{p.OldRoot, p.NewRoot, p.BatchHash} {
		e := d.Bytes()
		b = append(b, e[:]...)
	}
	return binary.LittleEndian.AppendUint32(b, p.Updates)
}

// DecodePublic parses an encoded Public.
func DecodePublic(b []byte) (Public, error) {
	var p Public
	if len(b) != PublicSize {
		return p, fmt.Errorf("%w: %d bytes, want %d", ErrPublic, len(b), PublicSize)
	}
	names := []string{"old root", "new root", "batch hash"}
	for i, d := range []*hash.Digest{&p.OldRoot, &p.NewRoot, &p.BatchHash} {
		v, err := hash.DigestFromBytes(b[i*hash.DigestSize : (i+1)*hash.DigestSize])
		if err != nil {
			return Public{}, fmt.Errorf("%w: %s: %w", ErrPublic, names[i], err)
		}
		*d = v
	}
	p.Updates = binary.LittleEndian.Uint32(b[3*hash.DigestSize:])
	if err := p.check(); err != nil {
		return Public{}, err
	}
	return p, nil
}

func (p Public) check() error {
	if p.Updates < 1 || p.Updates > MaxUpdates {
		return fmt.Errorf("%w: %d updates, want 1..%d", ErrPublic, p.Updates, MaxUpdates)
	}
	return nil
}

// Update is one leaf update: the leaf at Index goes from the leaf input Old
// (nil: the leaf is absent, an account is created) to New. Siblings is the
// leaf's Merkle path in the tree after all previous updates of the batch
// (bottom level first).
type Update struct {
	Index    uint32
	Old, New []koalabear.Element
	Siblings [state.Depth]hash.Digest
}

// Witness is the private input: the updates in batch order (the globals leaf
// first, then the changed accounts by ascending index).
type Witness struct {
	Updates []Update
}

const witnessVersion = 1

// minUpdateSize is the smallest encoded update (absent old leaf, 11 new elements).
const minUpdateSize = 4 + 1 + 1 + GlobalsLeafElements*4 + state.Depth*hash.DigestSize

// Encode returns version u8 | n u32 | n × (index u32 | len(Old) u8 | Old |
// len(New) u8 | New | 32 siblings), little-endian, elements as u32.
func (w *Witness) Encode() []byte {
	b := []byte{witnessVersion}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(w.Updates)))
	elems := func(es []koalabear.Element) {
		b = append(b, byte(len(es)))
		for _, e := range es {
			b = binary.LittleEndian.AppendUint32(b, uint32(e.Uint64()))
		}
	}
	for _, u := range w.Updates {
		b = binary.LittleEndian.AppendUint32(b, u.Index)
		elems(u.Old)
		elems(u.New)
		for _, s := range u.Siblings {
			e := s.Bytes()
			b = append(b, e[:]...)
		}
	}
	return b
}

// DecodeWitness parses an encoded witness. It checks the encoding only
// (counts, leaf sizes, canonical elements); Prove checks the contents.
func DecodeWitness(b []byte) (*Witness, error) {
	fail := func(f string, a ...any) (*Witness, error) {
		return nil, fmt.Errorf("%w: encoding: %s", ErrWitness, fmt.Sprintf(f, a...))
	}
	if len(b) < 5 || b[0] != witnessVersion {
		return fail("bad header")
	}
	n := binary.LittleEndian.Uint32(b[1:])
	if n < 1 || n > MaxUpdates {
		return fail("%d updates, want 1..%d", n, MaxUpdates)
	}
	p := b[5:]
	if uint64(n)*minUpdateSize > uint64(len(p)) {
		return fail("%d updates need at least %d bytes, have %d", n, uint64(n)*minUpdateSize, len(p))
	}
	w := &Witness{Updates: make([]Update, n)}
	mod := koalabear.Modulus().Uint64()
	elems := func(i int, what string, absentOK bool) ([]koalabear.Element, error) {
		if len(p) < 1 {
			return nil, fmt.Errorf("update %d: truncated %s", i, what)
		}
		l := int(p[0])
		p = p[1:]
		switch {
		case l == 0 && absentOK:
			return nil, nil
		case l != AccountLeafElements && l != GlobalsLeafElements:
			return nil, fmt.Errorf("update %d: %s leaf has %d elements, want %d or %d", i, what, l, GlobalsLeafElements, AccountLeafElements)
		case len(p) < 4*l:
			return nil, fmt.Errorf("update %d: truncated %s leaf", i, what)
		}
		es := make([]koalabear.Element, l)
		for j := range es {
			v := uint64(binary.LittleEndian.Uint32(p[4*j:]))
			if v >= mod {
				return nil, fmt.Errorf("update %d: %s element %d is not below the modulus", i, what, j)
			}
			es[j].SetUint64(v)
		}
		p = p[4*l:]
		return es, nil
	}
	for i := range w.Updates {
		u := &w.Updates[i]
		if len(p) < 4 {
			return fail("update %d: truncated index", i)
		}
		u.Index = binary.LittleEndian.Uint32(p)
		p = p[4:]
		var err error
		if u.Old, err = elems(i, "old", true); err != nil {
			return fail("%v", err)
		}
		if u.New, err = elems(i, "new", false); err != nil {
			return fail("%v", err)
		}
		if len(p) < state.Depth*hash.DigestSize {
			return fail("update %d: truncated siblings", i)
		}
		for l := range u.Siblings {
			d, err := hash.DigestFromBytes(p[l*hash.DigestSize : (l+1)*hash.DigestSize])
			if err != nil {
				return fail("update %d: sibling %d: %v", i, l, err)
			}
			u.Siblings[l] = d
		}
		p = p[state.Depth*hash.DigestSize:]
	}
	if len(p) != 0 {
		return fail("%d trailing bytes", len(p))
	}
	return w, nil
}

// File is what `trellis prove` writes and `trellis verify` reads.
type File struct {
	Public Public
	Proof  []byte
}

var fileMagic = [4]byte{'T', 'P', 'R', 'F'}

const fileVersion = 1

// fileHeader is magic, version, Public and the proof length.
const fileHeader = 4 + 1 + PublicSize + 4

// Encode returns "TPRF" | version u8 = 1 | Public | len(Proof) u32 | Proof.
func (f *File) Encode() []byte {
	b := make([]byte, 0, fileHeader+len(f.Proof))
	b = append(b, fileMagic[:]...)
	b = append(b, fileVersion)
	b = append(b, f.Public.Encode()...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Proof)))
	return append(b, f.Proof...)
}

// DecodeFile parses a proof file; the proof is bounded by stark.MaxProofSize
// (its contents are checked by Verify).
func DecodeFile(b []byte) (*File, error) {
	if len(b) < fileHeader {
		return nil, fmt.Errorf("%w: file of %d bytes is shorter than its %d-byte header", ErrProof, len(b), fileHeader)
	}
	if [4]byte(b[:4]) != fileMagic || b[4] != fileVersion {
		return nil, fmt.Errorf("%w: not a version-%d %s proof file", ErrProof, fileVersion, fileMagic)
	}
	pub, err := DecodePublic(b[5 : 5+PublicSize])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProof, err)
	}
	n := uint64(binary.LittleEndian.Uint32(b[5+PublicSize:]))
	if n > stark.MaxProofSize {
		return nil, fmt.Errorf("%w: proof of %d bytes exceeds the %d-byte limit", ErrProof, n, stark.MaxProofSize)
	}
	if uint64(len(b)-fileHeader) != n {
		return nil, fmt.Errorf("%w: file holds %d proof bytes, header says %d", ErrProof, len(b)-fileHeader, n)
	}
	return &File{Public: pub, Proof: append([]byte(nil), b[fileHeader:]...)}, nil
}
