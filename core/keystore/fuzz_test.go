package keystore

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// FuzzDecodeFile feeds arbitrary bytes to the key file decoder: it must
// never panic, and what it accepts must encode and decode to the same file.
func FuzzDecodeFile(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Seed()
	kf, err := seal("seed", seed, "pw", light)
	if err != nil {
		f.Fatal(err)
	}
	valid, _ := kf.encode()
	f.Add(valid)
	f.Add(bytes.Replace(valid, []byte(`"version": 1`), []byte(`"version": 2`), 1))
	f.Add(bytes.Replace(valid, []byte(`"n": 16`), []byte(`"n": 1073741824`), 1))
	f.Add([]byte(`{"type":"ed25519","public_key":"00","private_key":"00"}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"kdf":{"n":-1}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := decodeFile("fuzz.json", data)
		if err != nil {
			return
		}
		again, err := kf.encode()
		if err != nil {
			t.Fatal(err)
		}
		kf2, err := decodeFile("fuzz.json", again)
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v\n%s", err, again)
		}
		again2, _ := kf2.encode()
		if !bytes.Equal(again, again2) {
			t.Fatalf("encoding not stable:\n%s\n%s", again, again2)
		}
		_ = looksLikeKeyFile(data)
	})
}
