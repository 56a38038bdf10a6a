// Package sim is the deterministic simulator: a consensus plugin's own
// engine, many times over, in one process, on a virtual clock, over a
// modelled network, with modelled CPU costs. Same spec and seed, same
// event trace. It is for the validator counts one machine cannot hold as
// processes; docs/trials.md says what it models and where it is wrong.
package sim
