package hashsig

import (
	"bytes"
	"testing"
)

func FuzzParseSignature(f *testing.F) {
	k := testKey(f, 6, 2)
	sig, err := k.SignAt(1, msgOf("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig.Bytes())
	f.Add(sig.Bytes()[:40])
	f.Add([]byte{20})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSignature(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Bytes(), b) {
			t.Fatal("decoding is not canonical")
		}
		_ = Verify(k.Public(), msgOf("fuzz"), s) // must not panic
	})
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add(testKey(f, 6, 2).Public().Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublicKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatal("decoding is not canonical")
		}
	})
}
