package block

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
)

const testChain = "trellis-test"

func key(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func addr(b byte) account.Address {
	return account.FromPublicKey(key(b).Public().(ed25519.PublicKey))
}

func fill(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }

func digest(seed uint64) hash.Digest {
	var d hash.Digest
	for i := range d {
		d[i].SetUint64(seed*8 + uint64(i))
	}
	return d
}

// header returns a header with every field set, DA commitments, consensus
// data and proofs included.
func header() *Header {
	h := &Header{
		ChainID:       testChain,
		Height:        1234,
		Parent:        Hash(sha256.Sum256([]byte("parent"))),
		TimestampMs:   1_700_000_000_123,
		Proposer:      addr(1),
		TxRoot:        sha256.Sum256([]byte("txs")),
		StateRoot:     digest(7),
		ReceiptsRoot:  sha256.Sum256([]byte("receipts")),
		BaseFee:       1_000_000_007,
		GasLimit:      30_000_000,
		GasUsed:       21_000,
		DACommitments: [][]byte{fill(48, 0xc0), fill(4096, 0x11), {0x01}},
		ConsensusData: fill(777, 0xcd),
		Proofs: []ProofRef{
			{Height: 1000, BlockHash: Hash(sha256.Sum256([]byte("b1000"))), ProofHash: sha256.Sum256([]byte("p1000")), Prover: addr(2)},
			{Height: 1001, BlockHash: Hash(sha256.Sum256([]byte("b1001"))), ProofHash: sha256.Sum256([]byte("p1001")), Prover: addr(3)},
		},
	}
	return h
}

func headers() map[string]*Header {
	neg := header()
	neg.TimestampMs = -1
	maxed := header()
	maxed.ChainID = strings.Repeat("z", tx.MaxChainIDLen)
	maxed.Height, maxed.BaseFee, maxed.GasLimit, maxed.GasUsed = math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64
	maxed.DACommitments = make([][]byte, MaxDACommitments)
	for i := range maxed.DACommitments {
		maxed.DACommitments[i] = fill(i+1, byte(i))
	}
	maxed.Proofs = make([]ProofRef, MaxProofs)
	for i := range maxed.Proofs {
		maxed.Proofs[i] = ProofRef{Height: uint64(i), Prover: addr(byte(i % 4))}
	}
	return map[string]*Header{
		"full":             header(),
		"minimal":          {ChainID: "x"},
		"genesis":          {ChainID: testChain, TimestampMs: 1, Proposer: account.TreasuryAddress},
		"negative time":    neg,
		"at every limit":   maxed,
		"only consensus":   {ChainID: testChain, ConsensusData: []byte{1, 2, 3}},
		"only commitments": {ChainID: testChain, DACommitments: [][]byte{{9}}},
		"tx commitment":    withTxCommitment(header(), nil),
	}
}

// withTxCommitment makes h a version 2 header committing to txs.
func withTxCommitment(h *Header, txs []*tx.Tx) *Header {
	d := TxCommitment(txs)
	h.TxCommitment = &d
	return h
}

func transfers(n int) []*tx.Tx {
	txs := make([]*tx.Tx, n)
	priv := key(1)
	for i := range txs {
		t := &tx.Tx{
			ChainID: testChain, Nonce: uint64(i), GasLimit: tx.GasTransfer, MaxFeePerGas: 10, MaxPriorityFeePerGas: 1,
			Body: tx.Transfer{To: addr(2), Amount: uint64(i + 1)},
		}
		t.Sign(priv)
		txs[i] = t
	}
	return txs
}

// mixed returns one transaction of every type.
func mixed() []*tx.Tx {
	bodies := []tx.Body{
		tx.Transfer{To: addr(2), Amount: 5},
		tx.Bond{Amount: 100, BLSPublicKey: [48]byte{1}, ProofOfPossession: [96]byte{2}},
		tx.Unbond{Validator: addr(1), Amount: 50},
		tx.Delegate{Validator: addr(3), Amount: 7},
	}
	txs := make([]*tx.Tx, len(bodies))
	for i, b := range bodies {
		t := &tx.Tx{ChainID: testChain, Nonce: uint64(i), GasLimit: tx.IntrinsicGas(b.Type()), MaxFeePerGas: 3, Body: b}
		t.Sign(key(4))
		txs[i] = t
	}
	return txs
}

func blocks() map[string]*Block {
	b := &Block{Header: *header(), Txs: mixed()}
	b.Header.TxRoot = b.ComputeTxRoot()
	return map[string]*Block{
		"empty":      {Header: Header{ChainID: testChain}},
		"mixed":      b,
		"transfers":  {Header: *header(), Txs: transfers(33)},
		"bare chain": {Header: Header{ChainID: "c"}, Txs: transfers(1)},
		"committed":  {Header: *withTxCommitment(header(), mixed()), Txs: mixed()},
	}
}

// TestTxCommitment: a version 2 header binds its transactions in order;
// any change to them, their order or their number is caught, and the
// commitment is a different header (hash) from the version 1 one.
func TestTxCommitment(t *testing.T) {
	txs := transfers(5)
	b := &Block{Header: *withTxCommitment(header(), txs), Txs: txs}
	if !b.CheckTxCommitment() || b.Header.Version() != VersionTxCommitment {
		t.Fatal("a fresh commitment does not check")
	}
	v1 := *header()
	if v1.Hash() == b.Header.Hash() {
		t.Fatal("the commitment does not change the header hash")
	}
	swapped := append([]*tx.Tx{txs[1], txs[0]}, txs[2:]...)
	other := transfers(6)
	for name, ts := range map[string][]*tx.Tx{
		"reordered": swapped,
		"dropped":   txs[:4],
		"added":     other,
		"none":      nil,
		"replaced":  append(append([]*tx.Tx(nil), txs[:4]...), other[5]),
	} {
		if (&Block{Header: b.Header, Txs: ts}).CheckTxCommitment() {
			t.Errorf("%s transactions pass the commitment", name)
		}
	}
	// The commitment covers the signed content: it equals the chain of
	// the transactions' signing digests.
	var all []koalabear.Element
	for _, x := range txs {
		d := x.SigningDigest()
		all = append(all, d[:]...)
	}
	if got := hash.HashWithTag(hash.TagTxs, all); got != *b.Header.TxCommitment {
		t.Fatal("TxCommitment is not the chain of signing digests")
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for name, h := range headers() {
		t.Run(name, func(t *testing.T) {
			if err := h.Check(); err != nil {
				t.Fatal(err)
			}
			enc := h.Encode()
			got, err := DecodeHeader(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, h) {
				t.Fatalf("decoded %+v\nwant %+v", got, h)
			}
			if !bytes.Equal(got.Encode(), enc) || got.Hash() != h.Hash() {
				t.Fatal("re-encoding or hash differs")
			}
		})
	}
	// An empty DA commitment decodes as nil and encodes the same.
	h := &Header{ChainID: testChain, DACommitments: [][]byte{{}, {5}}}
	got, err := DecodeHeader(h.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), h.Encode()) || len(got.DACommitments) != 2 || len(got.DACommitments[0]) != 0 {
		t.Fatalf("empty commitment: %+v", got.DACommitments)
	}
}

func TestBlockRoundTrip(t *testing.T) {
	for name, b := range blocks() {
		t.Run(name, func(t *testing.T) {
			enc := b.Encode()
			got, err := Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Header, b.Header) {
				t.Fatalf("header %+v\nwant %+v", got.Header, b.Header)
			}
			if len(got.Txs) != len(b.Txs) {
				t.Fatalf("%d transactions, want %d", len(got.Txs), len(b.Txs))
			}
			for i := range b.Txs {
				if !bytes.Equal(got.Txs[i].Encode(), b.Txs[i].Encode()) || got.Txs[i].Hash() != b.Txs[i].Hash() {
					t.Fatalf("transaction %d differs", i)
				}
				if err := got.Txs[i].CheckStateless(testChain); err != nil {
					t.Fatalf("transaction %d: %v", i, err)
				}
			}
			if !bytes.Equal(got.Encode(), enc) || got.Hash() != b.Hash() || got.ComputeTxRoot() != b.ComputeTxRoot() {
				t.Fatal("re-encoding, hash or tx root differs")
			}
			// The header prefix of a block is the header encoding.
			if !bytes.HasPrefix(enc, b.Header.Encode()) {
				t.Fatal("block encoding does not start with its header")
			}
		})
	}
}

