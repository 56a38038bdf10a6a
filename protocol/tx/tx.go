package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync/atomic"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/hashsig"
)

// Encoding versions: one per signature scheme, so that a transaction has
// one encoding and one hash.
const (
	// Version is the encoding of transactions signed with ed25519.
	Version = 1
	// VersionHashSig is the encoding of transactions signed with a
	// hash-based key (protocol/hashsig).
	VersionHashSig = 2
)

// Limits.
const (
	MaxChainIDLen = 64
	// MaxSize bounds an encoded transaction of every type but a proof; the
	// largest such body is a slash (712 bytes in all with the longest chain
	// id and evidence).
	MaxSize = 1024
	// MaxProofSize bounds the proof bytes of a proof transaction; batch
	// proofs are at most about 200 KB.
	MaxProofSize = 511 << 10
	// MaxProofTxSize bounds an encoded proof transaction: MaxProofSize plus
	// the header, body fields, key and signature (at most 211 bytes).
	MaxProofTxSize = 512 << 10
	// MaxEncodedSize is the largest encoded transaction of any type: what a
	// network message or an RPC request carrying one transaction must allow.
	MaxEncodedSize = MaxProofTxSize
	// HashSigExtra is what a hash-based key and signature add to a
	// transaction's size over ed25519's 96 bytes (at most).
	HashSigExtra = hashsig.PublicKeySize + hashsig.MaxSignatureSize - ed25519.PublicKeySize - ed25519.SignatureSize
	// HashSize is the length of a transaction hash.
	HashSize = sha256.Size
)

// SizeLimit returns the largest encoding allowed for an ed25519-signed
// transaction of type t.
func SizeLimit(t Type) int {
	if t == TypeProof {
		return MaxProofTxSize
	}
	return MaxSize
}

// sizeLimit is SizeLimit for an encoding version: a hash-based signature
// adds HashSigExtra, except to a proof, whose bytes must then be fewer.
func sizeLimit(version byte, t Type) int {
	if version == VersionHashSig && t != TypeProof {
		return MaxSize + HashSigExtra
	}
	return SizeLimit(t)
}

// SizeLimit is the largest encoding allowed for t's type and signature
// scheme.
func (t *Tx) SizeLimit() int { return sizeLimit(t.version(), t.Type()) }

// Type identifies a transaction body.
type Type uint8

// Transaction types.
const (
	TypeTransfer Type = 1
	TypeBond     Type = 2
	TypeUnbond   Type = 3
	TypeDelegate Type = 4
	// TypeSlash reports a validator's double signature (vote.Evidence).
	TypeSlash Type = 5
	// TypeProverRegister registers the sender as a prover, or updates its
	// profile and adds bond (the prover market, docs/market.md).
	TypeProverRegister Type = 16
	// TypeProverExit returns a prover's bond and leaves the market.
	TypeProverExit Type = 17
	// TypeProof settles a proof job with a batch proof.
	TypeProof Type = 18
)

// Reserved type ranges for later modules.
const (
	FirstProverType     Type = 16
	LastProverType      Type = 31
	FirstGovernanceType Type = 32
	LastGovernanceType  Type = 47
)

