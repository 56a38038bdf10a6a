package account

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json (only when an encoding or leaf layout changes on purpose)")

// The vectors file is what an independent implementation (a STARK prover's
// AIR, a GPU kernel, another client) checks itself against, so every field
// is explained inside the file.
type vectorFile struct {
	About    map[string]string `json:"about"`
	Accounts []accountVector   `json:"accounts"`
	Globals  []globalsVector   `json:"globals"`
}

type accountVector struct {
	Name         string   `json:"name"`
	Seed         string   `json:"ed25519_seed,omitempty"`
	PublicKey    string   `json:"ed25519_public_key,omitempty"`
	SystemName   string   `json:"system_name,omitempty"`
	AddressInput []uint32 `json:"address_input"`
	Address      string   `json:"address"`
	Balance      uint64   `json:"balance"`
	Nonce        uint64   `json:"nonce"`
	Bonded       uint64   `json:"bonded"`
	Locked       uint64   `json:"locked"`
	Record       string   `json:"record"`
	ExtraBytes   string   `json:"extra_bytes"`
	ExtraDigest  string   `json:"extra_digest"`
	LeafInput    []uint32 `json:"leaf_input"`
	Leaf         string   `json:"leaf"`
	LeafElements []uint32 `json:"leaf_elements"`
}

type globalsVector struct {
	Supply       uint64   `json:"supply"`
	Burned       uint64   `json:"burned"`
	Accounts     uint32   `json:"accounts"`
	Record       string   `json:"record"`
	LeafInput    []uint32 `json:"leaf_input"`
	Leaf         string   `json:"leaf"`
	LeafElements []uint32 `json:"leaf_elements"`
}

var vectorAbout = map[string]string{
	"params":               "Poseidon2 over KoalaBear p = 2130706433 (2^31 - 2^24 + 1), width 16, 6 full / 21 partial rounds, x^3 S-box, gnark-crypto v0.22.0 constants; HashWithTag(tag, x) is the Merkle-Damgard chain of protocol/hash (IV = [tag, len & 0xffffff, len >> 24, 0, 0, 0, 0, 0], 8 elements absorbed per Compress, last block zero-padded); protocol/hash/testdata/vectors.json pins the permutation itself",
	"elements":             "every *_input and *_elements list holds canonical field elements (integers in [0, p)), in order, as decimal numbers",
	"digest encoding":      "address, extra_digest and leaf are 32-byte digests in hex: 8 field elements, each 4 bytes little-endian of its canonical value",
	"ed25519_seed":         "RFC 8032 private key seed in hex; ed25519_public_key is the 32-byte public key it gives",
	"address_input":        "the 16 elements hashed into the address: the public key read as 16 little-endian 16-bit limbs (for a system account: one element per byte of system_name); address = HashWithTag(0x54524c05 TagAddress, address_input), or HashWithTag(0x54524c07 TagSystem, ...) for a system account",
	"balance/nonce/bonded": "the account's amounts as unsigned 64-bit integers; bonded is the self-bond as a validator",
	"locked":               "every token the account holds outside its balance (protocol/account Locked): self-bond + unbonding entries + prover bond + (for a validator) its delegation pool, Validator.Delegated (a delegator's delegations are shares of that pool and count at the validator); a batch conserves value when the sum over its leaf updates of the change in balance + locked equals the change in the globals supply",
	"record":               "the canonical account record stored in bbolt (protocol/account Encode, version 1, big-endian): version u8 | address [32] | balance u64 | nonce u64 | extra_bytes",
	"extra_bytes":          "the record's tail after the nonce, which the extra digest commits to: bonded u64, delegation count u16, delegations, unbonding count u16, unbonding entries, validator flag u8 and validator record, prover flag u8 and prover record, registered-prover count u16 and addresses, job count u16 and jobs (protocol/account Encode documents each layout)",
	"extra_digest":         "HashWithTag(0x54524c06 TagExtra, extra_bytes as 16-bit little-endian limbs, the last one zero-padded) when the account has a self-bond, any delegation, unbonding entry, validator or prover record, registered prover or job; all zeros otherwise",
	"leaf_input":           "the 29 elements of an account leaf: [kind = 1, address (8 elements), balance (4 limbs of 16 bits, least significant first), nonce (4 limbs), locked (4 limbs), extra_digest (8 elements)]; for globals the 11 elements [kind = 2, supply (4 limbs), burned (4 limbs), accounts low 16 bits, accounts high 16 bits]",
	"leaf":                 "the state-tree leaf digest: HashWithTag(0x54524c02 TagLeaf, leaf_input); leaf_elements is the same digest as 8 elements",
	"globals record":       "the canonical Globals record: version u8 = 1 | supply u64 | burned u64 | accounts u32, big-endian",
}

func elems(e []koalabear.Element) []uint32 {
	out := make([]uint32, len(e))
	for i := range e {
		out[i] = uint32(e[i].Uint64())
	}
	return out
}

func digestHex(d hash.Digest) string { b := d.Bytes(); return hex.EncodeToString(b[:]) }

func accountVec(name string, a *Account) accountVector {
	x := a.ExtraDigest()
	in := a.LeafInput()
	leaf := a.Leaf()
	return accountVector{
		Name: name, Address: hex.EncodeToString(a.Address[:]),
		Balance: a.Balance, Nonce: a.Nonce, Bonded: a.Bonded, Locked: a.Locked(),
		Record:      hex.EncodeToString(a.Encode()),
		ExtraBytes:  hex.EncodeToString(a.appendExtra(nil)),
		ExtraDigest: digestHex(x),
		LeafInput:   elems(in[:]), Leaf: digestHex(leaf), LeafElements: elems(leaf[:]),
	}
}

