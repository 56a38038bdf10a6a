// Package tx defines ledger transactions: their canonical, versioned binary
// encoding, ed25519 signatures with chain-id domain separation, intrinsic gas
// and the stateless checks a node runs before a transaction reaches state.
//
// Encoding, version 1 (integers big-endian):
//
//	version u8 = 1 | type u8 | chain id: len u8 (1..64) + bytes
//	nonce u64 | gas limit u64 | max fee per gas u64 | max priority fee per gas u64
//	body (fixed layout per type; a slash is len u16 + vote.Evidence encoding)
//	sender public key [32] | signature [64]
//
// The signature covers "trellis/tx/v1" ‖ 0x00 ‖ every byte before the public
// key, then the public key, so the chain id is signed twice over: inside the
// body and as part of the encoding. A transaction signed for one chain never
// verifies on another. The hash is SHA-256 of the whole encoding; Go's
// ed25519 rejects non-canonical signatures, so a transaction has one hash.
//
// Types 1–4 are the bank and staking transactions, 5 reports a double
// signature (slashing); 16–31 are reserved for the
// prover market and 32–47 for governance, and decode to a clear "reserved"
// error until the issues that add them land.
package tx
