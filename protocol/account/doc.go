// Package account defines ledger accounts: the address derived from an ed25519
// public key, the account record with its balance, nonce and stake, the
// canonical encoding stored in bbolt, and the leaf of the Poseidon2 state tree
// that commits to it.
//
// Address: the 32-byte canonical encoding of hash.HashWithTag(TagAddress, pk)
// where the 32-byte public key pk is read as 16 little-endian 16-bit limbs.
// Using the state hash (not SHA-256) lets a STARK recompute an address from a
// public key with the same Poseidon2 rows it already has; every 32-byte string
// whose 4-byte words are below the field modulus is a well-formed address.
//
// Leaf (see Leaf): the tree commits to every field of an account. Amounts are
// split into four 16-bit limbs (KoalaBear elements hold 31 bits), so an AIR can
// range-check them with a 16-bit table:
//
//	[kind=1, address (8), balance (4), nonce (4), locked (4), extra digest (8)]
//
// Locked is everything the account holds outside its balance (Locked: own
// bond, delegations, unbonding entries), so a circuit can check value
// conservation from leaves alone: the sum over a batch's leaf updates of
// Δ(balance + locked) equals ΔSupply in the Globals leaf. The extra digest is
// HashWithTag(TagExtra, ...) over the canonical encoding of the self-bond,
// delegations, unbonding entries, validator record and the prover-market
// records (the record's tail after the nonce), or all zeros when the account
// has none of them, so plain transfer accounts hash 29 elements with a zero
// extra digest.
//
// Prover market (market.go): an account that registers as a prover holds a
// Prover record (profile, bond, reputation, counters); the prover escrow
// account (EscrowIndex) holds the registry of active provers and the open
// proof jobs, whose rewards are part of its balance. core/exec runs the
// market; docs/market.md describes it.
package account
