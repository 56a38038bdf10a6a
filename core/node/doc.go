// Package node wires a Trellis node from its configuration: the bbolt
// store, the ledger (core/chain, core/mempool), the network with the
// mempool's gossip reactor and block sync (core/blocksync), the signer and
// the evidence path (core/evidence), the proving worker (core/proving), the
// user API, the metrics endpoint and one supervised plugin per configured
// kind. It holds no gossip, sync or proving logic of its own: those live in
// the packages it wires. Errors that concern the config file come back as
// hcl.Diagnostics pointing at file:line:column.
package node