func TestDecodeRejectsEveryPrefix(t *testing.T) {
	for name, b := range blocks() {
		enc := b.Encode()
		for n := range len(enc) {
			got, err := Decode(enc[:n])
			if err == nil || got != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: Decode of %d of %d bytes: %v, %v", name, n, len(enc), got, err)
			}
		}
	}
	for name, h := range headers() {
		enc := h.Encode()
		for n := range len(enc) {
			got, err := DecodeHeader(enc[:n])
			if err == nil || got != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: DecodeHeader of %d of %d bytes: %v, %v", name, n, len(enc), got, err)
			}
		}
	}
}

// Offsets into a header encoding with chain id testChain.
const (
	offChainLen = 1
	offHeight   = 2 + len(testChain)
	offParent   = offHeight + 8
	offTime     = offParent + 32
	offProposer = offTime + 8
	offTxRoot   = offProposer + 32
	offState    = offTxRoot + 32
	offReceipts = offState + 32
	offBaseFee  = offReceipts + 32
	offDA       = offBaseFee + 24
)

var badWord = []byte{0x01, 0x00, 0x00, 0x7f} // the KoalaBear modulus, little-endian

func TestDecodeRejects(t *testing.T) {
	set := func(src []byte, i int, v ...byte) []byte {
		b := append([]byte(nil), src...)
		copy(b[i:], v)
		return b
	}
	bare := (&Header{ChainID: testChain}).Encode()
	full := header()
	fullEnc := full.Encode()
	withHeader := func(f func(h *Header)) []byte {
		h := header()
		f(h)
		return h.Encode()
	}
	blk := blocks()["mixed"]
	blkEnc := blk.Encode()
	hl := len(blk.Header.Encode())
	withTxCount := func(n uint32) []byte {
		return set(blkEnc, hl, binary.BigEndian.AppendUint32(nil, n)...)
	}
	withTx := func(i int, f func(b []byte) []byte) []byte {
		var out []byte
		out = append(out, blk.Header.Encode()...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(blk.Txs)))
		for j, t := range blk.Txs {
			e := append([]byte(nil), t.Encode()...)
			if j == i {
				e = f(e)
			}
			out = binary.BigEndian.AppendUint32(out, uint32(len(e)))
			out = append(out, e...)
		}
		return out
	}
	manyProofs := make([]ProofRef, MaxProofs+1)

	type tc struct {
		name string
		in   []byte
		err  error
		msg  string
	}
	headerCases := []tc{
		{"version 0", set(bare, 0, 0), ErrMalformed, "header version 0"},
		{"version 3", set(fullEnc, 0, 3), ErrMalformed, "header version 3"},
		{"version 1 read as 2", set(fullEnc, 0, 2), ErrMalformed, "malformed"},
		{"chain id length 0", withHeader(func(h *Header) { h.ChainID = "" }), ErrMalformed, "chain id length 0"},
		{"chain id length 65", withHeader(func(h *Header) { h.ChainID = strings.Repeat("a", 65) }), ErrMalformed, "chain id length 65"},
		{"proposer malformed", set(bare, offProposer, badWord...), ErrMalformed, "proposer"},
		{"state root malformed", set(bare, offState+28, 0xff, 0xff, 0xff, 0xff), ErrMalformed, "state root"},
		{"prover malformed", set(fullEnc, len(fullEnc)-4, badWord...), ErrMalformed, "prover"},
		{"17 DA commitments", withHeader(func(h *Header) { h.DACommitments = make([][]byte, MaxDACommitments+1) }), ErrMalformed, "17 DA commitments, at most 16"},
		{"255 DA commitments claimed", set(bare, offDA, 255), ErrMalformed, "255 DA commitments"},
		{"DA commitment of 4097 bytes", withHeader(func(h *Header) { h.DACommitments[1] = fill(MaxDACommitmentSize+1, 1) }), ErrMalformed, "DA commitment 1 is 4097 bytes"},
		{"DA commitment of 65535 bytes claimed", set(bare, offDA, 1, 0xff, 0xff), ErrMalformed, "DA commitment 0 is 65535 bytes"},
		{"consensus data over 1 MiB", withHeader(func(h *Header) { h.ConsensusData = make([]byte, MaxConsensusData+1) }), ErrMalformed, "consensus data is 1048577 bytes"},
		{"consensus data 4 GiB claimed", set(bare, offDA+1, 0xff, 0xff, 0xff, 0xff), ErrMalformed, "consensus data is 4294967295 bytes"},
		{"consensus data beyond input", set(bare, offDA+1, 0, 0, 1, 0), ErrMalformed, "consensus data truncated"},
		{"65 proofs", withHeader(func(h *Header) { h.Proofs = manyProofs }), ErrMalformed, "65 proofs, at most 64"},
		{"255 proofs claimed", set(bare, len(bare)-1, 255), ErrMalformed, "255 proofs"},
		{"proof count beyond input", set(bare, len(bare)-1, 1), ErrMalformed, "proof height truncated"},
	}
	for _, c := range headerCases {
		t.Run("header/"+c.name, func(t *testing.T) {
			checkReject(t, func() (any, error) { h, err := DecodeHeader(c.in); return h, err }, c.err, c.msg)
		})
		// The same header fails a block too.
		t.Run("block/"+c.name, func(t *testing.T) {
			in := binary.BigEndian.AppendUint32(append([]byte(nil), c.in...), 0)
			checkReject(t, func() (any, error) { b, err := Decode(in); return b, err }, c.err, c.msg)
		})
	}
	blockCases := []tc{
		{"header trailing byte", append(append([]byte(nil), fullEnc...), 0), ErrMalformed, "1 trailing bytes after the header"},
		{"block trailing byte", append(append([]byte(nil), blkEnc...), 0), ErrMalformed, "1 trailing bytes after the transactions"},
		{"block trailing tx count", binary.BigEndian.AppendUint32(append([]byte(nil), blkEnc...), 0), ErrMalformed, "4 trailing bytes"},
		{"tx count over MaxTxs", withTxCount(MaxTxs + 1), ErrMalformed, "65537 transactions, at most 65536"},
		{"tx count 2^32-1", withTxCount(math.MaxUint32), ErrMalformed, "4294967295 transactions"},
		{"tx count cannot fit", withTxCount(1000), ErrMalformed, "1000 transactions cannot fit"},
		{"tx count one too many", withTxCount(uint32(len(blk.Txs) + 1)), ErrMalformed, "truncated"},
		{"tx count one too few", withTxCount(uint32(len(blk.Txs) - 1)), ErrMalformed, "trailing bytes after the transactions"},
		{"tx with bad version", withTx(2, func(b []byte) []byte { b[0] = 9; return b }), tx.ErrVersion, "transaction 2: unsupported transaction version"},
		{"tx with reserved type", withTx(1, func(b []byte) []byte { b[1] = 20; return b }), tx.ErrType, "transaction 1: unsupported transaction type: type 20 is reserved"},
		{"tx with trailing byte", withTx(3, func(b []byte) []byte { return append(b, 0) }), tx.ErrMalformed, "transaction 3"},
		{"oversized block", make([]byte, MaxSize+1), ErrTooLarge, "at most 33554432"},
	}
	for _, c := range blockCases {
		t.Run(c.name, func(t *testing.T) {
			if strings.HasPrefix(c.name, "header") {
				checkReject(t, func() (any, error) { h, err := DecodeHeader(c.in); return h, err }, c.err, c.msg)
				return
			}
			checkReject(t, func() (any, error) { b, err := Decode(c.in); return b, err }, c.err, c.msg)
		})
	}
	// A bad transaction inside a block is both a malformed block and the
	// transaction's own error.
	_, err := Decode(withTx(0, func(b []byte) []byte { b[0] = 9; return b }))
	if !errors.Is(err, ErrMalformed) || !errors.Is(err, tx.ErrVersion) {
		t.Fatalf("error %v does not wrap both ErrMalformed and tx.ErrVersion", err)
	}
	// At the limits a header still decodes.
	if _, err := DecodeHeader(headers()["at every limit"].Encode()); err != nil {
		t.Fatal(err)
	}
}

