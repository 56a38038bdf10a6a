// Package genesis reads, checks and applies the genesis file: the chain id,
// the initial accounts and validators, the fee parameters of block 0 and
// the unbonding delay, optionally the prover market's rules
// ("prover_market") and provers registered at genesis ("provers", bonded
// from their genesis balances; docs/market.md). Every node of a network must start from the same
// file; its genesis block hash names the network as much as the chain id.
//
// Amounts are JSON strings of decimal base units, because they can exceed
// 2^53. The fee plugin's market parameters (elasticity, splits) live in its
// `config {}` block and must match across the network as this file must.
package genesis
