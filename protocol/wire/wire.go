// Package wire reads the protocol's canonical binary encodings: big-endian
// integers, fixed-size fields, minimal uvarints and length-prefixed byte
// strings. Every decoder of untrusted bytes in the protocol layer, the
// host's network and the plugins reads through a Reader, so truncation,
// oversize lengths and trailing bytes are refused the same way everywhere,
// before anything is allocated for them.
package wire

import (
	"encoding/binary"
	"fmt"
)

// Reader reads an encoding front to back. The first failure sticks: later
// reads return zero values and Err reports it, wrapping the sentinel the
// Reader was made with and naming the field (At) and the byte offset.
type Reader struct {
	b     []byte
	off   int
	err   error
	kind  error
	field string
}

// NewReader reads b; its errors wrap kind (a package's ErrMalformed).
func NewReader(b []byte, kind error) Reader { return Reader{b: b, kind: kind} }

// At names the field the next reads belong to, for error messages.
func (r *Reader) At(field string) *Reader {
	r.field = field
	return r
}

// Fail records err unless a failure is already recorded.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Failf records a failure wrapping the Reader's sentinel and naming the
// field.
func (r *Reader) Failf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.field != "" {
		msg = r.field + ": " + msg
	}
	r.Fail(fmt.Errorf("%w: %s", r.kind, msg))
}

// Err returns the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes left.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Offset is the number of bytes read.
func (r *Reader) Offset() int { return r.off }

// Take returns the next n bytes (not copied), or nil after a failure.
func (r *Reader) Take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.Len() < n {
		r.truncated(n)
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

// truncated records that n bytes were asked for past the end.
func (r *Reader) truncated(n int) {
	f := r.field
	if f != "" {
		f += " "
	}
	r.Fail(fmt.Errorf("%w: %struncated at byte %d: need %d bytes, have %d", r.kind, f, r.off, n, r.Len()))
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if v := r.Take(1); v != nil {
		return v[0]
	}
	return 0
}

// U16 reads a big-endian uint16.
func (r *Reader) U16() uint16 {
	if v := r.Take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// U32 reads a big-endian uint32.
func (r *Reader) U32() uint32 {
	if v := r.Take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// U64 reads a big-endian uint64.
func (r *Reader) U64() uint64 {
	if v := r.Take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Fixed copies the next len(dst) bytes into dst.
func (r *Reader) Fixed(dst []byte) {
	if v := r.Take(len(dst)); v != nil {
		copy(dst, v)
	}
}

// Uvarint reads a uvarint, refusing a non-minimal one (so each value has
// one encoding).
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.Failf("bad varint at byte %d", r.off)
		return 0
	}
	if n > 1 && r.b[r.off+n-1] == 0 {
		r.Failf("non-minimal varint at byte %d", r.off)
		return 0
	}
	r.off += n
	return v
}

// Bytes reads a uvarint length, at most max, and that many bytes, copied.
func (r *Reader) Bytes(max int) []byte {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.Failf("length %d over limit %d", n, max)
		return nil
	}
	if uint64(r.Len()) < n {
		r.truncated(int(min(n, 1<<62)))
		return nil
	}
	return append([]byte(nil), r.Take(int(n))...)
}

// Done returns the first failure, or an error if bytes are left over.
func (r *Reader) Done() error {
	if r.err == nil && r.Len() != 0 {
		r.field = ""
		r.Failf("%d trailing bytes", r.Len())
	}
	return r.err
}