func checkReject(t *testing.T, decode func() (any, error), want error, msg string) {
	t.Helper()
	v, err := decode()
	if err == nil {
		t.Fatalf("accepted as %+v", v)
	}
	if !reflect.ValueOf(v).IsNil() {
		t.Errorf("returned a value with error %v", err)
	}
	if !errors.Is(err, want) {
		t.Errorf("error %q does not wrap %q", err, want)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not mention %q", err, msg)
	}
}

func TestHeaderHashChangesWithEveryField(t *testing.T) {
	changes := map[string]func(h *Header){
		"chain id":              func(h *Header) { h.ChainID = "trellis-tesu" },
		"chain id length":       func(h *Header) { h.ChainID += "x" },
		"height":                func(h *Header) { h.Height++ },
		"parent":                func(h *Header) { h.Parent[31] ^= 1 },
		"timestamp":             func(h *Header) { h.TimestampMs++ },
		"timestamp sign":        func(h *Header) { h.TimestampMs = -h.TimestampMs },
		"proposer":              func(h *Header) { h.Proposer = addr(9) },
		"tx root":               func(h *Header) { h.TxRoot[0] ^= 1 },
		"state root":            func(h *Header) { h.StateRoot[7].SetUint64(h.StateRoot[7].Uint64() + 1) },
		"receipts root":         func(h *Header) { h.ReceiptsRoot[5] ^= 1 },
		"base fee":              func(h *Header) { h.BaseFee++ },
		"gas limit":             func(h *Header) { h.GasLimit++ },
		"gas used":              func(h *Header) { h.GasUsed++ },
		"DA commitment byte":    func(h *Header) { h.DACommitments[1][4095] ^= 1 },
		"DA commitment dropped": func(h *Header) { h.DACommitments = h.DACommitments[:2] },
		"DA commitments none":   func(h *Header) { h.DACommitments = nil },
		"DA commitment split": func(h *Header) {
			h.DACommitments = [][]byte{fill(47, 0xc0), append([]byte{0xc0}, h.DACommitments[1]...), {1}}
		},
		"consensus data byte":   func(h *Header) { h.ConsensusData[0] ^= 1 },
		"consensus data longer": func(h *Header) { h.ConsensusData = append(h.ConsensusData, 0) },
		"consensus data none":   func(h *Header) { h.ConsensusData = nil },
		"proof height":          func(h *Header) { h.Proofs[0].Height++ },
		"proof block hash":      func(h *Header) { h.Proofs[1].BlockHash[0] ^= 1 },
		"proof hash":            func(h *Header) { h.Proofs[0].ProofHash[31] ^= 1 },
		"prover":                func(h *Header) { h.Proofs[1].Prover = addr(8) },
		"proof dropped":         func(h *Header) { h.Proofs = h.Proofs[:1] },
		"proofs swapped":        func(h *Header) { h.Proofs[0], h.Proofs[1] = h.Proofs[1], h.Proofs[0] },
	}
	base := header().Hash()
	if base != header().Hash() {
		t.Fatal("header hash is not deterministic")
	}
	seen := map[Hash]string{base: "base"}
	for name, f := range changes {
		h := header()
		f(h)
		got := h.Hash()
		if prev, dup := seen[got]; dup {
			t.Errorf("changing the %s gives the hash of %s", name, prev)
		}
		seen[got] = name
	}
	// The hash is the documented one: SHA-256 of the domain and the encoding.
	h := header()
	if want := sha256.Sum256(append([]byte("trellis/header/v1\x00"), h.Encode()...)); Hash(want) != h.Hash() {
		t.Fatal("Hash is not SHA-256(domain ‖ encoding)")
	}
	b := &Block{Header: *h, Txs: transfers(2)}
	if b.Hash() != h.Hash() {
		t.Fatal("a block's hash is not its header's")
	}
}

