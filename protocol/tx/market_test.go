package tx

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestMarketDecodeRejects(t *testing.T) {
	off := bodyOffset(testChain)
	reg := signed(ProverRegister{Kind: "gpu", Throughput: 1, Price: 2, Bond: 3}).Encode()
	proof := signed(Proof{Height: 5, Proof: "abc"}).Encode()
	exit := signed(ProverExit{}).Encode()
	mod := func(src []byte, f func(b []byte)) []byte {
		b := append([]byte(nil), src...)
		f(b)
		return b
	}
	// A proof with a body of n bytes, signed, to probe the size limits.
	proofOf := func(n int) []byte { return signedRaw(Proof{Height: 1, Proof: strings.Repeat("x", n)}) }
	transferTail := func(n int) []byte {
		return append(append([]byte(nil), signedRaw(Transfer{To: addr(2), Amount: 1})...), make([]byte, n)...)
	}
	for _, c := range []struct {
		name string
		in   []byte
		err  error
		msg  string
	}{
		{"register: kind empty", signedRaw(ProverRegister{Throughput: 1}), ErrMalformed, "0 bytes, want 1..16"},
		{"register: kind 17 bytes", signedRaw(ProverRegister{Kind: strings.Repeat("a", 17), Throughput: 1}), ErrMalformed, "17 bytes, want 1..16"},
		{"register: kind upper case", signedRaw(ProverRegister{Kind: "GPU", Throughput: 1}), ErrMalformed, "byte 0x47"},
		{"register: kind length beyond the end", mod(reg, func(b []byte) { b[off] = 200 }), ErrMalformed, "want"},
		{"register: truncated", reg[:len(reg)-1], ErrMalformed, "want"},
		{"register: trailing byte", append(append([]byte(nil), reg...), 0), ErrMalformed, "want"},
		{"exit: trailing byte", append(append([]byte(nil), exit...), 0), ErrMalformed, "want"},
		{"exit: relabelled as a proof", mod(exit, func(b []byte) { b[1] = byte(TypeProof) }), ErrMalformed, "want"},
		{"proof: empty", signedRaw(Proof{Height: 1}), ErrMalformed, "proof of 0 bytes"},
		{"proof: length beyond the end", mod(proof, func(b []byte) { binary.BigEndian.PutUint32(b[off+8:], 1<<31) }), ErrMalformed, "want"},
		{"proof: length 2^32-1", mod(proof, func(b []byte) { binary.BigEndian.PutUint32(b[off+8:], 1<<32-1) }), ErrMalformed, "want"},
		{"proof: length short by one", mod(proof, func(b []byte) { b[off+11]-- }), ErrMalformed, "want"},
		{"proof: truncated inside the prefix", proof[:off+10], ErrMalformed, "want"},
		{"proof: over MaxProofSize", proofOf(MaxProofSize + 1), ErrMalformed, "proof of 523265 bytes"},
		{"proof: over MaxProofTxSize", append(proofOf(MaxProofSize), make([]byte, MaxProofTxSize)...)[:MaxProofTxSize+1], ErrTooLarge, "524289 bytes, at most 524288"},
		{"anything over MaxEncodedSize", make([]byte, MaxEncodedSize+1), ErrTooLarge, "at most 524288"},
		{"transfer over 1 KiB", transferTail(MaxSize), ErrTooLarge, "at most 1024 for a transfer"},
		{"slash over 1 KiB", mod(transferTail(MaxSize), func(b []byte) { b[1] = byte(TypeSlash) }), ErrTooLarge, "at most 1024 for a slash"},
		{"register over 1 KiB", mod(transferTail(MaxSize), func(b []byte) { b[1] = byte(TypeProverRegister) }), ErrTooLarge, "at most 1024"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.in)
			if err == nil {
				t.Fatalf("Decode accepted %+v", got)
			}
			if got != nil || !errors.Is(err, c.err) {
				t.Errorf("Decode: %v, want %v", err, c.err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// The largest proof decodes, and its transaction fits MaxProofTxSize even
// with the longest chain id.
func TestLargestProofFits(t *testing.T) {
	tx := &Tx{ChainID: strings.Repeat("c", MaxChainIDLen), GasLimit: BodyGas(Proof{Proof: strings.Repeat("x", MaxProofSize)}), MaxFeePerGas: 1,
		Body: Proof{Height: 1 << 62, Proof: strings.Repeat("x", MaxProofSize)}}
	tx.Sign(key(1))
	if n := tx.Size(); n > MaxProofTxSize {
		t.Fatalf("largest proof transaction is %d bytes, above MaxProofTxSize %d", n, MaxProofTxSize)
	}
	dec, err := Decode(tx.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.CheckStateless(tx.ChainID); err != nil {
		t.Fatal(err)
	}
	if dec.Gas() != GasProof+MaxProofSize {
		t.Fatalf("gas %d", dec.Gas())
	}
}

func TestMarketCheckStateless(t *testing.T) {
	for _, c := range []struct {
		name string
		body Body
		gas  uint64 // 0: BodyGas
		err  error
		msg  string
	}{
		{"register: zero throughput", ProverRegister{Kind: "cpu"}, 0, ErrMalformed, "throughput of 0"},
		{"register: bad kind", ProverRegister{Kind: "c pu", Throughput: 1}, 0, ErrMalformed, "byte 0x20"},
		{"proof: empty", Proof{Height: 1}, 0, ErrMalformed, "proof of 0 bytes"},
		{"proof: gas below its size", Proof{Height: 1, Proof: "abcd"}, GasProof + 3, ErrGas, "below the 50004 gas a proof uses"},
		{"proof: too large", Proof{Height: 1, Proof: strings.Repeat("x", MaxProofSize+1)}, 0, ErrMalformed, "proof of 523265 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx := signedWith(c.body, func(t *Tx) {
				if c.gas != 0 {
					t.GasLimit = c.gas
				}
			})
			err := tx.CheckStateless(testChain)
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("CheckStateless = %v, want %v mentioning %q", err, c.err, c.msg)
			}
		})
	}
	// A registration with bond 0 (a profile update), an exit and a proof
	// need no amount.
	for _, b := range []Body{ProverRegister{Kind: "cpu", Throughput: 1}, ProverExit{}, Proof{Height: 0, Proof: "x"}} {
		if err := signed(b).CheckStateless(testChain); err != nil {
			t.Errorf("%s: %v", b.Type(), err)
		}
	}
}

func TestMarketMaxCost(t *testing.T) {
	for _, c := range []struct {
		body Body
		want uint64
	}{
		{ProverRegister{Kind: "cpu", Throughput: 1, Bond: 500}, 10_000 + 500},
		{ProverExit{}, 10_000},
		{Proof{Proof: "xyz"}, 50_003},
	} {
		tx := &Tx{GasLimit: BodyGas(c.body), MaxFeePerGas: 1, Body: c.body}
		if cost, ok := tx.MaxCost(); !ok || cost != c.want {
			t.Errorf("%s: MaxCost = %d, %v; want %d", c.body.Type(), cost, ok, c.want)
		}
	}
	for typ, name := range map[Type]string{TypeProverRegister: "prover_register", TypeProverExit: "prover_exit", TypeProof: "proof", 19: "type 19"} {
		if typ.String() != name {
			t.Errorf("%d.String() = %q", typ, typ.String())
		}
	}
}
