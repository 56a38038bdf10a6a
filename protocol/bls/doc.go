// Package bls implements BLS signatures over BLS12-381 for consensus votes
// and validator registration, built on gnark-crypto's pairing and
// hash-to-curve.
//
// # Scheme
//
// It follows the IETF BLS signature draft (draft-irtf-cfrg-bls-signature-05),
// "minimal-pubkey-size" variant with proof of possession, the same choices as
// Ethereum's consensus layer, so its signatures interoperate with blst, herumi
// and py_ecc:
//
//   - secret keys are scalars in [1, r), 32 bytes big-endian;
//   - public keys are pk = sk·g1 in G1, 48-byte compressed (ZCash encoding);
//   - signatures are sig = sk·H(msg) in G2, 96-byte compressed, where H is
//     RFC 9380 hash_to_curve BLS12381G2_XMD:SHA-256_SSWU_RO_;
//   - Verify checks e(pk, H(msg)) = e(g1, sig) as one two-pair PairingCheck.
//
// Domain separation tags:
//
//	messages:           BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_
//	proof of possession: BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_
//
// A proof of possession (PoP) is a signature over the key's own 48-byte
// compressed encoding under the PoP tag. The distinct tag means no message
// signature can ever pass as a PoP, and no PoP as a message signature.
//
// # Why proof of possession
//
// Votes are aggregated: many validators sign the same block and the
// certificate carries one signature, checked against the sum of their public
// keys (VerifyAggregate, the draft's FastAggregateVerify). Without a further
// check this is open to a rogue-key attack: an attacker who sees honest key
// pk_h registers pk_a = x·g1 − pk_h, whose secret it does not know. The
// aggregate pk_a + pk_h = x·g1 then lets it forge a "joint" signature x·H(m)
// alone. Requiring every key to come with a valid PoP, checked once when the
// key is registered (genesis or a bond transaction), proves its owner knows the
// secret, which rules such keys out. VerifyAggregate is therefore sound only
// over keys whose PoP was verified; consensus code must never aggregate keys
// that skipped VerifyProofOfPossession.
//
// # Untrusted input
//
// PublicKeyFromBytes and SignatureFromBytes decode bytes from peers: they
// accept only the canonical compressed encoding of a point that is on the
// curve, in the prime-order subgroup and not the identity, and never panic.
// Every PublicKey and Signature value the package hands out satisfies the
// same rules, so Verify does not repeat the subgroup checks. The zero values
// of PublicKey and Signature are the identity and are rejected by Verify.
//
// Signing is deterministic: one key gives one signature per message, so a
// signature hashed to bytes also serves as a verifiable random output (the
// longest-chain plugin's leader lottery). Every function is safe for
// concurrent use.
//
// Scalar multiplication in gnark-crypto is not constant time. Signing runs
// in the validator's own process on its own key, where timing is observable
// only coarsely over the network; a node that needs hardened signing should
// keep the key in a remote signer.
//
// # Key files
//
// LoadKeyFile and WriteKeyFile read and write the JSON key file that
// `trellis init` creates as keys/validator_bls_key.json:
//
//	{"type": "bls12-381-g1", "public_key": "<96 hex>", "private_key": "<64 hex>"}
//
// The PoP is not stored: it is deterministic and ProofOfPossession recomputes
// it from the secret key whenever a registration needs it.
package bls
