// Package p2p is the node's peer-to-peer layer: a libp2p host (TCP and QUIC,
// noise, yamux) with gossipsub topics for plugins, direct one-peer messages,
// a status handshake that keeps other chains out, and request/response block
// sync with a parallel downloader.
//
// Why it looks the way it does: many nodes of a testnet share one machine, so
// every limit (resource manager, queues, rates) is set explicitly instead of
// being derived from the machine; consensus traffic is bursty, so gossipsub
// queues are large (measured: the default 32 loses votes at N >= 64); and
// everything that comes from a peer is size-limited, rate-limited and decoded
// defensively, and misbehaviour lowers the peer's gossipsub score until it is
// graylisted and disconnected. See docs/p2p.md.
package p2p