func (t Type) String() string {
	switch t {
	case TypeTransfer:
		return "transfer"
	case TypeBond:
		return "bond"
	case TypeUnbond:
		return "unbond"
	case TypeDelegate:
		return "delegate"
	case TypeSlash:
		return "slash"
	case TypeProverRegister:
		return "prover_register"
	case TypeProverExit:
		return "prover_exit"
	case TypeProof:
		return "proof"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Gas charged per transaction type: the ledger has no VM, so gas used is
// the intrinsic gas and is known before execution. One gas is about 50 ns
// of a validator's work: a transfer (1,000) is dominated by its 51 µs
// ed25519 check. A proof's STARK verification takes a few milliseconds
// (GasProof), and each proof byte costs GasProofByte for bandwidth and
// storage, so a 200 KB proof uses 250,000 gas and a block's gas limit
// also bounds the proof bytes it carries.
const (
	GasTransfer  = 1_000
	GasStaking   = 10_000
	GasProof     = 50_000
	GasProofByte = 1
	// GasHashSig is added for a hash-based signature: its ~310 Poseidon2
	// compressions take ~160 µs checked alone, about three ed25519 checks.
	GasHashSig = 3_000
)

// IntrinsicGas returns the gas a transaction of type t uses, or for a
// proof the part that does not depend on its size (see BodyGas).
func IntrinsicGas(t Type) uint64 {
	switch t {
	case TypeTransfer:
		return GasTransfer
	case TypeProof:
		return GasProof
	}
	return GasStaking
}

// BodyGas returns the gas a transaction with body b uses: IntrinsicGas of
// its type, plus GasProofByte per proof byte for a proof.
func BodyGas(b Body) uint64 {
	if p, ok := b.(Proof); ok {
		return GasProof + GasProofByte*uint64(len(p.Proof))
	}
	return IntrinsicGas(b.Type())
}

// Hash is a transaction hash.
type Hash [HashSize]byte

func (h Hash) String() string { return "0x" + hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses 0x and 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash parses 0x and 64 hex digits (the prefix is optional).
func ParseHash(s string) (Hash, error) {
	var h Hash
	x := s
	if len(x) >= 2 && (x[:2] == "0x" || x[:2] == "0X") {
		x = x[2:]
	}
	if len(x) != 2*HashSize {
		return h, fmt.Errorf("invalid hash %q: want 0x and %d hex digits", s, 2*HashSize)
	}
	if _, err := hex.Decode(h[:], []byte(x)); err != nil {
		return h, fmt.Errorf("invalid hash %q: %v", s, err)
	}
	return h, nil
}

// Body is the type-specific part of a transaction.
type Body interface {
	Type() Type
	appendTo(b []byte) []byte
}

// Transfer moves Amount from the sender's balance to To.
type Transfer struct {
	To     account.Address
	Amount uint64
}

// Bond moves Amount from the balance into the sender's own validator bond.
// The first bond registers the validator and must carry its BLS public key
// with a proof of possession; later bonds leave both zero.
type Bond struct {
	Amount            uint64
	BLSPublicKey      [account.BLSPublicKeySize]byte
	ProofOfPossession [account.BLSSignatureSize]byte
}

// Unbond starts returning Amount of stake bonded to Validator (the sender
// itself for its own bond); it reaches the balance after the unbonding delay.
type Unbond struct {
	Validator account.Address
	Amount    uint64
}

// Delegate bonds Amount of the sender's balance to Validator.
type Delegate struct {
	Validator account.Address
	Amount    uint64
}

// Slash reports that a validator signed two conflicting consensus
// messages. Evidence is a vote.Evidence encoding; executing the transaction
// verifies it against the validator's registered BLS key and slashes the
// validator (see core/exec). It is a string, not a []byte, so that every
// Body stays comparable and immutable once signed.
type Slash struct {
	Evidence string
}

// ProverRegister registers the sender as a prover with a profile and moves
// Bond from its balance into its prover bond. A registered prover sends it
// again to change its profile (Kind, Throughput, Price) or to add bond
// (Bond may then be 0). See docs/market.md.
type ProverRegister struct {
	// Kind names the hardware class: 1..16 bytes of a-z, 0-9, '-', '_', '.'.
	Kind string
	// Throughput is the Poseidon2 permutations per second the prover claims.
	Throughput uint64
	// Price is the tokens asked per proof job.
	Price uint64
	// Bond is added to the prover's bond.
	Bond uint64
}

// ProverExit returns the sender's whole prover bond to its balance and
// leaves the market; refused while it holds assigned open jobs.
type ProverExit struct{}

// Proof settles the open proof job for the block at Height with a batch
// proof (protocol/batch). Proof is a string, not a []byte, so that every Body
// stays comparable and immutable once signed.
type Proof struct {
	Height uint64
	Proof  string
}

func (Transfer) Type() Type       { return TypeTransfer }
func (Bond) Type() Type           { return TypeBond }
func (Unbond) Type() Type         { return TypeUnbond }
func (Delegate) Type() Type       { return TypeDelegate }
func (Slash) Type() Type          { return TypeSlash }
func (ProverRegister) Type() Type { return TypeProverRegister }
func (ProverExit) Type() Type     { return TypeProverExit }
func (Proof) Type() Type          { return TypeProof }

func (t ProverRegister) appendTo(b []byte) []byte {
	b = append(append(b, byte(len(t.Kind))), t.Kind...)
	b = binary.BigEndian.AppendUint64(b, t.Throughput)
	b = binary.BigEndian.AppendUint64(b, t.Price)
	return binary.BigEndian.AppendUint64(b, t.Bond)
}

func (ProverExit) appendTo(b []byte) []byte { return b }

func (t Proof) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, t.Height)
	b = binary.BigEndian.AppendUint32(b, uint32(len(t.Proof)))
	return append(b, t.Proof...)
}

func (t Transfer) appendTo(b []byte) []byte {
	return binary.BigEndian.AppendUint64(append(b, t.To[:]...), t.Amount)
}

func (t Bond) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, t.Amount)
	return append(append(b, t.BLSPublicKey[:]...), t.ProofOfPossession[:]...)
}

