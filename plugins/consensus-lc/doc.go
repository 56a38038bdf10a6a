// Package lc is the longest-chain consensus plugin (Ouroboros Praos
// style): time is cut into slots; in each slot every validator draws a
// ticket with its host-held BLS key (protocol/leader) and leads when the
// ticket is below its stake's threshold; leaders extend the longest chain
// they know; a block k blocks under the head is final, and no fork that
// would revert it is adopted (Praos' maxvalid rule). The parameters come
// from genesis (block 0's consensus data). docs/consensus-lc.md has the
// rules, the defaults and what they give.
package lc
