// Package blocksync brings a node's final blocks up to its peers': every
// half second it asks the peers whose status is ahead for
// the missing final blocks, a window at a time (p2p.Host.Download), checks
// each one's certificate with the consensus plugin (a FinalityVerifier) and
// its execution with the chain, then commits, sets the head and finalizes.
// A block that fails a check is the peer's fault (p2p.ErrBadBlock): the
// download drops that peer and asks another. Source serves this node's
// final blocks to peers that sync from it.
package blocksync
