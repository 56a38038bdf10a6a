package signer

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/vote"
)

// initFormat is a node key file exactly as `trellis init` writes it.
func initFormat(k ed25519.PrivateKey) string {
	return `{
  "type": "ed25519",
  "public_key": "` + hex.EncodeToString(k.Public().(ed25519.PublicKey)) + `",
  "private_key": "` + hex.EncodeToString(k.Seed()) + `"
}
`
}

func TestLoadNodeKey(t *testing.T) {
	dir := t.TempDir()
	k := nodeKey(4)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := initFormat(k)
	pub := hex.EncodeToString(k.Public().(ed25519.PublicKey))
	seed := hex.EncodeToString(k.Seed())
	cases := []struct {
		name, content string
		msg           string
	}{
		{"not json", "ed25519 " + seed, "not a key file"},
		{"wrong type", strings.Replace(good, `"ed25519"`, `"bls12-381-g1"`, 1), `type "bls12-381-g1"`},
		{"seed not hex", strings.Replace(good, seed, "zz"+seed[2:], 1), "private_key is not hex"},
		{"full private key instead of seed", strings.Replace(good, seed, hex.EncodeToString(k), 1), "private_key must be 32 bytes"},
		{"short seed", strings.Replace(good, seed, seed[:62], 1), "private_key must be 32 bytes"},
		{"public key of another seed", strings.Replace(good, pub, hex.EncodeToString(nodeKey(5).Public().(ed25519.PublicKey)), 1), "is not the private key's"},
		{"public key not hex", strings.Replace(good, pub, "xyz", 1), "public_key is not hex"},
		{"too large", strings.Repeat(" ", maxKeyFileSize+1), "larger than"},
	}
	got, err := LoadNodeKey(write("good.json", good))
	if err != nil || !got.Equal(k) {
		t.Fatalf("init's format: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(c.name, " ", "_")+".json", c.content)
			_, err := LoadNodeKey(p)
			if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want ErrKeyFile saying %q and naming the file", err, c.msg)
			}
		})
	}
	if _, err := LoadNodeKey(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestWriteNodeKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), NodeKeyFile)
	k := nodeKey(6)
	if err := WriteNodeKey(p, k); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != initFormat(k) {
		t.Fatalf("WriteNodeKey wrote\n%s\nwant init's format\n%s", b, initFormat(k))
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	got, err := LoadNodeKey(p)
	if err != nil || !bytes.Equal(got, k) {
		t.Fatalf("round trip: %v", err)
	}
	if err := WriteNodeKey(p, k[:10]); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("short key: %v", err)
	}
}

// Open loads both key files from the key directory.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "node.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(db, dir); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), BLSKeyFile) {
		t.Fatalf("no key files: %v", err)
	}
	if err := WriteBLSKey(filepath.Join(dir, BLSKeyFile), blsKey(t, 8)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(db, dir); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), NodeKeyFile) {
		t.Fatalf("no node key: %v", err)
	}
	if err := WriteNodeKey(filepath.Join(dir, NodeKeyFile), nodeKey(8)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicKeys().BLSPublicKey != blsKey(t, 8).PublicKey().Bytes() {
		t.Fatal("wrong BLS key")
	}
	if _, _, err := s.SignConsensus(msg(1, 0, vote.StepPrevote, 1)); err != nil {
		t.Fatal(err)
	}
}
