// Package block defines blocks, headers and receipts with their canonical
// encodings, the block hash and the SHA-256 Merkle roots over transactions
// and receipts.
//
// Header encoding, version 1 (integers big-endian):
//
//	version u8 = 1 | chain id: len u8 + bytes | height u64 | parent [32]
//	timestamp ms i64 | proposer [32] | tx root [32] | state root [32]
//	receipts root [32] | base fee u64 | gas limit u64 | gas used u64
//	da commitments: n u8 + n × (len u16 + bytes)
//	consensus data: len u32 + bytes
//	proofs: n u8 + n × (height u64 | block hash [32] | proof hash [32] | prover [32])
//
// Version 2 is version 1 with the transaction commitment — a Poseidon2
// digest, 32 bytes — right after the tx root (TxCommitment: the ordered
// transactions' signing digests chained under hash.TagTxs). A chain's
// genesis fixes which version its headers are.
//
// The block hash is SHA-256("trellis/header/v1" ‖ 0x00 ‖ header encoding). A
// block is its header encoding followed by tx count u32 and each transaction
// as len u32 + bytes (u32 because proof transactions exceed 64 KiB). Roots are binary SHA-256 Merkle trees with RFC 6962's
// domain separation (leaf prefix 0x00, node prefix 0x01); an odd last node is
// carried up unchanged, so single transactions and receipts can be proven.
package block
