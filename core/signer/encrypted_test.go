package signer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/keystore"
	"github.com/trellis-chain/trellis/protocol/bls"
)

// cheap keeps the tests fast; the default parameters are measured in
// core/keystore.
var cheap = keystore.Params{N: 1 << 10, R: 8, P: 1}

// TestEncryptedKeyFiles: both key files encrypt in place, load only with
// the passphrase from the environment, keep their public key readable,
// and refuse every edit an attacker with the file could make.
func TestEncryptedKeyFiles(t *testing.T) {
	dir := t.TempDir()
	nodePath, blsPath := filepath.Join(dir, NodeKeyFile), filepath.Join(dir, BLSKeyFile)
	priv, err := NewNodeKeyFile(nodePath)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewBLSKeyFile(blsPath); err != nil {
		t.Fatal(err)
	}
	sk, err := LoadBLSKey(blsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{nodePath, blsPath} {
		if err := EncryptKeyFile(p, "correct horse", cheap); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(p)
		if bytes.Contains(raw, []byte(`"private_key"`)) || !bytes.Contains(raw, []byte(`"public_key"`)) {
			t.Fatalf("%s after encryption:\n%s", p, raw)
		}
		if err := EncryptKeyFile(p, "again", cheap); err == nil {
			t.Fatal("encrypted an encrypted file")
		}
	}

	t.Setenv(PassphraseEnv, "")
	if _, err := LoadNodeKey(nodePath); !errors.Is(err, ErrKeyLocked) || !strings.Contains(err.Error(), PassphraseEnv) || !strings.Contains(err.Error(), nodePath) {
		t.Fatalf("no passphrase: %v", err)
	}
	t.Setenv(PassphraseEnv, "wrong")
	if _, err := LoadBLSKey(blsPath); !errors.Is(err, keystore.ErrWrongPassphrase) || !strings.Contains(err.Error(), blsPath) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	t.Setenv(PassphraseEnv, "correct horse")
	got, err := LoadNodeKey(nodePath)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("node key after encryption: %v", err)
	}
	gotSK, err := LoadBLSKey(blsPath)
	if err != nil || gotSK.PublicKey().Bytes() != sk.PublicKey().Bytes() {
		t.Fatalf("bls key after encryption: %v", err)
	}

	// What an attacker holding the file can do to it.
	orig, _ := os.ReadFile(blsPath)
	edit := func(f func(*keyFile)) []byte {
		var kf keyFile
		if err := json.Unmarshal(orig, &kf); err != nil {
			t.Fatal(err)
		}
		f(&kf)
		b, _ := json.Marshal(kf)
		return b
	}
	other, _ := bls.GenerateKey(strings.NewReader(strings.Repeat("x", 64)))
	otherPub := other.PublicKey().Bytes()
	otherHex := hex.EncodeToString(otherPub[:])
	for name, data := range map[string][]byte{
		"flipped ciphertext": edit(func(kf *keyFile) { kf.Encrypted.Ciphertext[3] ^= 1 }),
		"another public key": edit(func(kf *keyFile) { kf.PublicKey = otherHex }),
		"hostile scrypt":     edit(func(kf *keyFile) { kf.Encrypted.KDF.N = 1 << 30 }),
		"short salt":         edit(func(kf *keyFile) { kf.Encrypted.KDF.Salt = kf.Encrypted.KDF.Salt[:4] }),
		"both forms":         edit(func(kf *keyFile) { kf.PrivateKey = "00" }),
	} {
		if _, err := parseBLSKey(data); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}

	for _, p := range []string{nodePath, blsPath} {
		if err := DecryptKeyFile(p, "wrong"); err == nil {
			t.Fatal("decrypted with a wrong passphrase")
		}
		if err := DecryptKeyFile(p, "correct horse"); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(PassphraseEnv, "")
	if got, err := LoadNodeKey(nodePath); err != nil || !got.Equal(priv) {
		t.Fatalf("node key after decryption: %v", err)
	}
}