func (t Unbond) appendTo(b []byte) []byte {
	return binary.BigEndian.AppendUint64(append(b, t.Validator[:]...), t.Amount)
}

func (t Delegate) appendTo(b []byte) []byte {
	return binary.BigEndian.AppendUint64(append(b, t.Validator[:]...), t.Amount)
}

func (t Slash) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Evidence)))
	return append(b, t.Evidence...)
}

// HasKey reports whether the bond carries a BLS registration.
func (t Bond) HasKey() bool {
	return t.BLSPublicKey != [account.BLSPublicKeySize]byte{}
}

// Tx is a signed transaction. Build one with the fields set and call Sign;
// Decode returns one with its encoding and hash cached. Sign and Decode
// fill the cache, so their results are safe to share between goroutines;
// do not change the fields afterwards.
type Tx struct {
	ChainID              string
	Nonce                uint64
	GasLimit             uint64
	MaxFeePerGas         uint64
	MaxPriorityFeePerGas uint64
	Body                 Body
	PublicKey            [ed25519.PublicKeySize]byte
	Signature            [ed25519.SignatureSize]byte
	// HashSig, when set, authorizes the transaction with a hash-based key
	// instead (encoding version 2); PublicKey and Signature stay zero.
	HashSig *HashSigAuth

	encoded []byte
	hash    Hash
	sender  account.Address
	cached  bool
	// verified is set once the signature passed, so a transaction that is
	// checked again (a retry, a block after the mempool) costs nothing. Like
	// the cache it assumes the fields do not change after Sign or Decode.
	verified atomic.Bool
}

const signDomain = "trellis/tx/v1\x00"

// HashSigAuth is a hash-based key and its signature.
type HashSigAuth struct {
	PublicKey hashsig.PublicKey
	Signature *hashsig.Signature
}

// Type returns the body's type.
func (t *Tx) Type() Type { return t.Body.Type() }

// Gas returns the gas the transaction uses: its body's and, for a
// hash-based signature, GasHashSig.
func (t *Tx) Gas() uint64 {
	if t.HashSig != nil {
		return BodyGas(t.Body) + GasHashSig
	}
	return BodyGas(t.Body)
}

func (t *Tx) version() byte {
	if t.HashSig != nil {
		return VersionHashSig
	}
	return Version
}

