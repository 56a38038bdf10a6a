package hash

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json (only when parameters change on purpose)")

// seq returns n deterministic field elements starting at start.
func seq(start, n int) []koalabear.Element {
	v := make([]koalabear.Element, n)
	for i := range v {
		v[i].SetUint64(uint64(start + i*7919))
	}
	return v
}

func digestOf(v []koalabear.Element) Digest {
	var d Digest
	copy(d[:], v)
	return d
}

type vectors struct {
	Params      string            `json:"params"`
	Permutation map[string]string `json:"permutation"` // input 0..15 -> output
	Compress    string            `json:"compress"`    // Compress(seq(1,8), seq(100,8))
	Hash        map[string]string `json:"hash"`        // length -> Hash(seq(5,len))
	HashLeaf    map[string]string `json:"hash_leaf"`   // length -> HashLeaf(seq(5,len))
}

func hexElems(v []koalabear.Element) string {
	var b bytes.Buffer
	for i := range v {
		var x [4]byte
		x[0], x[1], x[2], x[3] = byte(v[i].Uint64()), byte(v[i].Uint64()>>8), byte(v[i].Uint64()>>16), byte(v[i].Uint64()>>24)
		b.Write(x[:])
	}
	return hex.EncodeToString(b.Bytes())
}

func computeVectors() vectors {
	v := vectors{Permutation: map[string]string{}, Hash: map[string]string{}, HashLeaf: map[string]string{}}.withParams()
	var s [Width]koalabear.Element
	copy(s[:], seq(0, 16))
	Permute(&s)
	v.Permutation["seq0"] = hexElems(s[:])
	var z [Width]koalabear.Element
	Permute(&z)
	v.Permutation["zero"] = hexElems(z[:])
	v.Compress = Compress(digestOf(seq(1, 8)), digestOf(seq(100, 8))).String()
	for _, n := range []int{0, 1, 7, 8, 9, 16, 33} {
		v.Hash[itoa(n)] = Hash(seq(5, n)).String()
		v.HashLeaf[itoa(n)] = HashLeaf(seq(5, n)).String()
	}
	return v
}

func (v vectors) withParams() vectors {
	v.Params = "poseidon2 koalabear t=16 rF=6 rP=21 d=3; compress=P(l||r)[8:]+r; md iv=(tag,len)"
	return v
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.json")
	got := computeVectors()
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want vectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("hash outputs changed: the pinned Poseidon2 parameters or constructions differ from testdata/vectors.json\n got %s\nwant %s", gb, wb)
	}
}

// The pinned Compress must be gnark-crypto's own compression.
func TestCompressMatchesGnark(t *testing.T) {
	l, r := digestOf(seq(3, 8)), digestOf(seq(77, 8))
	var lb, rb []byte
	for i := range 8 {
		lb = append(lb, l[i].Marshal()...)
		rb = append(rb, r[i].Marshal()...)
	}
	out, err := Permutation().Compress(lb, rb)
	if err != nil {
		t.Fatal(err)
	}
	got := Compress(l, r)
	var gb []byte
	for i := range 8 {
		gb = append(gb, got[i].Marshal()...)
	}
	if !bytes.Equal(out, gb) {
		t.Fatalf("Compress differs from gnark-crypto: %x vs %x", gb, out)
	}
}

func TestRoundKeysShape(t *testing.T) {
	rk := RoundKeys()
	if len(rk) != FullRounds+PartialRounds {
		t.Fatalf("%d rounds", len(rk))
	}
	for i, k := range rk {
		want := 1
		if i < FullRounds/2 || i >= FullRounds/2+PartialRounds {
			want = Width
		}
		if len(k) != want {
			t.Fatalf("round %d has %d keys, want %d", i, len(k), want)
		}
	}
}

func TestDomainSeparation(t *testing.T) {
	cases := []struct {
		name string
		a, b Digest
	}{
		{"empty vs one zero", Hash(nil), Hash(seq(0, 1)[:1:1])},
		{"padding is not ambiguous", Hash(seq(5, 7)), Hash(append(seq(5, 7), koalabear.Element{}))},
		{"hash vs leaf", Hash(seq(5, 8)), HashLeaf(seq(5, 8))},
		{"leaf vs node", HashLeaf(seq(5, 16)), HashNode(digestOf(seq(5, 8)), digestOf(seq(5+8*7919, 8)))},
		{"order matters", HashNode(digestOf(seq(1, 8)), digestOf(seq(2, 8))), HashNode(digestOf(seq(2, 8)), digestOf(seq(1, 8)))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.a == c.b {
				t.Fatalf("digests collide: %s", c.a)
			}
		})
	}
}