// Reference Merkle tree, written out by hand from the package doc.
func leafHash(l [32]byte) [32]byte { return sha256.Sum256(append([]byte{0}, l[:]...)) }
func nodeHash(a, b [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{1}, a[:]...), b[:]...))
}

// rfc6962 is the recursive Merkle Tree Hash of RFC 6962 §2.1: split at the
// largest power of two below n.
func rfc6962(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leafHash(leaves[0])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return nodeHash(rfc6962(leaves[:k]), rfc6962(leaves[k:]))
}

func TestMerkleRoot(t *testing.T) {
	l := make([][32]byte, 40)
	for i := range l {
		l[i] = sha256.Sum256([]byte{byte(i)})
	}
	L := func(i int) [32]byte { return leafHash(l[i]) }
	N := nodeHash
	hand := map[int][32]byte{
		0: sha256.Sum256([]byte{}),
		1: L(0),
		2: N(L(0), L(1)),
		3: N(N(L(0), L(1)), L(2)),
		5: N(N(N(L(0), L(1)), N(L(2), L(3))), L(4)),
	}
	for n, want := range hand {
		if got := MerkleRoot(l[:n]); got != want {
			t.Errorf("MerkleRoot of %d leaves = %x, want %x", n, got, want)
		}
	}
	// Carrying an odd node up gives RFC 6962's tree for every size.
	for n := range len(l) + 1 {
		if got, want := MerkleRoot(l[:n]), rfc6962(l[:n]); got != want {
			t.Errorf("MerkleRoot of %d leaves differs from RFC 6962", n)
		}
	}
	// A leaf is never mistaken for an inner node.
	if MerkleRoot([][32]byte{L(0), L(1)}) == MerkleRoot(l[:2]) {
		t.Fatal("leaf and node domains collide")
	}
	// Order matters; MerkleRoot does not modify its input.
	in := [][32]byte{l[0], l[1], l[2]}
	r := MerkleRoot(in)
	if MerkleRoot([][32]byte{l[1], l[0], l[2]}) == r || in[0] != l[0] || in[2] != l[2] {
		t.Fatal("order ignored or input modified")
	}
}

