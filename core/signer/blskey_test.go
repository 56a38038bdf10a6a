package signer

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
	"github.com/trellis-chain/trellis/protocol/bls"
)

func keyFileJSON(t testing.TB, sk *bls.SecretKey) []byte {
	t.Helper()
	skb, pkb := sk.Bytes(), sk.PublicKey().Bytes()
	b, err := json.MarshalIndent(keyFile{Type: BLSKeyType, PublicKey: hex.EncodeToString(pkb[:]), PrivateKey: hex.EncodeToString(skb[:])}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// initStyleKeyFile writes a key file the way cmd/trellis/init.go does
// (writeBLSKey), independently of this package's code.
func initStyleKeyFile(t *testing.T, path string) (skHex, pkHex string) {
	t.Helper()
	var sk fr.Element
	if _, err := sk.SetRandom(); err != nil {
		t.Fatal(err)
	}
	_, _, g1, _ := bls12381.Generators()
	var pk bls12381.G1Affine
	pk.ScalarMultiplication(&g1, sk.BigInt(new(big.Int)))
	pkb, skb := pk.Bytes(), sk.Bytes()
	type initKeyFile struct {
		Type       string `json:"type"`
		PublicKey  string `json:"public_key"`
		PrivateKey string `json:"private_key"`
	}
	b, err := json.MarshalIndent(initKeyFile{"bls12-381-g1", hex.EncodeToString(pkb[:]), hex.EncodeToString(skb[:])}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(skb[:]), hex.EncodeToString(pkb[:])
}

func TestLoadInitKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "validator_bls_key.json")
	skHex, pkHex := initStyleKeyFile(t, path)
	sk, err := LoadBLSKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b := sk.Bytes()
	if hex.EncodeToString(b[:]) != skHex || sk.PublicKey().String() != pkHex {
		t.Fatal("loaded key differs from what init wrote")
	}
	// Rewriting it gives the same bytes init wrote.
	orig, _ := os.ReadFile(path)
	path2 := filepath.Join(t.TempDir(), "rewritten.json")
	if err := WriteBLSKey(path2, sk); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path2)
	if string(orig) != string(again) {
		t.Fatalf("WriteBLSKey output differs from init's:\n%s\nvs\n%s", again, orig)
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.json")
	sks, _ := blsTestKeys(t, 2)
	for _, sk := range sks { // the second write replaces the first
		if err := WriteBLSKey(path, sk); err != nil {
			t.Fatal(err)
		}
		got, err := LoadBLSKey(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Bytes() != sk.Bytes() {
			t.Fatal("round trip changed the key")
		}
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := WriteBLSKey(filepath.Join(dir, "missing", "key.json"), sks[0]); err == nil {
		t.Fatal("WriteBLSKey into a missing directory succeeded")
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	sks, _ := blsTestKeys(t, 2)
	good := func() map[string]string {
		skb, pkb := sks[0].Bytes(), sks[0].PublicKey().Bytes()
		return map[string]string{"type": BLSKeyType, "public_key": hex.EncodeToString(pkb[:]), "private_key": hex.EncodeToString(skb[:])}
	}
	with := func(k, v string) []byte {
		m := good()
		m[k] = v
		b, _ := json.Marshal(m)
		return b
	}
	otherPK := sks[1].PublicKey().String()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("hello"), "not a key file"},
		{"empty", nil, "not a key file"},
		{"wrong type", with("type", "ed25519"), `type "ed25519"`},
		{"private key not hex", with("private_key", "xyz"), "private_key is not hex"},
		{"private key short", with("private_key", "0102"), "2 bytes"},
		{"private key zero", with("private_key", strings.Repeat("00", 32)), "zero"},
		{"private key above r", with("private_key", strings.Repeat("ff", 32)), "group order"},
		{"public key not hex", with("public_key", "xyz"), "public_key is not hex"},
		{"public key of another key", with("public_key", otherPK), "is not the private key's public key"},
		{"public key missing", with("public_key", ""), "is not the private key's public key"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "k"+string(rune('a'+i))+".json")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadBLSKey(path)
			if !errors.Is(err, bls.ErrSecretKey) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want bls.ErrSecretKey naming %s and mentioning %q", err, path, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadBLSKey(filepath.Join(dir, "nope.json")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		path := filepath.Join(dir, "big.json")
		big := make([]byte, maxKeyFileSize+1)
		_, _ = rand.Read(big)
		if err := os.WriteFile(path, big, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadBLSKey(path); !errors.Is(err, bls.ErrSecretKey) {
			t.Fatalf("got %v, want bls.ErrSecretKey", err)
		}
	})
}

// blsTestKeys returns n distinct BLS keys from fixed seeds.
func blsTestKeys(t testing.TB, n int) ([]*bls.SecretKey, []bls.PublicKey) {
	t.Helper()
	sks := make([]*bls.SecretKey, n)
	pks := make([]bls.PublicKey, n)
	for i := range sks {
		sks[i] = blsKey(t, byte(i+1))
		pks[i] = sks[i].PublicKey()
	}
	return sks, pks
}

// FuzzBLSKeyFile feeds arbitrary file contents to the key file parser.
func FuzzBLSKeyFile(f *testing.F) {
	sks, _ := blsTestKeys(f, 1)
	f.Add(keyFileJSON(f, sks[0]))
	f.Add([]byte(`{"type":"bls12-381-g1","public_key":"","private_key":""}`))
	f.Add([]byte(`{"type":"ed25519"}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"type":"bls12-381-g1","private_key":"0000000000000000000000000000000000000000000000000000000000000001","public_key":"97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sk, err := parseBLSKey(data)
		if err != nil {
			if !errors.Is(err, bls.ErrSecretKey) {
				t.Fatalf("error %v does not wrap ErrSecretKey", err)
			}
			return
		}
		if b := sk.Bytes(); b == ([bls.SecretKeySize]byte{}) {
			t.Fatal("accepted a zero key")
		}
	})
}