func TestHashRowsMatchesScalar(t *testing.T) {
	for _, tc := range []struct{ rows, width, workers int }{
		{1, 1, 1}, {15, 3, 1}, {16, 8, 2}, {17, 9, 3}, {100, 20, 0}, {64, 0 + 4, 4},
	} {
		cols := make([][]koalabear.Element, tc.width)
		for c := range cols {
			cols[c] = seq(c*1000+1, tc.rows)
		}
		got := HashRows(TagLeaf, cols, tc.workers)
		for r := range tc.rows {
			row := make([]koalabear.Element, tc.width)
			for c := range cols {
				row[c] = cols[c][r]
			}
			if want := HashLeaf(row); got[r] != want {
				t.Fatalf("rows=%d width=%d row %d: kernel %s, scalar %s", tc.rows, tc.width, r, got[r], want)
			}
		}
	}
}

func TestCompressLevelMatchesScalar(t *testing.T) {
	for _, n := range []int{2, 30, 32, 34, 256} {
		in := make([]Digest, n)
		for i := range in {
			in[i] = digestOf(seq(i*31+1, 8))
		}
		for _, w := range []int{1, 2, 0} {
			got := CompressLevel(in, w)
			for i := range got {
				if want := Compress(in[2*i], in[2*i+1]); got[i] != want {
					t.Fatalf("n=%d workers=%d node %d differs", n, w, i)
				}
			}
		}
	}
}

func TestDigestEncoding(t *testing.T) {
	d := Hash(seq(9, 20))
	b := d.Bytes()
	back, err := DigestFromBytes(b[:])
	if err != nil || back != d {
		t.Fatalf("round trip failed: %v", err)
	}
	bad := []struct {
		name string
		in   []byte
	}{
		{"short", b[:31]},
		{"long", append(b[:], 0)},
		{"modulus", func() []byte { c := b; c[0], c[1], c[2], c[3] = 0x01, 0x00, 0x00, 0x7f; return c[:] }()},
		{"all ones", bytes.Repeat([]byte{0xff}, 32)},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DigestFromBytes(c.in); !errors.Is(err, ErrDigestEncoding) {
				t.Fatalf("want ErrDigestEncoding, got %v", err)
			}
		})
	}
}

func FuzzDigestFromBytes(f *testing.F) {
	b := Hash(seq(1, 3)).Bytes()
	f.Add(b[:])
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := DigestFromBytes(in)
		if err != nil {
			return
		}
		out := d.Bytes()
		if !bytes.Equal(out[:], in) {
			t.Fatalf("decoding is not canonical: %x -> %x", in, out)
		}
	})
}

func BenchmarkPermutation(b *testing.B) {
	var s [Width]koalabear.Element
	copy(s[:], seq(1, 16))
	for b.Loop() {
		Permute(&s)
	}
}

func BenchmarkCompress(b *testing.B) {
	l, r := digestOf(seq(1, 8)), digestOf(seq(9, 8))
	for b.Loop() {
		l = Compress(l, r)
	}
}

func BenchmarkHash16(b *testing.B) {
	in := seq(1, 16)
	for b.Loop() {
		_ = Hash(in)
	}
}

func BenchmarkCompressLevel4096(b *testing.B) {
	in := make([]Digest, 8192)
	for i := range in {
		in[i] = digestOf(seq(i, 8))
	}
	b.ReportMetric(0, "ns/op")
	for b.Loop() {
		_ = CompressLevel(in, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*4096), "ns/compress")
}

func BenchmarkHashRows4096x16(b *testing.B) {
	cols := make([][]koalabear.Element, 16)
	for c := range cols {
		cols[c] = seq(c, 4096)
	}
	for b.Loop() {
		_ = HashRows(TagLeaf, cols, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*4096), "ns/row")
}

func TestHashManyMatchesScalar(t *testing.T) {
	var inputs [][]koalabear.Element
	for i := range 40 {
		inputs = append(inputs, seq(i, 12)) // a run of equal lengths
	}
	for i := range 20 {
		inputs = append(inputs, seq(i, i%5)) // mixed lengths, including empty
	}
	for _, w := range []int{1, 2, 0} {
		got := HashMany(TagLeaf, inputs, w)
		for i := range inputs {
			if want := HashLeaf(inputs[i]); got[i] != want {
				t.Fatalf("workers=%d input %d differs", w, i)
			}
		}
	}
	l := []Digest{digestOf(seq(1, 8)), digestOf(seq(2, 8))}
	r := []Digest{digestOf(seq(3, 8)), digestOf(seq(4, 8))}
	got := CompressMany(l, r, 0)
	for i := range l {
		if got[i] != Compress(l[i], r[i]) {
			t.Fatalf("CompressMany %d differs", i)
		}
	}
}

func BenchmarkHashMany4096x12(b *testing.B) {
	inputs := make([][]koalabear.Element, 4096)
	for i := range inputs {
		inputs[i] = seq(i, 12)
	}
	for b.Loop() {
		_ = HashMany(TagLeaf, inputs, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*4096), "ns/hash")
}
