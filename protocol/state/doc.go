// Package state defines the ledger state's commitment: the binary sparse
// Merkle tree over account leaves (Poseidon2, protocol/hash) and the
// changesets that move it along the block tree, with their canonical
// encoding. The host keeps the records in bbolt (core/statedb); provers and
// verifiers need only this package.
//
// Tree: depth 32, keyed by account index; leaf 0 is the Globals record,
// leaves are account.Account.Leaf digests, an absent leaf is the zero
// digest and an empty subtree of height l has root empty[l] (empty[l+1] =
// Compress(empty[l], empty[l])). Inner nodes are hash.Compress(left, right).
// Indices are assigned in order, so the head tree is held as dense slices
// per level (about 64 MiB per million accounts) and rebuilt from the
// records at start; the chain checks the rebuilt root against the head
// header, so a damaged file is found before it is served.
//
// Versions: every committed block stores its state.Changeset (old and new records
// of the accounts it touched), so moving the head to any block of the tree
// — a reorg of the longest-chain plugin — applies reversed and forward
// changesets exactly, without re-executing; and the tree at an earlier
// height is an state.Overlay on the head tree with the reversed leaf updates,
// which is how inclusion proofs at kept heights are served. A block's
// leaf updates are applied in one pass: each level's changed nodes are
// hashed once, in parallel (hash.CompressMany).
package state
