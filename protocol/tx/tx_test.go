package tx

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/vote"
)

const testChain = "trellis-test"

// key returns the ed25519 key whose seed is 32 copies of b.
func key(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// addr returns the address of key(b).
func addr(b byte) account.Address {
	return account.FromPublicKey(key(b).Public().(ed25519.PublicKey))
}

// bodies returns one body of every type.
func bodies() []Body {
	var bls [account.BLSPublicKeySize]byte
	var pop [account.BLSSignatureSize]byte
	for i := range bls {
		bls[i] = byte(i + 1)
	}
	for i := range pop {
		pop[i] = byte(200 - i)
	}
	return []Body{
		Transfer{To: addr(2), Amount: 12345},
		Bond{Amount: 1_000_000, BLSPublicKey: bls, ProofOfPossession: pop},
		Bond{Amount: 7}, // a later bond carries no key
		Unbond{Validator: addr(3), Amount: 500},
		Delegate{Validator: addr(4), Amount: 1 << 40},
		Slash{Evidence: string(evidence(testChain, nil).Encode())},
		Slash{Evidence: string(evidence(testChain, bytes.Repeat([]byte{7}, vote.MaxExtra)).Encode())},
		ProverRegister{Kind: "gpu", Throughput: 9_000_000, Price: 25, Bond: 100_000},
		ProverRegister{Kind: "cpu-avx512", Throughput: 1, Price: 0, Bond: 0}, // a profile update
		ProverExit{},
		Proof{Height: 7, Proof: "\x01\x02proof"},
		Proof{Height: 1 << 40, Proof: strings.Repeat("p", 4096)},
	}
}

// evidence returns a well-formed double vote by addr(5) on chain: a
// precommit for a block and a nil precommit at one slot. The signatures
// are placeholders: only execution checks them.
func evidence(chain string, extra []byte) *vote.Evidence {
	a := vote.Message{ChainID: chain, Height: 9, Round: 1, Step: vote.StepPrecommit, BlockHash: bytes.Repeat([]byte{1}, vote.HashSize), Extra: extra}
	b := vote.Message{ChainID: chain, Height: 9, Round: 1, Step: vote.StepPrecommit, Extra: extra}
	sig := bytes.Repeat([]byte{0xaa}, 96)
	e, err := vote.NewEvidence(addr(5), a, sig, b, sig)
	if err != nil {
		panic(err)
	}
	return e
}

// signed returns a transaction with body b signed by key(1) for testChain.
func signed(b Body) *Tx {
	t := &Tx{
		ChainID:              testChain,
		Nonce:                42,
		GasLimit:             BodyGas(b),
		MaxFeePerGas:         100,
		MaxPriorityFeePerGas: 3,
		Body:                 b,
	}
	t.Sign(key(1))
	return t
}

// fields returns a fresh Tx with t's exported fields, so that Encode on it
// is computed from the fields, not from any cache.
func fields(t *Tx) *Tx {
	return &Tx{
		ChainID: t.ChainID, Nonce: t.Nonce, GasLimit: t.GasLimit,
		MaxFeePerGas: t.MaxFeePerGas, MaxPriorityFeePerGas: t.MaxPriorityFeePerGas,
		Body: t.Body, PublicKey: t.PublicKey, Signature: t.Signature, HashSig: t.HashSig,
	}
}

// bodyOffset is where the body starts in an encoding for chain id id.
func bodyOffset(id string) int { return 3 + len(id) + 32 }

func TestRoundTrip(t *testing.T) {
	for _, b := range bodies() {
		t.Run(b.Type().String(), func(t *testing.T) {
			tx := signed(b)
			enc := tx.Encode()
			if got, want := len(enc), bodyOffset(testChain)+encodedBodySize(t, b)+32+64; got != want {
				t.Fatalf("encoding is %d bytes, want %d", got, want)
			}
			if enc[0] != Version || Type(enc[1]) != b.Type() || int(enc[2]) != len(testChain) {
				t.Fatalf("bad prefix % x", enc[:3])
			}
			dec, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if dec.ChainID != tx.ChainID || dec.Nonce != tx.Nonce || dec.GasLimit != tx.GasLimit ||
				dec.MaxFeePerGas != tx.MaxFeePerGas || dec.MaxPriorityFeePerGas != tx.MaxPriorityFeePerGas ||
				dec.Body != tx.Body || dec.PublicKey != tx.PublicKey || dec.Signature != tx.Signature {
				t.Fatalf("decoded %+v, want %+v", dec, tx)
			}
			if !bytes.Equal(fields(dec).Encode(), enc) {
				t.Fatal("re-encoding the decoded fields differs from the input")
			}
			if dec.Hash() != tx.Hash() || dec.Sender() != tx.Sender() || dec.Size() != len(enc) {
				t.Fatal("hash, sender or size differ after a round trip")
			}
			if dec.Sender() != addr(1) {
				t.Fatalf("sender %s, want %s", dec.Sender(), addr(1))
			}
			if err := dec.CheckStateless(testChain); err != nil {
				t.Fatalf("CheckStateless of a valid %s: %v", b.Type(), err)
			}
		})
	}
}

func encodedBodySize(t *testing.T, b Body) int {
	t.Helper()
	n, err := bodySize(b.Type())
	if err != nil {
		t.Fatal(err)
	}
	switch v := b.(type) {
	case Slash:
		n += len(v.Evidence)
	case ProverRegister:
		n += len(v.Kind) + 24
	case Proof:
		n += len(v.Proof)
	}
	return n
}

// badModulusWord is the KoalaBear modulus 2130706433 as a little-endian word:
// the smallest 4-byte value an address element may not take.
var badModulusWord = []byte{0x01, 0x00, 0x00, 0x7f}

func TestDecodeRejects(t *testing.T) {
	transfer := signed(Transfer{To: addr(2), Amount: 1}).Encode()
	delegate := signed(Delegate{Validator: addr(2), Amount: 1}).Encode()
	unbond := signed(Unbond{Validator: addr(2), Amount: 1}).Encode()
	slash := signed(Slash{Evidence: string(evidence(testChain, nil).Encode())}).Encode()
	off := bodyOffset(testChain)

	mod := func(src []byte, f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), src...))
	}
	withType := func(typ byte) []byte { return mod(transfer, func(b []byte) []byte { b[1] = typ; return b }) }
	// relabel replaces the chain id, keeping everything else.
	relabel := func(id string) []byte {
		b := append([]byte{transfer[0], transfer[1], byte(len(id))}, id...)
		return append(b, transfer[3+len(testChain):]...)
	}
	badWord := func(src []byte, word int) []byte {
		return mod(src, func(b []byte) []byte { copy(b[off+4*word:], badModulusWord); return b })
	}
	maxWord := func(src []byte) []byte {
		return mod(src, func(b []byte) []byte { copy(b[off+28:], []byte{0xff, 0xff, 0xff, 0xff}); return b })
	}

	cases := []struct {
		name string
		in   []byte
		err  error
		msg  string
	}{
		{"nil", nil, ErrMalformed, "shorter than any"},
		{"empty", []byte{}, ErrMalformed, "shorter than any"},
		{"two bytes", []byte{1, 1}, ErrMalformed, "shorter than any"},
		{"oversized", make([]byte, MaxSize+1), ErrTooLarge, "at most 1024"},
		{"oversized valid prefix", append(append([]byte(nil), transfer...), make([]byte, MaxSize)...), ErrTooLarge, "bytes, at most"},
		{"version 0", mod(transfer, func(b []byte) []byte { b[0] = 0; return b }), ErrVersion, "version 0"},
		{"version 3", mod(transfer, func(b []byte) []byte { b[0] = 3; return b }), ErrVersion, "version 3"},
		{"ed25519 layout as version 2", mod(transfer, func(b []byte) []byte { b[0] = 2; return b }), ErrMalformed, "want"},
		{"type 0", withType(0), ErrType, "unknown type 0"},
		{"type 6", withType(6), ErrType, "unknown type 6"},
		{"type 15", withType(15), ErrType, "unknown type 15"},
		{"type 48", withType(48), ErrType, "unknown type 48"},
		{"type 255", withType(255), ErrType, "unknown type 255"},
		{"chain id length 0", mod(transfer, func(b []byte) []byte { b[2] = 0; return b }), ErrMalformed, "chain id length 0"},
		{"chain id length 65", relabel(strings.Repeat("a", 65)), ErrMalformed, "chain id length 65"},
		{"chain id length 255", mod(transfer, func(b []byte) []byte { b[2] = 255; return b }), ErrMalformed, "chain id length 255"},
		{"chain id with space", relabel("trellis test"), ErrMalformed, "chain id has byte 0x20"},
		{"chain id with NUL", relabel("trellis\x00test"), ErrMalformed, "chain id has byte 0x00"},
		{"chain id with DEL", relabel("trellis\x7ftest"), ErrMalformed, "chain id has byte 0x7f"},
		{"chain id with UTF-8", relabel("trellis-é"), ErrMalformed, "chain id has byte 0xc3"},
		{"truncated by one", transfer[:len(transfer)-1], ErrMalformed, "want"},
		{"truncated to the header", transfer[:3+len(testChain)], ErrMalformed, "want"},
		{"trailing byte", append(append([]byte(nil), transfer...), 0), ErrMalformed, "want"},
		{"recipient word = modulus", badWord(transfer, 0), ErrMalformed, "recipient"},
		{"recipient last word = 0xffffffff", maxWord(transfer), ErrMalformed, "recipient"},
		{"delegate validator word = modulus", badWord(delegate, 3), ErrMalformed, "validator"},
		{"unbond validator word = modulus", badWord(unbond, 7), ErrMalformed, "validator"},
		{"slash: empty evidence", signedRaw(Slash{}), ErrMalformed, "evidence of 0 bytes"},
		{"slash: evidence over the limit", signedRaw(Slash{Evidence: strings.Repeat("x", vote.MaxEvidenceSize+1)}), ErrMalformed, "evidence of 516 bytes"},
		{"slash: length prefix beyond the end", mod(slash, func(b []byte) []byte { b[off] = 0xff; return b }), ErrMalformed, "want"},
		{"slash: length prefix short by one", mod(slash, func(b []byte) []byte { b[off+1]--; return b }), ErrMalformed, "want"},
		{"slash: truncated inside the prefix", slash[:off+1], ErrMalformed, "want"},
		{"slash: relabelled as a transfer", mod(slash, func(b []byte) []byte { b[1] = byte(TypeTransfer); return b }), ErrMalformed, "want"},
	}
	for typ := TypeProof + 1; typ <= LastProverType; typ++ {
		cases = append(cases, struct {
			name string
			in   []byte
			err  error
			msg  string
		}{"prover type " + typ.String(), withType(byte(typ)), ErrType, "reserved for the prover market and not defined"})
	}
	for typ := FirstGovernanceType; typ <= LastGovernanceType; typ++ {
		cases = append(cases, struct {
			name string
			in   []byte
			err  error
			msg  string
		}{"governance type " + typ.String(), withType(byte(typ)), ErrType, "reserved for governance"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.in)
			if err == nil {
				t.Fatalf("Decode accepted %x as %+v", c.in, got)
			}
			if got != nil {
				t.Errorf("Decode returned a transaction with error %v", err)
			}
			if !errors.Is(err, c.err) {
				t.Errorf("error %q does not wrap %q", err, c.err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// The largest word below the modulus is a valid address element.
func TestDecodeAcceptsLargestElement(t *testing.T) {
	var to account.Address
	for i := 0; i < len(to); i += 4 {
		binary.LittleEndian.PutUint32(to[i:], 2130706432)
	}
	tx := signed(Transfer{To: to, Amount: 1})
	dec, err := Decode(tx.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if dec.Body.(Transfer).To != to {
		t.Fatal("recipient changed")
	}
}

func TestCheckStatelessRejects(t *testing.T) {
	base := func() *Tx { return signed(Transfer{To: addr(2), Amount: 10}) }
	// resign applies f to a valid transfer and signs again, so only the
	// property under test is wrong.
	resign := func(f func(*Tx)) *Tx {
		tx := base()
		f(tx)
		tx.Sign(key(1))
		return tx
	}
	// tamper applies f after signing.
	tamper := func(f func(*Tx)) *Tx {
		tx := base()
		f(tx)
		return tx
	}
	cases := []struct {
		name  string
		tx    *Tx
		chain string
		err   error
		msg   string
	}{
		{"wrong chain id", base(), "other-chain", ErrChainID, `signed for "trellis-test", this chain is "other-chain"`},
		{"no body", resign(func(t *Tx) {}).withBody(nil), testChain, ErrMalformed, "no body"},
		{"empty chain id", resign(func(t *Tx) { t.ChainID = "" }), "", ErrMalformed, "chain id length 0"},
		{"long chain id", resign(func(t *Tx) { t.ChainID = strings.Repeat("x", 65) }), strings.Repeat("x", 65), ErrMalformed, "chain id length 65"},
		{"gas below transfer", resign(func(t *Tx) { t.GasLimit = GasTransfer - 1 }), testChain, ErrGas, "gas limit 999 is below the 1000"},
		{"gas below staking", signedWith(Delegate{Validator: addr(2), Amount: 1}, func(t *Tx) { t.GasLimit = GasStaking - 1 }), testChain, ErrGas, "below the 10000 gas a delegate uses"},
		{"tip above max fee", resign(func(t *Tx) { t.MaxPriorityFeePerGas = t.MaxFeePerGas + 1 }), testChain, ErrFee, "exceeds max fee"},
		{"zero transfer", resign(func(t *Tx) { t.Body = Transfer{To: addr(2)} }), testChain, ErrAmount, "a transfer of 0"},
		{"zero bond", signedWith(Bond{}, nil), testChain, ErrAmount, "a bond of 0"},
		{"zero unbond", signedWith(Unbond{Validator: addr(2)}, nil), testChain, ErrAmount, "a unbond of 0"},
		{"zero delegate", signedWith(Delegate{Validator: addr(2)}, nil), testChain, ErrAmount, "a delegate of 0"},
		{"gas×fee overflows", resign(func(t *Tx) { t.GasLimit, t.MaxFeePerGas, t.MaxPriorityFeePerGas = 1<<33, 1<<31, 0 }), testChain, ErrOverflow, "does not fit in 64 bits"},
		{"amount + fee overflows", resign(func(t *Tx) { t.Body = Transfer{To: addr(2), Amount: math.MaxUint64 - 1000*100 + 1} }), testChain, ErrOverflow, "does not fit in 64 bits"},
		{"bond amount + fee overflows", signedWith(Bond{Amount: math.MaxUint64}, nil), testChain, ErrOverflow, "does not fit"},
		{"transfer to zero", resign(func(t *Tx) { t.Body = Transfer{Amount: 1} }), testChain, ErrMalformed, "zero address"},
		{"delegate to zero", signedWith(Delegate{Amount: 1}, nil), testChain, ErrMalformed, "zero address"},
		{"flipped signature bit", tamper(func(t *Tx) { t.Signature[5] ^= 0x10 }), testChain, ErrSignature, "sender"},
		{"flipped last signature bit", tamper(func(t *Tx) { t.Signature[63] ^= 0x80 }), testChain, ErrSignature, "sender"},
		{"flipped body bit", tamper(func(t *Tx) { t.Body = Transfer{To: addr(2), Amount: 10 ^ 4} }), testChain, ErrSignature, "sender"},
		{"changed recipient", tamper(func(t *Tx) { t.Body = Transfer{To: addr(3), Amount: 10} }), testChain, ErrSignature, "sender"},
		{"changed nonce", tamper(func(t *Tx) { t.Nonce++ }), testChain, ErrSignature, "sender"},
		{"changed gas limit", tamper(func(t *Tx) { t.GasLimit++ }), testChain, ErrSignature, "sender"},
		{"changed fee", tamper(func(t *Tx) { t.MaxFeePerGas++ }), testChain, ErrSignature, "sender"},
		{"changed tip", tamper(func(t *Tx) { t.MaxPriorityFeePerGas-- }), testChain, ErrSignature, "sender"},
		{"flipped public key bit", tamper(func(t *Tx) { t.PublicKey[0] ^= 1 }), testChain, ErrSignature, "sender"},
		{"other signer's key", tamper(func(t *Tx) { copy(t.PublicKey[:], key(9).Public().(ed25519.PublicKey)) }), testChain, ErrSignature, "sender"},
		{"zero signature", tamper(func(t *Tx) { t.Signature = [64]byte{} }), testChain, ErrSignature, "sender"},
		{"signed for A, relabelled B", tamper(func(t *Tx) { t.ChainID = "chain-b" }), "chain-b", ErrSignature, "sender"},
		{"slash: evidence for another chain", signedWith(Slash{Evidence: string(evidence("other-chain", nil).Encode())}, nil), testChain, ErrEvidence, `offence on chain "other-chain"`},
		{"slash: garbage evidence", signedWith(Slash{Evidence: "\x01garbage"}, nil), testChain, ErrEvidence, "truncated"},
		{"slash: evidence version 2", signedWith(Slash{Evidence: "\x02" + string(evidence(testChain, nil).Encode()[1:])}, nil), testChain, ErrEvidence, "evidence version 2"},
		{"slash: same message twice", signedWith(Slash{Evidence: sameTwice()}, nil), testChain, ErrEvidence, "the same"},
		{"slash: messages swapped out of order", signedWith(Slash{Evidence: swapped()}, nil), testChain, ErrEvidence, "canonical order"},
		{"slash: gas below staking", signedWith(Slash{Evidence: string(evidence(testChain, nil).Encode())}, func(t *Tx) { t.GasLimit = GasStaking - 1 }), testChain, ErrGas, "a slash uses"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.tx.CheckStateless(c.chain)
			if err == nil {
				t.Fatal("CheckStateless accepted it")
			}
			if !errors.Is(err, c.err) {
				t.Errorf("error %q does not wrap %q", err, c.err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// A tampered transaction keeps failing after an encode/decode round trip:
// what a peer sends is what is checked.
func TestTamperedEncodingFails(t *testing.T) {
	enc := signed(Transfer{To: addr(2), Amount: 10}).Encode()
	for i := range enc {
		if i < 3+len(testChain) {
			continue // version, type and chain id are covered by TestDecodeRejects
		}
		for _, bit := range []byte{0x01, 0x80} {
			b := append([]byte(nil), enc...)
			b[i] ^= bit
			tx, err := Decode(b)
			if err != nil {
				continue // a malformed recipient word
			}
			if err := tx.CheckStateless(testChain); err == nil {
				t.Fatalf("flipping bit %#x of byte %d still passes CheckStateless", bit, i)
			}
		}
	}
}

func (t *Tx) withBody(b Body) *Tx { t.Body = b; return t }

// signedRaw is signed(b).Encode() for a body Decode must reject.
func signedRaw(b Body) []byte { return signed(b).Encode() }

// sameTwice encodes evidence whose two messages are one message.
func sameTwice() string {
	e := evidence(testChain, nil)
	e.B = e.A
	return string(e.Encode())
}

// swapped encodes evidence with its messages out of canonical order.
func swapped() string {
	e := evidence(testChain, nil)
	e.A, e.B = e.B, e.A
	return string(e.Encode())
}

func signedWith(b Body, f func(*Tx)) *Tx {
	tx := signed(b)
	if f != nil {
		f(tx)
		tx.Sign(key(1))
	}
	return tx
}

func TestCheckStatelessAccepts(t *testing.T) {
	cases := []struct {
		name string
		tx   *Tx
	}{
		{"tip equals max fee", signedWith(Transfer{To: addr(2), Amount: 1}, func(t *Tx) { t.MaxPriorityFeePerGas = t.MaxFeePerGas })},
		{"gas above intrinsic", signedWith(Transfer{To: addr(2), Amount: 1}, func(t *Tx) { t.GasLimit = 1 << 20 })},
		{"zero fees", signedWith(Transfer{To: addr(2), Amount: 1}, func(t *Tx) { t.MaxFeePerGas, t.MaxPriorityFeePerGas = 0, 0 })},
		{"max cost exactly 2^64-1", signedWith(Transfer{To: addr(2), Amount: math.MaxUint64 - 1000*100}, nil)},
		{"unbond of max amount", signedWith(Unbond{Validator: addr(2), Amount: math.MaxUint64}, nil)},
		{"unbond of own bond", signedWith(Unbond{Validator: addr(1), Amount: 1}, nil)},
		{"longest chain id", signedWith(Transfer{To: addr(2), Amount: 1}, func(t *Tx) { t.ChainID = strings.Repeat("~", 64) })},
		{"one-byte chain id", signedWith(Transfer{To: addr(2), Amount: 1}, func(t *Tx) { t.ChainID = "!" })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.tx.CheckStateless(c.tx.ChainID); err != nil {
				t.Fatal(err)
			}
			dec, err := Decode(c.tx.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.CheckStateless(c.tx.ChainID); err != nil {
				t.Fatalf("after a round trip: %v", err)
			}
		})
	}
}

func TestMaxCost(t *testing.T) {
	cases := []struct {
		name string
		tx   *Tx
		cost uint64
		ok   bool
	}{
		{"transfer", &Tx{GasLimit: 1000, MaxFeePerGas: 7, Body: Transfer{Amount: 5}}, 7005, true},
		{"bond", &Tx{GasLimit: 10000, MaxFeePerGas: 1, Body: Bond{Amount: 5}}, 10005, true},
		{"delegate", &Tx{GasLimit: 10000, MaxFeePerGas: 1, Body: Delegate{Amount: 5}}, 10005, true},
		{"unbond spends stake, not balance", &Tx{GasLimit: 10000, MaxFeePerGas: 1, Body: Unbond{Amount: 5}}, 10000, true},
		{"fee overflows", &Tx{GasLimit: 1 << 32, MaxFeePerGas: 1 << 32, Body: Transfer{Amount: 1}}, 0, false},
		{"sum overflows", &Tx{GasLimit: 1, MaxFeePerGas: 1, Body: Transfer{Amount: math.MaxUint64}}, 0, false},
		{"sum is max", &Tx{GasLimit: 1, MaxFeePerGas: 1, Body: Transfer{Amount: math.MaxUint64 - 1}}, math.MaxUint64, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cost, ok := c.tx.MaxCost()
			if ok != c.ok || (ok && cost != c.cost) {
				t.Fatalf("MaxCost = %d, %v; want %d, %v", cost, ok, c.cost, c.ok)
			}
		})
	}
}

func TestGas(t *testing.T) {
	want := map[Type]uint64{TypeTransfer: 1000, TypeBond: 10000, TypeUnbond: 10000, TypeDelegate: 10000, TypeSlash: 10000,
		TypeProverRegister: 10000, TypeProverExit: 10000}
	for _, b := range bodies() {
		w, ok := want[b.Type()]
		if p, isProof := b.(Proof); isProof {
			w, ok = 50_000+uint64(len(p.Proof)), true
		}
		if !ok {
			t.Fatalf("no gas expectation for %s", b.Type())
		}
		if g := (&Tx{Body: b}).Gas(); g != w {
			t.Errorf("%s uses %d gas, want %d", b.Type(), g, w)
		}
	}
	if IntrinsicGas(TypeProof) != GasProof || BodyGas(Proof{Proof: "abc"}) != GasProof+3 {
		t.Error("proof gas is not GasProof plus a gas per byte")
	}
}

func TestCheckAllSameForAnyWorkers(t *testing.T) {
	var txs []*Tx
	for i := range 2*BatchSize + 37 {
		tx := signed(Transfer{To: addr(2), Amount: uint64(i + 1)})
		switch i % 5 {
		case 1:
			tx.Signature[0] ^= 1
		case 2:
			tx = signedWith(Transfer{To: addr(2), Amount: 1}, func(t *Tx) { t.GasLimit = 1 })
		case 3:
			tx = signedWith(Transfer{To: addr(2), Amount: 1}, func(t *Tx) { t.ChainID = "other" })
		}
		txs = append(txs, tx)
	}
	one := CheckAll(txs, testChain, 1)
	if len(one) != len(txs) {
		t.Fatalf("%d errors for %d transactions", len(one), len(txs))
	}
	for i, err := range one {
		want := map[int]error{1: ErrSignature, 2: ErrGas, 3: ErrChainID}[i%5]
		if (err == nil) != (want == nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("tx %d: error %v, want %v", i, err, want)
		}
	}
	for _, w := range []int{0, 2, 4, 64} {
		got := CheckAll(txs, testChain, w)
		for i := range txs {
			if errString(got[i]) != errString(one[i]) {
				t.Errorf("workers=%d tx %d: %v; workers=1: %v", w, i, got[i], one[i])
			}
		}
	}
	if errs := CheckAll(nil, testChain, 4); len(errs) != 0 {
		t.Fatalf("CheckAll(nil) = %v", errs)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestHash(t *testing.T) {
	base := signed(Transfer{To: addr(2), Amount: 10})
	h := base.Hash()
	if h != base.Hash() || h != signed(Transfer{To: addr(2), Amount: 10}).Hash() {
		t.Fatal("hash of the same transaction is not stable")
	}
	// ed25519 is deterministic, so re-signing gives the same hash.
	again := fields(base)
	again.Sign(key(1))
	if again.Hash() != h {
		t.Fatal("re-signing changed the hash")
	}
	changes := map[string]func(*Tx){
		"chain id":     func(t *Tx) { t.ChainID = "trellis-tesu" },
		"nonce":        func(t *Tx) { t.Nonce++ },
		"gas limit":    func(t *Tx) { t.GasLimit++ },
		"max fee":      func(t *Tx) { t.MaxFeePerGas++ },
		"tip":          func(t *Tx) { t.MaxPriorityFeePerGas++ },
		"recipient":    func(t *Tx) { t.Body = Transfer{To: addr(3), Amount: 10} },
		"amount":       func(t *Tx) { t.Body = Transfer{To: addr(2), Amount: 11} },
		"type":         func(t *Tx) { t.Body = Delegate{Validator: addr(2), Amount: 10} },
		"public key":   func(t *Tx) { t.PublicKey[31] ^= 1 },
		"signature":    func(t *Tx) { t.Signature[0] ^= 1 },
		"signer (key)": func(t *Tx) { t.Sign(key(7)) },
	}
	seen := map[Hash]string{h: "base"}
	for name, f := range changes {
		tx := fields(base)
		f(tx)
		got := tx.Hash()
		if prev, dup := seen[got]; dup {
			t.Errorf("changing the %s gives the hash of %s", name, prev)
		}
		seen[got] = name
	}
	if s := h.String(); len(s) != 66 || s[:2] != "0x" {
		t.Fatalf("String() = %q", s)
	}
}

func TestParseHash(t *testing.T) {
	h := signed(Transfer{To: addr(2), Amount: 10}).Hash()
	for _, s := range []string{h.String(), h.String()[2:], "0X" + h.String()[2:], strings.ToUpper(h.String()[2:])} {
		got, err := ParseHash(s)
		if err != nil || got != h {
			t.Errorf("ParseHash(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "0x", h.String()[:65], h.String() + "0", "0x" + strings.Repeat("g", 64), "0x0x" + h.String()[4:]} {
		if _, err := ParseHash(s); err == nil {
			t.Errorf("ParseHash(%q) accepted", s)
		}
	}
	var u Hash
	txt, _ := h.MarshalText()
	if err := u.UnmarshalText(txt); err != nil || u != h {
		t.Fatalf("text round trip: %v", err)
	}
}

// The largest slash (longest chain id, two block hashes, longest extras)
// decodes within MaxSize.
func TestLargestSlashFits(t *testing.T) {
	chain := strings.Repeat("~", MaxChainIDLen)
	extra := bytes.Repeat([]byte{9}, vote.MaxExtra)
	a := vote.Message{ChainID: chain, Height: math.MaxUint64, Round: math.MaxUint32, Step: vote.StepPrecommit, BlockHash: bytes.Repeat([]byte{1}, vote.HashSize), Extra: extra}
	b := a
	b.BlockHash = bytes.Repeat([]byte{2}, vote.HashSize)
	sig := bytes.Repeat([]byte{0xaa}, 96)
	e, err := vote.NewEvidence(addr(5), a, sig, b, sig)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.Encode()); n != vote.MaxEvidenceSize {
		t.Fatalf("largest evidence is %d bytes, MaxEvidenceSize is %d", n, vote.MaxEvidenceSize)
	}
	tx := signedWith(Slash{Evidence: string(e.Encode())}, func(t *Tx) { t.ChainID = chain })
	if n := tx.Size(); n != 712 || n > MaxSize {
		t.Fatalf("largest slash is %d bytes, want 712 (MaxSize %d)", n, MaxSize)
	}
	dec, err := Decode(tx.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.CheckStateless(chain); err != nil {
		t.Fatal(err)
	}
	if got, err := dec.Body.(Slash).Decode(chain); err != nil || got.Validator != addr(5) || got.Height() != math.MaxUint64 {
		t.Fatalf("evidence after a round trip: %+v, %v", got, err)
	}
}
