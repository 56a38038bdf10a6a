package tx

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hashsig"
	"github.com/trellis-chain/trellis/protocol/vote"
)

func mul64(a, b uint64) (hi, lo uint64) { return bits.Mul64(a, b) }

// bodySize is the fixed body length per type; for a variable body (slash,
// prover registration, proof) it is the part up to and including the length
// prefix, which the variable bytes follow.
func bodySize(t Type) (int, error) {
	switch t {
	case TypeSlash:
		return 2, nil
	case TypeProverRegister:
		return 1, nil
	case TypeProverExit:
		return 0, nil
	case TypeProof:
		return 8 + 4, nil
	case TypeTransfer, TypeUnbond, TypeDelegate:
		return account.AddressSize + 8, nil
	case TypeBond:
		return 8 + account.BLSPublicKeySize + account.BLSSignatureSize, nil
	}
	switch {
	case t >= FirstProverType && t <= LastProverType:
		return 0, fmt.Errorf("%w: type %d is reserved for the prover market and not defined by this node", ErrType, t)
	case t >= FirstGovernanceType && t <= LastGovernanceType:
		return 0, fmt.Errorf("%w: type %d is reserved for governance, which this node does not support yet", ErrType, t)
	}
	return 0, fmt.Errorf("%w: unknown type %d", ErrType, t)
}

// Decode parses a canonical encoding. It never panics; the error names the
// field that is wrong. Signatures are not checked here (see Check).
func Decode(b []byte) (*Tx, error) {
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxEncodedSize)
	}
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: %d bytes is shorter than any transaction", ErrMalformed, len(b))
	}
	typ, ver := Type(b[1]), b[0]
	if lim := sizeLimit(ver, typ); len(b) > lim {
		return nil, fmt.Errorf("%w: %d bytes, at most %d for a %s", ErrTooLarge, len(b), lim, typ)
	}
	if ver != Version && ver != VersionHashSig {
		return nil, fmt.Errorf("%w: version %d, this node reads versions %d (ed25519) and %d (hash-based keys)", ErrVersion, ver, Version, VersionHashSig)
	}
	bs, err := bodySize(typ)
	if err != nil {
		return nil, err
	}
	cl := int(b[2])
	if cl == 0 || cl > MaxChainIDLen {
		return nil, fmt.Errorf("%w: chain id length %d, want 1..%d", ErrMalformed, cl, MaxChainIDLen)
	}
	// Variable bodies: add the length their prefix announces (it cannot
	// overflow an int: a u32 plus a size already bounded by SizeLimit).
	if start := 3 + cl + 32; len(b) >= start+bs {
		switch typ {
		case TypeSlash:
			bs += int(binary.BigEndian.Uint16(b[start:]))
		case TypeProverRegister:
			bs += int(b[start]) + 3*8
		case TypeProof:
			bs += int(binary.BigEndian.Uint32(b[start+8:]))
		}
	}
	authAt := 3 + cl + 32 + bs
	want := authAt + ed25519.PublicKeySize + ed25519.SignatureSize
	if ver == VersionHashSig {
		// The signature's first byte, its key's log lifetime, sizes it.
		want = authAt + hashsig.PublicKeySize + hashsig.SignatureSize(hashsig.MinLogLifetime)
		if at := authAt + hashsig.PublicKeySize; len(b) > at {
			if h := int(b[at]); h >= hashsig.MinLogLifetime && h <= hashsig.MaxLogLifetime {
				want = at + hashsig.SignatureSize(h)
			}
		}
	}
	if len(b) != want {
		return nil, fmt.Errorf("%w: %s transaction is %d bytes, want %d", ErrMalformed, typ, len(b), want)
	}
	t := &Tx{ChainID: string(b[3 : 3+cl])}
	if err := checkChainID(t.ChainID); err != nil {
		return nil, err
	}
	p := b[3+cl:]
	t.Nonce = binary.BigEndian.Uint64(p)
	t.GasLimit = binary.BigEndian.Uint64(p[8:])
	t.MaxFeePerGas = binary.BigEndian.Uint64(p[16:])
	t.MaxPriorityFeePerGas = binary.BigEndian.Uint64(p[24:])
	p = p[32:]
	body, err := decodeBody(typ, p[:bs])
	if err != nil {
		return nil, err
	}
	t.Body = body
	p = p[bs:]
	if ver == VersionHashSig {
		auth, err := decodeHashSig(p)
		if err != nil {
			return nil, err
		}
		t.HashSig = auth
	} else {
		copy(t.PublicKey[:], p[:32])
		copy(t.Signature[:], p[32:96])
	}
	t.encoded = append([]byte(nil), b...)
	t.cached = false
	t.cache()
	return t, nil
}

