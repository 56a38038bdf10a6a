// Package sdk is what a Trellis plugin author imports.
//
// A plugin is one binary, trellis-<kind>-<name>, whose main calls Serve with
// a value that implements Plugin and the interface of its kind (Fee,
// Consensus, Prover or DA). Serve speaks protocol v1 over go-plugin and gRPC:
// the handshake, AutoMTLS, logs to stderr through hclog, and the host
// services (Store, Clock, Metrics, Chain, Network, Signer) dialled back over
// the GRPCBroker and handed to Configure.
//
// The handshake and plugin set defined here are shared by the host runtime
// (core/plugin), so both sides of the boundary are built from one
// definition.
package sdk
