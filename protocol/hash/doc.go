// Package hash pins the one Poseidon2 hash of Trellis: the ledger's sparse
// Merkle state tree and every Merkle commitment and transcript of protocol/stark
// use it, so a prover (or a GPU kernel) can check itself against this package
// and its committed test vectors.
//
// Permutation: gnark-crypto v0.22.0 field/koalabear/poseidon2 default
// parameters — width 16, 6 full and 21 partial rounds, S-box x³, round keys
// from Keccak-256 of "Poseidon2-koalabear[t=16,rF=6,rP=21,d=3]". These are
// NOT Plonky3's KoalaBear parameters (8 full rounds, other constants).
//
// Compression: Compress(l, r) = P(l‖r)[8:16] + r, exactly gnark-crypto's
// Permutation.Compress (truncated permutation with feed-forward of the right
// input). We keep gnark's definition rather than invent a variant because its
// AVX-512 16-lane kernels (Compressx16ColumnsWithState) compute precisely this
// function several times faster per core than one permutation at a time
// (CompressLevel: ~34 ns per compression on 2 cores against ~480 ns for one
// scalar call), and a CUDA kernel then has a single primitive to reproduce.
//
// Hashing of variable-length input (Hash, HashLeaf, HashWithTag) is a
// Merkle–Damgård chain over Compress: the 8-element chaining value starts at an
// IV that encodes a domain tag and the input length, each block of 8 elements
// (the last one zero-padded) is absorbed as c ← Compress(c, block), and the final
// chaining value is the digest. Each call absorbs 8 elements and carries 8, the
// same rate/capacity split (8/8) as a width-16 sponge, but it needs only the
// compression function, so the fast kernels apply to leaf hashing too. Because
// the IV fixes the length, zero padding is unambiguous, and inputs of different
// lengths or tags start from different IVs; a collision of the chain yields a
// collision of Compress (the classic MD argument with length strengthening).
// Digests are 8 field elements, about 248 bits: ~124-bit collision resistance.
//
// Domain separation: leaves (HashLeaf) start from an IV whose first element is
// TagLeaf and whose last five elements are zero; inner nodes are HashNode =
// Compress(left, right) of two digests. An inner node equals a leaf hash only if
// some child digest equals a fixed IV, which is a preimage problem on 248 bits,
// and leaves of different lengths or tags never share an IV.
//
// Encoding: a Digest is 32 bytes, its 8 elements in order, each as 4 bytes
// little-endian of the canonical (non-Montgomery) value. Decoding rejects
// values ≥ p.
package hash
