package block

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/tx"
)

func receipts() map[string]*Receipt {
	return map[string]*Receipt{
		"ok":          {TxHash: tx.Hash(sha256.Sum256([]byte("a"))), Status: StatusOK, GasUsed: 1000, FeePaid: 10_000, Tip: 1000},
		"failed":      {TxHash: tx.Hash(sha256.Sum256([]byte("b"))), Status: StatusFailed, GasUsed: 10_000, FeePaid: 5, Tip: 0, Reason: "insufficient balance: have 3, need 7"},
		"zero":        {},
		"max":         {Status: StatusFailed, GasUsed: math.MaxUint64, FeePaid: math.MaxUint64, Tip: math.MaxUint64, Reason: strings.Repeat("r", MaxReasonLen)},
		"binary text": {Status: StatusFailed, Reason: "\x00\xff\n"},
	}
}

func TestReceiptRoundTrip(t *testing.T) {
	for name, r := range receipts() {
		t.Run(name, func(t *testing.T) {
			enc := r.Encode()
			if len(enc) != 59+len(r.Reason) {
				t.Fatalf("receipt is %d bytes", len(enc))
			}
			got, err := DecodeReceipt(enc)
			if err != nil {
				t.Fatal(err)
			}
			if *got != *r {
				t.Fatalf("decoded %+v, want %+v", got, r)
			}
			if !bytes.Equal(got.Encode(), enc) {
				t.Fatal("re-encoding differs")
			}
		})
	}
}

// A reason longer than MaxReasonLen is cut to it when encoded.
func TestReceiptLongReason(t *testing.T) {
	r := &Receipt{Status: StatusFailed, Reason: strings.Repeat("x", MaxReasonLen+10)}
	got, err := DecodeReceipt(r.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != r.Reason[:MaxReasonLen] {
		t.Fatalf("reason of %d bytes, want %d", len(got.Reason), MaxReasonLen)
	}
}

func TestDecodeReceiptRejects(t *testing.T) {
	good := receipts()["failed"].Encode()
	set := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	cases := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"empty", nil, "receipt of 0 bytes"},
		{"fixed part short", good[:58], "receipt of 58 bytes"},
		{"version 0", set(0, 0), "is not version 1"},
		{"version 2", set(0, 2), "is not version 1"},
		{"status 2", set(33, 2), "receipt status 2"},
		{"status 255", set(33, 255), "receipt status 255"},
		{"reason truncated", good[:len(good)-1], "reason of 36 bytes in 35 remaining"},
		{"trailing byte", append(append([]byte(nil), good...), 0), "reason of 36 bytes in 37 remaining"},
		{"reason length 255 in 36", set(58, 255), "reason of 255 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := DecodeReceipt(c.in)
			if err == nil {
				t.Fatalf("accepted as %+v", r)
			}
			if r != nil {
				t.Error("returned a receipt with an error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
	for n := range len(good) {
		if _, err := DecodeReceipt(good[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
	}
}

func TestReceiptsRoot(t *testing.T) {
	rs := []*Receipt{receipts()["ok"], receipts()["failed"], receipts()["zero"]}
	var leaves [][32]byte
	for _, r := range rs {
		leaves = append(leaves, sha256.Sum256(r.Encode()))
	}
	if ReceiptsRoot(rs) != MerkleRoot(leaves) {
		t.Fatal("ReceiptsRoot is not the Merkle root of the receipt hashes")
	}
	changed := *rs[1]
	changed.Reason += "!"
	if ReceiptsRoot([]*Receipt{rs[0], &changed, rs[2]}) == ReceiptsRoot(rs) {
		t.Fatal("changing a reason keeps the root")
	}
	if ReceiptsRoot(nil) != sha256.Sum256(nil) {
		t.Fatal("root of no receipts")
	}
	if StatusOK.String() != "ok" || StatusFailed.String() != "failed" {
		t.Fatal("status strings")
	}
}
