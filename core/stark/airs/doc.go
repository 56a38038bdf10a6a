// Package airs holds AIRs built on core/stark: Fibonacci (the smallest useful
// statement, for tests and benchmarks) and Poseidon2, which proves chains of
// the exact permutation pinned by core/hash and exports its per-permutation
// constraints and trace filler as the building block of larger statements
// (Merkle paths of the state tree in the block AIR).
package airs
