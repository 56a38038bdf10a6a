// Package conformance is the plugin conformance kit: it starts a plugin
// binary the way a Trellis node does and checks that it keeps the protocol's
// contract.
//
// The kit exists because a plugin is another process, often written by a
// third party, and the host trusts none of it: a plugin that passes its own
// unit tests can still print to stdout before the handshake, price a block
// whose fee split does not add up, or hang on a cancelled call. Run starts
// the real binary through core/plugin (pinned by its SHA-256, AutoMTLS,
// protocol v1 negotiated by go-plugin), serves it real host services on a
// temporary bbolt file, and runs named checks: the common ones every plugin
// must pass, then those of its kind. Checks are about invariants any correct
// plugin meets (a fee split sums to the fee), never about one
// implementation's numbers.
//
// Plugin authors call Test from a Go test; the node's CLI (`trellis plugin
// test -kind K BINARY`) calls Run and Report.Write. docs/plugin-authors.md
// lists every check and why it exists.
package conformance
