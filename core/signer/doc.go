// Package signer holds the node's private keys, so that plugins never see
// them, and protects the validator from signing two conflicting consensus
// messages: being slashed for a double sign must take a bug in this
// package, not in a consensus plugin.
//
// Slashing protection works like Tendermint's privval, per slot: for each
// (chain id, BLS key) the store keeps the highest (height, round, step)
// signed with its sign bytes and signature. A request for a lower slot is
// refused; the same slot with the same bytes returns the same signature
// (a restarted plugin may ask again); the same slot with other bytes is a
// *ConflictError. A higher slot is committed to the node's bbolt file, and
// fsynced, before its signature leaves the signer, so a crash right after
// signing cannot forget it; Open also keeps the records in StateFile beside
// the keys, and the higher of the two is in force, so a database restored
// from an old backup cannot move the validator backwards. A record that
// cannot be read is an error; it is never reset silently.
//
// The records live in the host-owned store namespace "host.signer", which
// no plugin namespace (kind.name, with kinds consensus, prover, da, fee)
// can name.
package signer
