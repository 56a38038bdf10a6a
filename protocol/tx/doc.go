// Package tx defines ledger transactions: their canonical, versioned binary
// encoding, ed25519 signatures with chain-id domain separation, intrinsic gas
// and the stateless checks a node runs before a transaction reaches state.
//
// Encoding, version 1 (integers big-endian):
//
//	version u8 = 1 | type u8 | chain id: len u8 (1..64) + bytes
//	nonce u64 | gas limit u64 | max fee per gas u64 | max priority fee per gas u64
//	body (fixed layout per type; a slash is len u16 + vote.Evidence encoding;
//	      prover_register is kind len u8 + kind + throughput u64 + price u64 + bond u64;
//	      prover_exit is empty; proof is height u64 + len u32 + proof bytes)
//	sender public key [32] | signature [64]
//
// Version 2 is the same layout for a sender with a hash-based key
// (protocol/hashsig, docs/signatures.md): version u8 = 2, and the key and
// signature are hashsig's encodings (65 bytes; 2,057 + 32·h bytes). Such a
// key signs a digest, not bytes: SigningDigest, the Poseidon2 digest of
// the signed content as structured field elements (elements.go), which
// is also what a header's transaction commitment chains. Its sender is the key's
// own address, it uses GasHashSig more gas, and it may be up to
// HashSigExtra bytes larger (a proof transaction may not: its proof is
// smaller instead). One version per scheme keeps one encoding, so one hash,
// per transaction.
//
// The signature covers "trellis/tx/v1" ‖ 0x00 ‖ every byte before the public
// key, then the public key, so the chain id is signed twice over: inside the
// body and as part of the encoding. A transaction signed for one chain never
// verifies on another. The hash is SHA-256 of the whole encoding. The
// signature rule (sig.go) is cofactored RFC 8032 verification with canonical
// encodings and no small-order keys: a transaction has one hash, and a batch
// of signatures verifies (VerifyBatch) exactly as each would alone.
//
// Types 1–4 are the bank and staking transactions, 5 reports a double
// signature (slashing); 16 prover_register, 17 prover_exit and 18 proof are
// the prover market (docs/market.md); the rest of 16–31 is reserved for it
// and 32–47 for governance, and decode to a clear "reserved" error.
//
// Sizes: every transaction but a proof is at most MaxSize (1 KiB); a proof
// transaction is at most MaxProofTxSize (512 KiB), which is MaxEncodedSize,
// the bound a network or RPC layer must allow for one transaction.
//
// Gas is intrinsic (see the Gas constants): transfer 1,000; staking, slash,
// prover_register and prover_exit 10,000; proof 50,000 + 1 per proof byte.
package tx
