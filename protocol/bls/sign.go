package bls

import (
	"fmt"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// Domain separation tags of the IETF draft's proof-of-possession scheme
// for the minimal-pubkey-size variant.
const (
	// DST is the tag for message signatures.
	DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
	// PoPDST is the tag for proofs of possession.
	PoPDST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
)

var (
	dstMsg = []byte(DST)
	dstPoP = []byte(PoPDST)
	// negG1 is −g1, so that one PairingCheck tests e(pk, H) · e(−g1, sig) = 1.
	negG1 bls12381.G1Affine
)

func init() {
	_, _, g1, _ := bls12381.Generators()
	negG1.Neg(&g1)
}

// hashToG2 maps msg to G2 under dst. gnark only fails for a tag longer
// than 255 bytes or an output longer than 8160 bytes; both tags here are
// constants of 43 bytes and the output is fixed at 256 bytes, so the panic
// is unreachable whatever msg holds.
func hashToG2(msg, dst []byte) bls12381.G2Affine {
	h, err := bls12381.HashToG2(msg, dst)
	if err != nil {
		panic("bls: hash to G2 with a constant tag failed: " + err.Error())
	}
	return h
}

func sign(sk *SecretKey, msg, dst []byte) Signature {
	h := hashToG2(msg, dst)
	var sig Signature
	sig.p.ScalarMultiplication(&h, sk.scalar())
	return sig
}

// coreVerify checks e(pk, H(msg)) = e(g1, sig) under dst. pk and sig are
// subgroup members by construction (the types only hold such points), so
// only the identity needs rejecting here: the zero values are the identity
// and would make the check vacuous.
func coreVerify(pk PublicKey, msg []byte, sig Signature, dst []byte, what string) error {
	if pk.p.IsInfinity() {
		return fmt.Errorf("%w: %s: %w: the identity", ErrVerify, what, ErrPublicKey)
	}
	if sig.p.IsInfinity() {
		return fmt.Errorf("%w: %s: %w: the identity", ErrVerify, what, ErrSignature)
	}
	h := hashToG2(msg, dst)
	ok, err := bls12381.PairingCheck(
		[]bls12381.G1Affine{pk.p, negG1},
		[]bls12381.G2Affine{h, sig.p},
	)
	if err != nil {
		return fmt.Errorf("%w: %s: pairing: %v", ErrVerify, what, err)
	}
	if !ok {
		return fmt.Errorf("%w: %s does not match public key %s", ErrVerify, what, pk)
	}
	return nil
}

// Sign returns sk's signature on msg under the message tag DST. sk must
// come from GenerateKey, SecretKeyFromBytes or LoadKeyFile.
func Sign(sk *SecretKey, msg []byte) Signature {
	return sign(sk, msg, dstMsg)
}

// Verify checks that sig is pk's signature on msg. It returns nil on
// success and otherwise an error wrapping ErrVerify.
func Verify(pk PublicKey, msg []byte, sig Signature) error {
	return coreVerify(pk, msg, sig, dstMsg, "signature")
}

// ProofOfPossession returns sk's proof of possession: its signature on its
// own 48-byte compressed public key under the tag PoPDST. A validator
// publishes it with its public key when it registers.
func ProofOfPossession(sk *SecretKey) Signature {
	pkb := sk.PublicKey().Bytes()
	return sign(sk, pkb[:], dstPoP)
}

// VerifyProofOfPossession checks pop against pk. Run it once for every key
// before the key may take part in VerifyAggregate; it returns nil on success
// and otherwise an error wrapping ErrVerify.
func VerifyProofOfPossession(pk PublicKey, pop Signature) error {
	pkb := pk.Bytes()
	return coreVerify(pk, pkb[:], pop, dstPoP, "proof of possession")
}

// VerifyEncodedProofOfPossession decodes a compressed public key and its
// proof of possession, as a registration carries them, and checks them.
func VerifyEncodedProofOfPossession(pub, pop []byte) error {
	pk, err := PublicKeyFromBytes(pub)
	if err != nil {
		return err
	}
	sig, err := SignatureFromBytes(pop)
	if err != nil {
		return err
	}
	return VerifyProofOfPossession(pk, sig)
}

// AggregateSignatures adds signatures into one. It fails on an empty list
// and when the sum is the identity, which no set of honest signatures
// produces and which would never verify.
func AggregateSignatures(sigs []Signature) (Signature, error) {
	if len(sigs) == 0 {
		return Signature{}, fmt.Errorf("%w: no signatures to aggregate", ErrSignature)
	}
	var acc bls12381.G2Jac
	acc.FromAffine(&sigs[0].p)
	for i := 1; i < len(sigs); i++ {
		acc.AddMixed(&sigs[i].p)
	}
	var agg Signature
	agg.p.FromJacobian(&acc)
	if agg.p.IsInfinity() {
		return Signature{}, fmt.Errorf("%w: the %d signatures sum to the identity", ErrSignature, len(sigs))
	}
	return agg, nil
}

// AggregatePublicKeys adds public keys into one. It fails on an empty list
// and when the sum is the identity. The result is meaningful for
// VerifyAggregate only if every key's proof of possession was verified.
func AggregatePublicKeys(pks []PublicKey) (PublicKey, error) {
	if len(pks) == 0 {
		return PublicKey{}, fmt.Errorf("%w: no public keys to aggregate", ErrPublicKey)
	}
	var acc bls12381.G1Jac
	acc.FromAffine(&pks[0].p)
	for i := 1; i < len(pks); i++ {
		acc.AddMixed(&pks[i].p)
	}
	var agg PublicKey
	agg.p.FromJacobian(&acc)
	if agg.p.IsInfinity() {
		return PublicKey{}, fmt.Errorf("%w: the %d public keys sum to the identity", ErrPublicKey, len(pks))
	}
	return agg, nil
}

// VerifyAggregate checks that aggSig is the aggregate of signatures by every
// key in pks on the same msg (the draft's FastAggregateVerify): it sums the
// keys and runs Verify once, about the cost of a single verification.
//
// It is sound only if the proof of possession of every key in pks was
// checked with VerifyProofOfPossession beforehand (at registration);
// otherwise a rogue key can forge an aggregate. A key listed twice counts
// twice. It returns nil on success and otherwise an error wrapping ErrVerify.
func VerifyAggregate(pks []PublicKey, msg []byte, aggSig Signature) error {
	apk, err := AggregatePublicKeys(pks)
	if err != nil {
		return fmt.Errorf("%w: aggregate signature: %w", ErrVerify, err)
	}
	return coreVerify(apk, msg, aggSig, dstMsg, fmt.Sprintf("aggregate signature of %d keys", len(pks)))
}
