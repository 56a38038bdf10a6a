package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/signer"
)

// TestE2EEncryptedNodeKeys: `keys encrypt-node` encrypts a node's key
// files in place; `trellis run` then refuses to start without the
// passphrase, naming the file and the variable, starts with it, and
// decrypt-node brings the plaintext files back.
func TestE2EEncryptedNodeKeys(t *testing.T) {
	b := buildBinaries(t)
	dir, cfg := initNode(t, b)
	keys := filepath.Join(dir, "keys")
	t.Setenv(signer.PassphraseEnv, "correct horse battery")
	out, errOut, code := trellisCLI(t, b.trellis, dir, "keys", "encrypt-node", "-dir", keys)
	if code != 0 || strings.Count(out, "encrypted ") != 2 {
		t.Fatalf("encrypt-node: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []string{signer.NodeKeyFile, signer.BLSKeyFile} {
		raw, err := os.ReadFile(filepath.Join(keys, f))
		if err != nil || strings.Contains(string(raw), `"private_key"`) || !strings.Contains(string(raw), `"ciphertext"`) {
			t.Fatalf("%s after encrypt-node: %v\n%s", f, err, raw)
		}
	}

	t.Setenv(signer.PassphraseEnv, "")
	n := startRun(t, b, dir, cfg)
	if code := n.exitCode(t); code == 0 {
		t.Fatal("the node started with encrypted keys and no passphrase")
	}
	if s := n.stderr.String() + n.stdout.String(); !(strings.Contains(s, filepath.Join(keys, signer.NodeKeyFile)) || strings.Contains(s, filepath.Join(keys, signer.BLSKeyFile))) ||
		!strings.Contains(s, signer.PassphraseEnv) {
		t.Fatalf("the refusal does not name the file and the variable:\n%s", s)
	}

	t.Setenv(signer.PassphraseEnv, "correct horse battery")
	n = startRun(t, b, dir, cfg)
	waitHealth(t, n.healthURL(t), "the node up with decrypted keys", func(h health) bool { return len(h.Plugins) > 0 })

	_ = n.cmd.Process.Kill()
	n.exitCode(t)
	if out, errOut, code := trellisCLI(t, b.trellis, dir, "keys", "decrypt-node", "-dir", keys); code != 0 {
		t.Fatalf("decrypt-node: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := signer.LoadNodeKey(filepath.Join(keys, signer.NodeKeyFile)); err != nil {
		t.Fatalf("after decrypt-node: %v", err)
	}
}