// decodeHashSig parses a hash-based key and signature (their lengths are
// checked already); the signature must be for a key of the key's lifetime.
func decodeHashSig(p []byte) (*HashSigAuth, error) {
	pub, err := hashsig.ParsePublicKey(p[:hashsig.PublicKeySize])
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	sig, err := hashsig.ParseSignature(p[hashsig.PublicKeySize:])
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	if len(sig.Path) != pub.LogLifetime {
		return nil, fmt.Errorf("%w: signature for a key of 2^%d one-time keys, the key has 2^%d", ErrMalformed, len(sig.Path), pub.LogLifetime)
	}
	return &HashSigAuth{PublicKey: pub, Signature: sig}, nil
}

func decodeBody(typ Type, p []byte) (Body, error) {
	addr := func(field string) (account.Address, error) {
		a, err := account.AddressFromBytes(p[:account.AddressSize])
		if err != nil {
			return a, fmt.Errorf("%w: %s: %v", ErrMalformed, field, err)
		}
		return a, nil
	}
	switch typ {
	case TypeTransfer:
		to, err := addr("recipient")
		return Transfer{To: to, Amount: binary.BigEndian.Uint64(p[32:])}, err
	case TypeUnbond:
		v, err := addr("validator")
		return Unbond{Validator: v, Amount: binary.BigEndian.Uint64(p[32:])}, err
	case TypeDelegate:
		v, err := addr("validator")
		return Delegate{Validator: v, Amount: binary.BigEndian.Uint64(p[32:])}, err
	case TypeBond:
		var bd Bond
		bd.Amount = binary.BigEndian.Uint64(p)
		copy(bd.BLSPublicKey[:], p[8:])
		copy(bd.ProofOfPossession[:], p[8+account.BLSPublicKeySize:])
		return bd, nil
	case TypeSlash:
		ev := p[2:]
		if len(ev) == 0 || len(ev) > vote.MaxEvidenceSize {
			return nil, fmt.Errorf("%w: evidence of %d bytes, want 1..%d", ErrMalformed, len(ev), vote.MaxEvidenceSize)
		}
		return Slash{Evidence: string(ev)}, nil
	case TypeProverRegister:
		n := int(p[0])
		r := ProverRegister{Kind: string(p[1 : 1+n])}
		if err := account.CheckProverKind(r.Kind); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		q := p[1+n:]
		r.Throughput = binary.BigEndian.Uint64(q)
		r.Price = binary.BigEndian.Uint64(q[8:])
		r.Bond = binary.BigEndian.Uint64(q[16:])
		return r, nil
	case TypeProverExit:
		return ProverExit{}, nil
	case TypeProof:
		pr := p[12:]
		if len(pr) == 0 || len(pr) > MaxProofSize {
			return nil, fmt.Errorf("%w: proof of %d bytes, want 1..%d", ErrMalformed, len(pr), MaxProofSize)
		}
		return Proof{Height: binary.BigEndian.Uint64(p), Proof: string(pr)}, nil
	}
	return nil, fmt.Errorf("%w: unknown type %d", ErrType, typ) // unreachable: bodySize checked
}

// CheckChainID reports whether id is a valid chain id: 1 to 64 bytes of
// printable ASCII without spaces. Blocks and genesis files use the same rule.
func CheckChainID(id string) error {
	if len(id) == 0 || len(id) > MaxChainIDLen {
		return fmt.Errorf("chain id length %d, want 1..%d", len(id), MaxChainIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("chain id has byte 0x%02x at %d; only printable ASCII without spaces", c, i)
		}
	}
	return nil
}

// checkChainID is CheckChainID as a transaction error.
func checkChainID(id string) error {
	if err := CheckChainID(id); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
