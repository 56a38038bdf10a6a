// Package plugin is the host's plugin runtime: it starts plugin binaries
// with go-plugin (protocol v1, SHA-256 pinning, AutoMTLS), checks what they
// say they are, decodes their config against the schema they declare, serves
// them the host services over the GRPCBroker, and supervises them: a crashed
// or hung plugin is restarted with backoff, a plugin that keeps failing
// falls back to another block of its kind or stops the node with an error.
//
// go-plugin itself never restarts a plugin (its issues #31, #305), so the
// Supervisor here owns that. Every wait is bounded by a timeout.
package plugin
