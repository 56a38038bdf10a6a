package keystore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
)

// light keeps tests fast; DefaultParams is exercised once in TestDefaultParams.
var light = Params{N: 16, R: 8, P: 1}

func open(t *testing.T) *Keystore {
	t.Helper()
	ks, err := Open(filepath.Join(t.TempDir(), "keys"), WithScrypt(light))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestNewShowUnlock(t *testing.T) {
	ks := open(t)
	st, err := os.Stat(ks.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode().Perm())
	}
	info, err := ks.New("alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "alice" || info.Address != account.FromPublicKey(info.PublicKey) || info.Path != filepath.Join(ks.Dir(), "alice.json") {
		t.Errorf("info %+v", info)
	}
	fst, err := os.Stat(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fst.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fst.Mode().Perm())
	}
	shown, err := ks.Show("alice")
	if err != nil {
		t.Fatal(err)
	}
	if shown.Address != info.Address || !bytes.Equal(shown.PublicKey, info.PublicKey) || shown.Scheme != SchemeEd25519 {
		t.Errorf("show %+v, new %+v", shown, info)
	}
	priv, err := ks.Unlock("alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), info.PublicKey) {
		t.Error("unlocked key does not match the public key")
	}
	// Reopening the directory finds the key; no temporary files remain.
	ks2, err := Open(ks.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks2.Unlock("alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(ks.Dir())
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
	// The file is the documented format.
	var m map[string]any
	data, _ := os.ReadFile(info.Path)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "name", "address", "public_key", "kdf", "cipher", "ciphertext"} {
		if _, ok := m[k]; !ok {
			t.Errorf("file has no %q", k)
		}
	}
	if m["version"] != 1.0 || m["kdf"].(map[string]any)["name"] != "scrypt" || m["cipher"].(map[string]any)["name"] != "xchacha20-poly1305" {
		t.Errorf("file %s", data)
	}
	if bytes.Contains(data, []byte("correct horse")) {
		t.Error("passphrase in the file")
	}
}

func TestImport(t *testing.T) {
	ks := open(t)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	info, err := ks.Import("imported_1", priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(info.PublicKey, pub) || info.Address != account.FromPublicKey(pub) {
		t.Errorf("info %+v", info)
	}
	got, err := ks.Unlock("imported_1", "")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) {
		t.Error("unlocked key differs from the imported one")
	}
	bad := bytes.Clone(priv)
	bad[40] ^= 1 // public half no longer matches the seed
	for _, k := range []ed25519.PrivateKey{priv[:32], bad, nil} {
		if _, err := ks.Import("other", k, "x"); !errors.Is(err, ErrKey) {
			t.Errorf("import of a bad key: %v, want ErrKey", err)
		}
	}
}

func TestErrors(t *testing.T) {
	ks := open(t)
	if _, err := ks.New("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		text string
		do   func() error
	}{
		{"exists", ErrExists, `"alice" in ` + ks.Dir(), func() error { _, err := ks.New("alice", "pw"); return err }},
		{"not found show", ErrNotFound, `no key "bob" in ` + ks.Dir(), func() error { _, err := ks.Show("bob"); return err }},
		{"not found unlock", ErrNotFound, ks.Dir(), func() error { _, err := ks.Unlock("bob", "pw"); return err }},
		{"wrong passphrase", ErrWrongPassphrase, "wrong passphrase for key alice", func() error { _, err := ks.Unlock("alice", "PW"); return err }},
		{"name upper", ErrName, "Alice", func() error { _, err := ks.New("Alice", "pw"); return err }},
		{"name empty", ErrName, "1 to 64", func() error { _, err := ks.New("", "pw"); return err }},
		{"name long", ErrName, "1 to 64", func() error { _, err := ks.New(strings.Repeat("a", 65), "pw"); return err }},
		{"name path", ErrName, "../x", func() error { _, err := ks.Show("../x"); return err }},
		{"name dot", ErrName, "a.b", func() error { _, err := ks.Unlock("a.b", "pw"); return err }},
		{"params", ErrParams, "power of two", func() error { _, err := Open(t.TempDir(), WithScrypt(Params{N: 1000, R: 8, P: 1})); return err }},
		{"params memory", ErrParams, "MiB", func() error { _, err := Open(t.TempDir(), WithScrypt(Params{N: 1 << 20, R: 16, P: 1})); return err }},
	} {
		err := tc.do()
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, err, tc.err, tc.text)
		}
	}
	// Names at the limits are fine.
	for _, n := range []string{"a", strings.Repeat("z", 64), "a_b-9"} {
		if err := CheckName(n); err != nil {
			t.Errorf("CheckName(%q): %v", n, err)
		}
	}
}

