// Package robustness runs a seeded schedule of faults over a loaded local
// testnet of real node processes and checks the chain's promises while
// it runs and at the end: no two final blocks at one height, identical
// state roots at every common height, every transfer a client saw final
// present in the same block on every node, finality resuming within a
// bound after each fault heals, and no node's memory growing without
// bound. A run is reproducible from its seed: the schedule is a pure
// function of it (timing on a shared machine is not).
package robustness
