package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"bank", true},
		{"consensus-bft", true},
		{"prover.gpu_2", true},
		{"0day", true},
		{strings.Repeat("a", MaxNameLen), true},
		{strings.Repeat("a", MaxNameLen+1), false},
		{"", false},
		{".", false},
		{"..", false},
		{"-x", false},
		{"_x", false},
		{".hidden", false},
		{"Bank", false},
		{"a/b", false},
		{"a b", false},
		{"a\x00", false},
		{"naïve", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.name)
			if tt.ok && err != nil {
				t.Fatalf("ValidateName(%q) = %v, want nil", tt.name, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidName) {
				t.Fatalf("ValidateName(%q) = %v, want ErrInvalidName", tt.name, err)
			}
		})
	}
}

func TestValidateBatch(t *testing.T) {
	key := []byte("k")
	big := bytes.Repeat([]byte{1}, MaxValueSize)
	many := func(n int) []Op {
		ops := make([]Op, n)
		for i := range ops {
			ops[i] = PutOp(key, nil)
		}
		return ops
	}
	tests := []struct {
		name  string
		ops   []Op
		want  error // nil for valid
		what  string
		index int
	}{
		{"empty batch", nil, nil, "", 0},
		{"one put", []Op{PutOp(key, []byte("v"))}, nil, "", 0},
		{"put empty value", []Op{PutOp(key, nil)}, nil, "", 0},
		{"delete", []Op{DeleteOp(key)}, nil, "", 0},
		{"max key", []Op{PutOp(bytes.Repeat([]byte{'k'}, MaxKeySize), nil)}, nil, "", 0},
		{"max value", []Op{PutOp(key, big)}, nil, "", 0},
		{"max ops", many(MaxBatchOps), nil, "", 0},
		{"empty key", []Op{PutOp(key, nil), PutOp(nil, []byte("v"))}, ErrInvalidKey, "key", 1},
		{"key too long", []Op{DeleteOp(bytes.Repeat([]byte{'k'}, MaxKeySize+1))}, ErrInvalidKey, "key", 0},
		{"value too large", []Op{PutOp(key, nil), PutOp(key, nil), PutOp(key, append(big, 0))}, ErrValueTooLarge, "value", 2},
		{"too many ops", many(MaxBatchOps + 1), ErrBatchTooLarge, "batch ops", -1},
		{"too many bytes", func() []Op {
			var ops []Op
			for range MaxBatchBytes/MaxValueSize + 1 {
				ops = append(ops, PutOp(key, big))
			}
			return ops
		}(), ErrBatchTooLarge, "batch bytes", MaxBatchBytes/MaxValueSize - 1}, // keys count too
		{"unknown kind", []Op{{Kind: 0, Key: key}}, ErrInvalidOp, "op kind", 0},
		{"kind 3", []Op{PutOp(key, nil), {Kind: 3, Key: key}}, ErrInvalidOp, "op kind", 1},
		{"delete with value", []Op{{Kind: OpDelete, Key: key, Value: []byte("x")}}, ErrInvalidOp, "delete value", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateBatch(tt.ops)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidateBatch = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("ValidateBatch = %v, want %v", err, tt.want)
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("ValidateBatch = %T, want *LimitError", err)
			}
			if le.What != tt.what || le.Index != tt.index {
				t.Fatalf("LimitError{What: %q, Index: %d}, want {%q, %d}; message %q", le.What, le.Index, tt.what, tt.index, err)
			}
			if err.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
}

func TestCheckScan(t *testing.T) {
	long := bytes.Repeat([]byte{'p'}, MaxKeySize+1)
	tests := []struct {
		name               string
		prefix, startAfter []byte
		limit              int
		want               error
	}{
		{"all", nil, nil, 1, nil},
		{"max limit", []byte("a"), []byte("b"), MaxScanLimit, nil},
		{"max prefix", long[:MaxKeySize], long[:MaxKeySize], 10, nil},
		{"zero limit", nil, nil, 0, ErrInvalidLimit},
		{"negative limit", nil, nil, -1, ErrInvalidLimit},
		{"limit too large", nil, nil, MaxScanLimit + 1, ErrInvalidLimit},
		{"prefix too long", long, nil, 1, ErrInvalidKey},
		{"start too long", nil, long, 1, ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkScan(tt.prefix, tt.startAfter, tt.limit)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("checkScan = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeFormatVersion(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint64
		ok   bool
	}{
		{[]byte{0, 0, 0, 0, 0, 0, 0, 1}, 1, true},
		{[]byte{0, 0, 0, 0, 0, 0, 1, 0}, 256, true},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0}, 0, false},
		{nil, 0, false},
		{[]byte{1}, 0, false},
		{make([]byte, 9), 0, false},
	}
	for _, tt := range tests {
		got, err := DecodeFormatVersion(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("DecodeFormatVersion(%x) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzDecodeFormatVersion(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeFormatVersion(b)
		if err == nil && (len(b) != 8 || v == 0) {
			t.Fatalf("accepted %x as %d", b, v)
		}
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"bank", "", ".", "a/b", "consensus-bft", strings.Repeat("z", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName(s) != nil {
			return
		}
		if len(s) == 0 || len(s) > MaxNameLen || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00 ") {
			t.Fatalf("accepted %q", s)
		}
	})
}
