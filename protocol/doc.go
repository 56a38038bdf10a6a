// Package protocol is the root of Trellis's protocol layer: the public,
// versioned packages that define what crosses process and network
// boundaries. Plugins may import them, and the SDK builds on them; they
// import nothing of the host (internal/importrules enforces it).
//
//	hash     Poseidon2 over KoalaBear, pinned once, with its domain tags
//	account  addresses, account records and their leaf encoding
//	tx       transactions, their canonical encoding and signature rule
//	block    headers, blocks and receipts
//	vote     consensus sign bytes and double-sign evidence
//	bls      BLS12-381 signatures with proof of possession
//	state    the state tree and changesets (its bbolt store is the host's)
//	stark    the STARK prover and verifier
//	batch    the block statement proven by the provers
//	wire     the reader every big-endian decoder of untrusted bytes uses
//	leader   the longest-chain slot-leader lottery (BLS VRF, Praos threshold)
//
// Stability rule: a byte that these packages hash, sign or send is part of
// the protocol. Changing an encoding, a sign-bytes layout, a domain tag or a
// statement is a new version (a new version byte, statement name or
// package), never an edit in place: a plugin built against an earlier
// release must keep verifying what it verified. Additions that old readers
// ignore are allowed; Go API changes follow semantic versioning of the
// module, and docs/architecture.md records each break.
package protocol
