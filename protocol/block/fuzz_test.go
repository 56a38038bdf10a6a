package block

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzDecodeBlock checks that Decode never panics and that every block it
// accepts is canonical: it re-encodes to the input exactly.
func FuzzDecodeBlock(f *testing.F) {
	for _, b := range []*Block{blocks()["empty"], blocks()["mixed"], blocks()["bare chain"], blocks()["committed"]} {
		enc := b.Encode()
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(append(append([]byte(nil), enc...), 0))
	}
	h := (&Header{ChainID: "c"}).Encode()
	f.Add(binary.BigEndian.AppendUint32(append([]byte(nil), h...), MaxTxs+1))
	f.Add(binary.BigEndian.AppendUint32(append([]byte(nil), h...), 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Decode(in)
		if err != nil {
			if b != nil {
				t.Fatalf("Decode returned a block with error %v", err)
			}
			return
		}
		if out := b.Encode(); !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs\n in %x\nout %x", in, out)
		}
		if err := b.Header.Check(); err != nil {
			t.Fatalf("decoded header fails Check: %v", err)
		}
		_ = b.Hash()
		_ = b.ComputeTxRoot()
	})
}

// FuzzDecodeHeader checks the same for headers alone.
func FuzzDecodeHeader(f *testing.F) {
	for _, name := range []string{"full", "minimal", "genesis", "only consensus", "only commitments", "tx commitment"} {
		enc := headers()[name].Encode()
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(append(append([]byte(nil), enc...), 0))
	}
	bare := (&Header{ChainID: "c"}).Encode()
	bad := append([]byte(nil), bare...)
	bad[len(bad)-1] = MaxProofs + 1
	f.Add(bad)
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := DecodeHeader(in)
		if err != nil {
			if h != nil {
				t.Fatalf("DecodeHeader returned a header with error %v", err)
			}
			return
		}
		if out := h.Encode(); !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs\n in %x\nout %x", in, out)
		}
		if err := h.Check(); err != nil {
			t.Fatalf("decoded header fails Check: %v", err)
		}
	})
}

// FuzzDecodeReceipt checks the same for receipts.
func FuzzDecodeReceipt(f *testing.F) {
	for _, r := range receipts() {
		enc := r.Encode()
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(append(append([]byte(nil), enc...), 0))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeReceipt(in)
		if err != nil {
			if r != nil {
				t.Fatalf("DecodeReceipt returned a receipt with error %v", err)
			}
			return
		}
		if out := r.Encode(); !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs\n in %x\nout %x", in, out)
		}
	})
}
