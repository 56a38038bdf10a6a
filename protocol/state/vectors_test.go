package state

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/state/statetest"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/vectors.json (only when the tree layout changes on purpose)")

// The vectors file is what an independent implementation of the state tree
// (the STARK's AIR, a GPU Merkle kernel, another client) checks itself
// against; every field is explained inside the file.
type treeVectors struct {
	About      map[string]string `json:"about"`
	EmptyRoots []string          `json:"empty_roots"`
	Tree       treeVector        `json:"tree"`
}

type treeVector struct {
	LeafInputs [][]uint32  `json:"leaf_inputs"`
	Leaves     []string    `json:"leaves"`
	Root       string      `json:"root"`
	Proof      proofVector `json:"proof"`
}

type proofVector struct {
	Index    uint32   `json:"index"`
	Leaf     string   `json:"leaf"`
	Siblings []string `json:"siblings"`
}

var treeAbout = map[string]string{
	"hash":        "Poseidon2 over KoalaBear as pinned in protocol/hash (protocol/hash/testdata/vectors.json); Compress(l, r) = P(l || r)[8:16] + r, element-wise",
	"digest":      "every digest is 32 bytes in hex: 8 field elements, each 4 bytes little-endian of its canonical value",
	"tree":        "binary Merkle tree of depth 32 keyed by a 32-bit leaf index; inner node = Compress(left child, right child); an absent leaf is the zero digest",
	"empty_roots": "empty_roots[l] is the root of an empty subtree of height l: empty_roots[0] = zero digest, empty_roots[l+1] = Compress(empty_roots[l], empty_roots[l]); empty_roots[32] is the root of the empty state",
	"leaf_inputs": "leaf i = HashWithTag(0x54524c02 TagLeaf, leaf_inputs[i]) (canonical field elements as decimal numbers); leaves at indices from len(leaves) on are absent",
	"proof":       "siblings bottom first: siblings[l] is the sibling at height l of the path of index; walking up, the running digest is the left input when bit l of index is 0, the right input otherwise; the last digest is root",
}

func vecHex(d hash.Digest) string { b := d.Bytes(); return hex.EncodeToString(b[:]) }

// vectorLeafInput is the fixed input of leaf i: 11 elements, the shape of
// a globals leaf, with values that exercise the whole field.
func vectorLeafInput(i int) []koalabear.Element {
	e := make([]koalabear.Element, 11)
	for j := range e {
		e[j].SetUint64(uint64(i*1_000_003+j*7_919) * 2_654_435_761 % koalabear.Modulus().Uint64())
	}
	return e
}

func computeTreeVectors() treeVectors {
	v := treeVectors{About: treeAbout}
	for l := 0; l <= Depth; l++ {
		v.EmptyRoots = append(v.EmptyRoots, vecHex(empty[l]))
	}
	var leaves []hash.Digest
	for i := range 6 {
		in := vectorLeafInput(i)
		u := make([]uint32, len(in))
		for j := range in {
			u[j] = uint32(in[j].Uint64())
		}
		leaf := hash.HashLeaf(in)
		leaves = append(leaves, leaf)
		v.Tree.LeafInputs = append(v.Tree.LeafInputs, u)
		v.Tree.Leaves = append(v.Tree.Leaves, vecHex(leaf))
	}
	tr := NewTree(leaves, 1)
	v.Tree.Root = vecHex(tr.Root())
	const idx = 5
	v.Tree.Proof = proofVector{Index: idx, Leaf: vecHex(leaves[idx])}
	for _, s := range tr.Proof(idx) {
		v.Tree.Proof.Siblings = append(v.Tree.Proof.Siblings, vecHex(s))
	}
	return v
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.json")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(computeTreeVectors()); err != nil {
		t.Fatal(err)
	}
	if *updateVectors {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("%s differs from the tree this code builds: the empty roots, leaves, root or proof changed "+
			"(run go test ./protocol/state -run TestVectors -update only if the change is on purpose)\n got %s", path, buf.Bytes())
	}
}

// TestVectorsConsistent checks the stored file against itself with the
// scalar hash only: each leaf hashes its input, the empty roots chain, the
// proof reaches the root, and the root is the model's root of the leaves.
func TestVectorsConsistent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v treeVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	dig := func(s string) hash.Digest {
		t.Helper()
		raw, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		d, err := hash.DigestFromBytes(raw)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if len(v.EmptyRoots) != Depth+1 || dig(v.EmptyRoots[0]) != (hash.Digest{}) {
		t.Fatalf("%d empty roots, the first %s", len(v.EmptyRoots), v.EmptyRoots[0])
	}
	for l := 1; l <= Depth; l++ {
		p := dig(v.EmptyRoots[l-1])
		if dig(v.EmptyRoots[l]) != hash.Compress(p, p) {
			t.Fatalf("empty_roots[%d] is not Compress(empty_roots[%d], itself)", l, l-1)
		}
	}
	m := map[uint64]hash.Digest{}
	for i, in := range v.Tree.LeafInputs {
		e := make([]koalabear.Element, len(in))
		for j := range in {
			e[j].SetUint64(uint64(in[j]))
		}
		if hash.HashLeaf(e) != dig(v.Tree.Leaves[i]) {
			t.Fatalf("leaf %d is not HashLeaf(leaf_inputs[%d])", i, i)
		}
		m[uint64(i)] = dig(v.Tree.Leaves[i])
	}
	root := dig(v.Tree.Root)
	if statetest.NaiveRoot(m) != root {
		t.Fatal("root is not the model's root of the leaves")
	}
	var sib [Depth]hash.Digest
	if len(v.Tree.Proof.Siblings) != Depth {
		t.Fatalf("proof has %d siblings", len(v.Tree.Proof.Siblings))
	}
	for l, s := range v.Tree.Proof.Siblings {
		sib[l] = dig(s)
	}
	if err := VerifyProof(root, v.Tree.Proof.Index, dig(v.Tree.Proof.Leaf), sib); err != nil {
		t.Fatal(err)
	}
}
