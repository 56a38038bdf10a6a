package wire

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

var errBad = errors.New("bad")

func TestReads(t *testing.T) {
	b := []byte{7, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b'}
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendUvarint(b, 2)
	b = append(b, 'x', 'y')
	r := NewReader(b, errBad)
	var fixed [2]byte
	if r.U8() != 7 || r.U16() != 1 || r.U32() != 2 || r.U64() != 3 {
		t.Fatal("integers")
	}
	r.Fixed(fixed[:])
	if string(fixed[:]) != "ab" || r.Uvarint() != 300 || string(r.Bytes(2)) != "xy" || r.Done() != nil {
		t.Fatalf("rest: %v", r.Err())
	}
}

// Each refusal wraps the sentinel, names the field and sticks.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		read func(r *Reader)
		msg  string
	}{
		{"truncated", []byte{1, 2, 3}, func(r *Reader) { r.At("height").U64() }, "height truncated at byte 0: need 8 bytes, have 3"},
		{"negative take", []byte{1}, func(r *Reader) { r.Take(-1) }, "truncated"},
		{"trailing", []byte{1, 2}, func(r *Reader) { r.U8(); _ = r.Done() }, "1 trailing bytes"},
		{"bad varint", []byte{0x80}, func(r *Reader) { r.Uvarint() }, "bad varint"},
		{"non-minimal varint", []byte{0x81, 0x00}, func(r *Reader) { r.Uvarint() }, "non-minimal"},
		{"over limit", []byte{5, 1, 2, 3, 4, 5}, func(r *Reader) { r.At("data").Bytes(4) }, "data: length 5 over limit 4"},
		{"length past the end", []byte{5, 1}, func(r *Reader) { r.Bytes(10) }, "need 5 bytes, have 1"},
	} {
		r := NewReader(tc.b, errBad)
		tc.read(&r)
		if err := r.Err(); !errors.Is(err, errBad) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want bad: …%s", tc.name, err, tc.msg)
		}
		if r.U8() != 0 || r.Take(0) != nil {
			t.Errorf("%s: a read after a failure returned data", tc.name)
		}
	}
}

// FuzzReader: no input makes a read panic or allocate beyond its limit.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0x81, 0x01, 1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b, errBad)
		for r.Err() == nil && r.Len() > 0 {
			if v := r.Bytes(64); len(v) > 64 {
				t.Fatalf("Bytes returned %d bytes over its limit", len(v))
			}
			r.U16()
		}
		if err := r.Done(); err != nil && !errors.Is(err, errBad) {
			t.Fatal(err)
		}
	})
}