func (t *Tx) appendUnsigned(b []byte) []byte {
	b = append(b, t.version(), byte(t.Body.Type()), byte(len(t.ChainID)))
	b = append(b, t.ChainID...)
	b = binary.BigEndian.AppendUint64(b, t.Nonce)
	b = binary.BigEndian.AppendUint64(b, t.GasLimit)
	b = binary.BigEndian.AppendUint64(b, t.MaxFeePerGas)
	b = binary.BigEndian.AppendUint64(b, t.MaxPriorityFeePerGas)
	b = t.Body.appendTo(b)
	if t.HashSig != nil {
		return append(b, t.HashSig.PublicKey.Bytes()...)
	}
	return append(b, t.PublicKey[:]...)
}

// SigningBytes returns the bytes the sender signs.
func (t *Tx) SigningBytes() []byte {
	return t.appendUnsigned([]byte(signDomain))
}

// Sign sets the public key from priv and signs.
func (t *Tx) Sign(priv ed25519.PrivateKey) {
	t.HashSig = nil
	copy(t.PublicKey[:], priv.Public().(ed25519.PublicKey))
	copy(t.Signature[:], ed25519.Sign(priv, t.SigningBytes()))
	t.cached = false
	t.verified.Store(false)
	t.cache() // filled now, so a signed transaction can be shared across goroutines
}

// SignHashSig authorizes t with the hash-based key pub: sign must sign the
// digest it is given at an index of the key never used before (the
// keystore keeps that rule, docs/signatures.md).
func (t *Tx) SignHashSig(pub hashsig.PublicKey, sign func(msg hash.Digest) (*hashsig.Signature, error)) error {
	t.PublicKey, t.Signature = [ed25519.PublicKeySize]byte{}, [ed25519.SignatureSize]byte{}
	t.HashSig = &HashSigAuth{PublicKey: pub}
	t.cached = false
	t.verified.Store(false)
	sig, err := sign(t.SigningDigest())
	if err != nil {
		return err
	}
	t.HashSig.Signature = sig
	t.cached = false
	t.cache()
	return nil
}

func (t *Tx) cache() {
	if t.cached {
		return
	}
	t.encoded = t.appendUnsigned(nil)
	if t.HashSig != nil {
		if t.HashSig.Signature != nil {
			t.encoded = append(t.encoded, t.HashSig.Signature.Bytes()...)
		}
		t.sender = t.HashSig.PublicKey.Address()
	} else {
		t.encoded = append(t.encoded, t.Signature[:]...)
		t.sender = account.FromPublicKey(t.PublicKey[:])
	}
	t.hash = sha256.Sum256(t.encoded)
	t.cached = true
}

// Encode returns the canonical encoding. The result must not be modified.
func (t *Tx) Encode() []byte { t.cache(); return t.encoded }

// Hash returns SHA-256 of the encoding.
func (t *Tx) Hash() Hash { t.cache(); return t.hash }

// Sender returns the address of the signing key.
func (t *Tx) Sender() account.Address { t.cache(); return t.sender }

// Size returns the encoded length.
func (t *Tx) Size() int { return len(t.Encode()) }

// MaxCost is what the sender must hold before execution: the transferred or
// bonded amount plus gas limit × max fee per gas. ok is false on overflow.
func (t *Tx) MaxCost() (cost uint64, ok bool) {
	hi, fee := mul64(t.GasLimit, t.MaxFeePerGas)
	if hi != 0 {
		return 0, false
	}
	amt := t.Amount()
	if t.Type() == TypeUnbond {
		amt = 0 // unbonding spends stake, not balance
	}
	s := fee + amt
	return s, s >= fee
}

// MaxFee returns gas limit × max fee per gas; ok is false on overflow.
func (t *Tx) MaxFee() (fee uint64, ok bool) {
	hi, lo := mul64(t.GasLimit, t.MaxFeePerGas)
	return lo, hi == 0
}

// Amount returns the body's amount: the bond of a prover registration, 0
// for a slash, a prover exit or a proof, which move none from the balance.
func (t *Tx) Amount() uint64 {
	switch b := t.Body.(type) {
	case Transfer:
		return b.Amount
	case Bond:
		return b.Amount
	case Unbond:
		return b.Amount
	case Delegate:
		return b.Amount
	case ProverRegister:
		return b.Bond
	}
	return 0
}