// TestSwappedFiles checks that the name and address are bound to the
// ciphertext: a file copied under another name, or edited to claim another
// identity, never decrypts.
func TestSwappedFiles(t *testing.T) {
	ks := open(t)
	a, _ := ks.New("alice", "pw")
	b, _ := ks.New("bob", "pw")
	aliceData, _ := os.ReadFile(a.Path)
	bobData, _ := os.ReadFile(b.Path)

	// Copied under another name: refused before decryption.
	if err := os.WriteFile(filepath.Join(ks.Dir(), "carol.json"), aliceData, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Show("carol"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `holds key "alice", not "carol"`) {
		t.Errorf("copied file: %v", err)
	}
	// Copied and its name field edited: reads, but does not decrypt.
	edited := bytes.Replace(aliceData, []byte(`"name": "alice"`), []byte(`"name": "carol"`), 1)
	if err := os.WriteFile(filepath.Join(ks.Dir(), "carol.json"), edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Show("carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Unlock("carol", "pw"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("renamed file: %v, want ErrWrongPassphrase", err)
	}
	// Alice's file made to show Bob's address and key: does not decrypt.
	var fa, fb keyFile
	_ = json.Unmarshal(aliceData, &fa)
	_ = json.Unmarshal(bobData, &fb)
	fa.Address, fa.PublicKey = fb.Address, fb.PublicKey
	swapped, _ := fa.encode()
	if err := os.WriteFile(a.Path, swapped, 0o600); err != nil {
		t.Fatal(err)
	}
	if info, err := ks.Show("alice"); err != nil || info.Address != b.Address {
		t.Fatalf("show: %v %v", info, err)
	}
	if _, err := ks.Unlock("alice", "pw"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("swapped identity: %v, want ErrWrongPassphrase", err)
	}
}

// writeVariant writes a valid file for name changed by edit, and returns its path.
func writeVariant(t *testing.T, ks *Keystore, name string, edit func(m map[string]any)) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	f, err := seal(name, priv.Seed(), "pw", light)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := f.encode()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, _ = json.Marshal(m)
	p := filepath.Join(ks.Dir(), name+".json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCorrupt(t *testing.T) {
	ks := open(t)
	sub := func(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
	for _, tc := range []struct {
		name string
		what string
		edit func(m map[string]any)
	}{
		{"version", "version 3, this build reads versions 1 (ed25519) and 2 (hash-based)", func(m map[string]any) { m["version"] = 3 }},
		{"v2-with-ed25519-key", "public_key", func(m map[string]any) { m["version"] = 2 }},
		{"noversion", "no version field", func(m map[string]any) { delete(m, "version") }},
		{"unknown", "unknown field", func(m map[string]any) { m["extra"] = 1 }},
		{"pubkey", "public_key is 31 bytes", func(m map[string]any) { m["public_key"] = strings.Repeat("ab", 31) }},
		{"pubhex", "not hex", func(m map[string]any) { m["public_key"] = "zz" }},
		{"address", "is not the address of public_key", func(m map[string]any) {
			m["address"] = account.FromPublicKey(make([]byte, 32)).String()
		}},
		{"badaddress", "invalid address", func(m map[string]any) { m["address"] = "0x12" }},
		{"kdf", `kdf "argon2"`, func(m map[string]any) { sub(m, "kdf")["name"] = "argon2" }},
		{"kdfn", "power of two", func(m map[string]any) { sub(m, "kdf")["n"] = 3 }},
		{"kdfhuge", "power of two from 2 to", func(m map[string]any) { sub(m, "kdf")["n"] = 1 << 30 }},
		{"kdfp", "p=0", func(m map[string]any) { sub(m, "kdf")["p"] = 0 }},
		{"salt", "salt is 4 bytes", func(m map[string]any) { sub(m, "kdf")["salt"] = "00112233" }},
		{"cipher", `cipher "aes-gcm"`, func(m map[string]any) { sub(m, "cipher")["name"] = "aes-gcm" }},
		{"nonce", "nonce is 12 bytes", func(m map[string]any) { sub(m, "cipher")["nonce"] = strings.Repeat("00", 12) }},
		{"ciphertext", "ciphertext is 47 bytes", func(m map[string]any) { m["ciphertext"] = strings.Repeat("00", 47) }},
		{"name", "invalid key name", func(m map[string]any) { m["name"] = "Bad Name" }},
	} {
		p := writeVariant(t, ks, tc.name, tc.edit)
		_, err := ks.Show(tc.name)
		var ce *CorruptError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Path != p || !strings.Contains(err.Error(), tc.what) {
			t.Errorf("%s: %v, want ErrCorrupt at %s saying %q", tc.name, err, p, tc.what)
		}
		if _, err := ks.Unlock(tc.name, "pw"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: unlock: %v, want ErrCorrupt", tc.name, err)
		}
	}
	// Not JSON, and a directory in place of a file.
	if err := os.WriteFile(filepath.Join(ks.Dir(), "junk.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Show("junk"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("junk: %v", err)
	}
	if err := os.Mkdir(filepath.Join(ks.Dir(), "dir.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Show("dir"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("dir: %v", err)
	}
	// A ciphertext flipped in one bit does not decrypt.
	p := writeVariant(t, ks, "flipped", func(m map[string]any) {
		c := []byte(m["ciphertext"].(string))
		if c[0] == '0' { // one hex digit changes, to another hex digit
			c[0] = '1'
		} else {
			c[0] = '0'
		}
		m["ciphertext"] = string(c)
	})
	if _, err := ks.Unlock("flipped", "pw"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("%s: %v, want ErrWrongPassphrase", p, err)
	}
}

func TestList(t *testing.T) {
	ks := open(t)
	if infos, err := ks.List(); err != nil || len(infos) != 0 {
		t.Fatalf("empty: %v %v", infos, err)
	}
	for _, n := range []string{"zed", "alice", "m-1"} {
		if _, err := ks.New(n, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	// Files that are not keystore files are skipped: the plain node keys of
	// `trellis init`, other extensions, bad names.
	for name, body := range map[string]string{
		"node_key.json":          `{"type":"ed25519","public_key":"00","private_key":"00"}`,
		"validator_bls_key.json": `{"type":"bls12-381-g1","public_key":"00","private_key":"00"}`,
		"notes.txt":              "hello",
		"Upper.json":             "{}",
	} {
		if err := os.WriteFile(filepath.Join(ks.Dir(), name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := ks.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range infos {
		names = append(names, i.Name)
	}
	if strings.Join(names, ",") != "alice,m-1,zed" {
		t.Errorf("list %v", names)
	}
	// A damaged key file is reported without hiding the others.
	bad := writeVariant(t, ks, "broken", func(m map[string]any) { m["ciphertext"] = "00" })
	infos, err = ks.List()
	if len(infos) != 3 || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), bad) {
		t.Errorf("list with a broken file: %d keys, %v", len(infos), err)
	}
}

func TestConcurrentNew(t *testing.T) {
	ks := open(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = ks.New("same", "pw") })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d creations succeeded, want 1", ok)
	}
	if _, err := ks.Unlock("same", "pw"); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultParams(t *testing.T) {
	ks, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	info, err := ks.New("dflt", "pw")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(info.Path)
	f, err := decodeFile(info.Path, data)
	if err != nil {
		t.Fatal(err)
	}
	if f.KDF.N != 1<<15 || f.KDF.R != 8 || f.KDF.P != 1 || len(f.KDF.Salt) != 32 {
		t.Errorf("kdf %+v", f.KDF)
	}
	if _, err := ks.Unlock("dflt", "pw"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkUnlockDefault(b *testing.B) {
	ks, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ks.New("bench", "pw"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ks.Unlock("bench", "pw"); err != nil {
			b.Fatal(err)
		}
	}
}
