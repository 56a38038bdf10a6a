package bls

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
)

func keyFileJSON(t testing.TB, sk *SecretKey) []byte {
	t.Helper()
	skb, pkb := sk.Bytes(), sk.PublicKey().Bytes()
	b, err := json.MarshalIndent(keyFile{KeyFileType, hex.EncodeToString(pkb[:]), hex.EncodeToString(skb[:])}, "", "  ")
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
	sk, err := LoadKeyFile(path)
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
	if err := WriteKeyFile(path2, sk); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path2)
	if string(orig) != string(again) {
		t.Fatalf("WriteKeyFile output differs from init's:\n%s\nvs\n%s", again, orig)
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.json")
	sks, _ := testKeys(t, 2)
	for _, sk := range sks { // the second write replaces the first
		if err := WriteKeyFile(path, sk); err != nil {
			t.Fatal(err)
		}
		got, err := LoadKeyFile(path)
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
	if err := WriteKeyFile(filepath.Join(dir, "missing", "key.json"), sks[0]); err == nil {
		t.Fatal("WriteKeyFile into a missing directory succeeded")
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	sks, _ := testKeys(t, 2)
	good := func() map[string]string {
		skb, pkb := sks[0].Bytes(), sks[0].PublicKey().Bytes()
		return map[string]string{"type": KeyFileType, "public_key": hex.EncodeToString(pkb[:]), "private_key": hex.EncodeToString(skb[:])}
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
			_, err := LoadKeyFile(path)
			if !errors.Is(err, ErrSecretKey) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want ErrSecretKey naming %s and mentioning %q", err, path, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadKeyFile(filepath.Join(dir, "nope.json")); !errors.Is(err, fs.ErrNotExist) {
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
		if _, err := LoadKeyFile(path); !errors.Is(err, ErrSecretKey) {
			t.Fatalf("got %v, want ErrSecretKey", err)
		}
	})
}