func TestComputeTxRoot(t *testing.T) {
	b := blocks()["transfers"]
	hs := b.TxHashes()
	for i, t2 := range b.Txs {
		if hs[i] != t2.Hash() {
			t.Fatalf("TxHashes[%d] is not the transaction's hash", i)
		}
	}
	if b.ComputeTxRoot() != MerkleRoot(hs) {
		t.Fatal("ComputeTxRoot is not the Merkle root of the hashes")
	}
	if (&Block{}).ComputeTxRoot() != sha256.Sum256(nil) {
		t.Fatal("tx root of an empty block")
	}
}

func TestHashText(t *testing.T) {
	h := header().Hash()
	s := h.String()
	if len(s) != 66 || s[:2] != "0x" {
		t.Fatalf("String() = %q", s)
	}
	var u Hash
	txt, _ := h.MarshalText()
	if err := u.UnmarshalText(txt); err != nil || u != h {
		t.Fatalf("text round trip: %v", err)
	}
	if err := u.UnmarshalText([]byte("0x12")); err == nil {
		t.Fatal("short hash accepted")
	}
	if h.IsZero() || !(Hash{}).IsZero() {
		t.Fatal("IsZero")
	}
}

// StateRoot elements must be canonical; elements ≥ p are not encodings.
func TestStateRootLargestElement(t *testing.T) {
	h := &Header{ChainID: testChain}
	for i := range h.StateRoot {
		h.StateRoot[i].SetUint64(uint64(koalabear.Modulus().Uint64() - 1))
	}
	got, err := DecodeHeader(h.Encode())
	if err != nil || got.StateRoot != h.StateRoot {
		t.Fatalf("largest state root elements: %v", err)
	}
}
