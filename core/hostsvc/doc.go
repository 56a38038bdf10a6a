// Package hostsvc implements the host services of protocol v1 that plugins
// call over the GRPCBroker: Store, Clock, Metrics and Network. Each handler
// validates, calls, and maps errors to gRPC codes in one table (codes.go).
// Chain and Signer arrive with the ledger and consensus; until then a call
// answers Unimplemented and the capability is not advertised.
package hostsvc
