// Package fee is Trellis's fee market: the logic behind the fee plugin
// (binary trellis-fee-eip1559), kept importable so that the host's tests,
// and a future deterministic simulator, can link it in-process.
//
// It prices a whole block in one call (PriceBlock): an EIP-1559 base fee
// derived from the parent block, a priority tip per transaction capped by the
// sender's max fee, and a split of every fee between burn, treasury, sequencer
// and prover. The prover share is what the proof market escrows for the
// block's proof job.
//
// Everything here is consensus-critical: every node must reach the same
// numbers from the same inputs. So the package uses unsigned 64-bit integer
// arithmetic only, with 128-bit intermediates (math/bits) where a product may
// not fit, and reports overflow as an error instead of wrapping. There is no
// floating point, no map iteration and no clock. Rounding always goes down,
// and the remainder of a split goes to a fixed bucket, so value is conserved
// exactly: the parts of every fee add up to the fee.
//
// The formulas, defaults and a worked example are in docs/fee-market.md.
package fee
