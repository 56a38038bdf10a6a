// Package hashsig is Trellis's hash-based signature scheme: a Winternitz
// one-time signature with a target-sum encoding under a Merkle tree of
// 2^h one-time keys (XMSS-style), built only from the chain's Poseidon2
// over KoalaBear (protocol/hash), so that a STARK over the same field can
// check a signature for a few hundred permutations where ed25519 would
// cost ~45× a transfer.
//
// A key is stateful: each of its 2^h one-time keys may sign one message,
// ever. This package signs at whatever index it is given; core/keystore
// owns the rule that an index is never used twice (docs/signatures.md).
//
// Parameters (docs/signatures.md gives the security argument): 64 chains
// of 8 positions (3 bits each, 192 bits of encoding), every encoding's
// positions summing to 224, so a verifier always walks 224 chain steps;
// digests of 8 field elements (248 bits); one-time key leaf and tree nodes
// by the package's tagged hashes. Verification costs 3 + 224 + 65 + h
// compressions (308 at h = 16); a signature is 2,057 + 32·h bytes.
package hashsig