func keyVec(name string, seed byte, a *Account) accountVector {
	priv := key(seed)
	pub := priv.Public().(ed25519.PublicKey)
	a.Address = FromPublicKey(pub)
	v := accountVec(name, a)
	v.Seed = hex.EncodeToString(priv.Seed())
	v.PublicKey = hex.EncodeToString(pub)
	in := make([]koalabear.Element, 16)
	for i := range in {
		in[i].SetUint64(uint64(pub[2*i]) | uint64(pub[2*i+1])<<8)
	}
	v.AddressInput = elems(in)
	return v
}

func systemVec(name, sys string, a *Account) accountVector {
	a.Address = SystemAddress(sys)
	v := accountVec(name, a)
	v.SystemName = sys
	in := make([]koalabear.Element, len(sys))
	for i := range in {
		in[i].SetUint64(uint64(sys[i]))
	}
	v.AddressInput = elems(in)
	return v
}

func globalsVec(g Globals) globalsVector {
	leaf := g.Leaf()
	return globalsVector{
		Supply: g.Supply, Burned: g.Burned, Accounts: g.Accounts,
		Record:    hex.EncodeToString(g.Encode()),
		LeafInput: elems(globalsLeafInput(g)), Leaf: digestHex(leaf), LeafElements: elems(leaf[:]),
	}
}

func computeVectors() vectorFile {
	st := staked()
	st.Address = Address{}
	return vectorFile{
		About: vectorAbout,
		Accounts: []accountVector{
			keyVec("seed 32x01, plain", 0x01, &Account{Balance: 1_000_000_000, Nonce: 1}),
			keyVec("seed 32x01, empty", 0x01, &Account{}),
			keyVec("seed 32xff, maximal amounts", 0xff, &Account{Balance: math.MaxUint64, Nonce: math.MaxUint64 - 1, Bonded: 0x0001_0002_0003_0004}),
			keyVec("seed 32x02, validator with delegations and unbonding", 0x02, st),
			systemVec("treasury", "trellis/treasury", &Account{Balance: 5_000_000}),
			systemVec("prover escrow", "trellis/prover-escrow", &Account{}),
			keyVec("seed 32x03, prover", 0x03, prover()),
			systemVec("prover escrow with registry and jobs", "trellis/prover-escrow", escrow()),
		},
		Globals: []globalsVector{
			globalsVec(Globals{}),
			globalsVec(Globals{Supply: 1_000_000_000_000_000_000, Burned: 12345, Accounts: 70000}),
		},
	}
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.json")
	got := computeVectors()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	gb := buf.Bytes()
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, gb, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wb, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want vectorFile
	if err := json.Unmarshal(wb, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(want.Accounts) != len(got.Accounts) || len(want.Globals) != len(got.Globals) {
		t.Fatalf("%s holds %d accounts and %d globals, want %d and %d", path, len(want.Accounts), len(want.Globals), len(got.Accounts), len(got.Globals))
	}
	for i := range got.Accounts {
		g, w := mustJSON(t, got.Accounts[i]), mustJSON(t, want.Accounts[i])
		if !bytes.Equal(g, w) {
			t.Errorf("account vector %q changed: an address, record or leaf layout differs from %s\n got %s\nwant %s", got.Accounts[i].Name, path, g, w)
		}
	}
	for i := range got.Globals {
		g, w := mustJSON(t, got.Globals[i]), mustJSON(t, want.Globals[i])
		if !bytes.Equal(g, w) {
			t.Errorf("globals vector %d changed\n got %s\nwant %s", i, g, w)
		}
	}
	if !bytes.Equal(mustJSON(t, got.About), mustJSON(t, want.About)) {
		t.Errorf("the explanations in %s are stale: run go test ./protocol/account -run TestVectors -update", path)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The vectors must also agree with themselves: each record decodes to the
// listed amounts, and each leaf is HashLeaf of its listed input. This checks
// the file's inner consistency independently of the code that wrote it.
func TestVectorsConsistent(t *testing.T) {
	for _, v := range computeVectors().Accounts {
		rec, _ := hex.DecodeString(v.Record)
		a, err := Decode(rec)
		if err != nil {
			t.Fatalf("%s: record: %v", v.Name, err)
		}
		if hex.EncodeToString(a.Address[:]) != v.Address || a.Balance != v.Balance || a.Nonce != v.Nonce || a.Bonded != v.Bonded || a.Locked() != v.Locked {
			t.Fatalf("%s: record disagrees with the listed fields", v.Name)
		}
		if len(v.LeafInput) != LeafElements || len(v.AddressInput) == 0 {
			t.Fatalf("%s: %d leaf elements", v.Name, len(v.LeafInput))
		}
		in := make([]koalabear.Element, len(v.LeafInput))
		for i, x := range v.LeafInput {
			in[i].SetUint64(uint64(x))
		}
		if digestHex(hash.HashLeaf(in)) != v.Leaf {
			t.Fatalf("%s: leaf is not HashLeaf(leaf_input)", v.Name)
		}
		ai := make([]koalabear.Element, len(v.AddressInput))
		for i, x := range v.AddressInput {
			ai[i].SetUint64(uint64(x))
		}
		tag := hash.TagAddress
		if v.SystemName != "" {
			tag = hash.TagSystem
		}
		if digestHex(hash.HashWithTag(tag, ai)) != v.Address {
			t.Fatalf("%s: address is not the hash of address_input", v.Name)
		}
		xb, _ := hex.DecodeString(v.ExtraBytes)
		if !bytes.HasSuffix(rec, xb) {
			t.Fatalf("%s: extra_bytes is not the record's tail", v.Name)
		}
	}
}
