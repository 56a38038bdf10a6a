// Package airs holds AIRs built on protocol/stark:
//
//   - Fibonacci: the smallest useful statement, for tests and benchmarks;
//   - Poseidon2Chain: Output = P^n(Input) for the exact permutation pinned by
//     protocol/hash, one permutation per row; its per-permutation constraints and
//     trace filler (EvalPermutation, FillPermutation) are exported as the
//     building block of larger statements;
//   - Poseidon2Rounds: the same statement with one round per row and the round
//     keys as periodic columns (a demonstration of periodic columns);
//   - MerklePath: a leaf digest and a root of a hash.HashNode tree, with the
//     siblings and directions private — the state-tree step of the block AIR.
package airs
