// Package store is the node's only on-disk database: one bbolt file per node
// (by convention <data dir>/trellis.db) holding the chain, the state tree,
// receipts and every plugin's private key-value namespace.
//
// Why one bbolt file: a block, the state nodes it creates, its receipts and
// the head pointer must become durable together or not at all. bbolt gives
// serialisable single-writer transactions with copy-on-write pages and an
// fsync on every commit, so one Update is one atomic, durable step and a
// crash at any instant (process kill or power loss) leaves the last
// committed transaction intact. Splitting data across several files would
// need a cross-file commit protocol; one file does not.
//
// Layout. Top-level buckets, created at Open and named by the Bucket*
// constants: meta (format record, owned by this package), blocks, headers,
// index, state, receipts (filled by the ledger through View/Update and
// Tx.Bucket) and plugins, which holds one nested bucket per plugin
// namespace. A plugin reaches its data only through a *Namespace, so it can
// neither see nor damage another plugin's keys or the chain's buckets.
//
// Safety rules this package keeps:
//   - Open takes bbolt's exclusive file lock with a timeout, so a second node
//     on the same data dir fails fast with ErrLocked instead of hanging.
//   - The meta bucket records FormatVersion; a file written by a newer
//     Trellis is refused (ErrNewerFormat) rather than misread.
//   - A damaged or foreign file is reported (ErrCorrupt, ErrFormat) with its
//     path. bbolt trusts its file and can panic or fault on a damaged one, so
//     Open first checks the meta, root and freelist pages with plain reads
//     (catching truncation and garbage counts, which would fault or allocate
//     without bound), and every transaction runs under
//     debug.SetPanicOnFault and a recover, which turn a panic or a fault on
//     the memory map into a *CorruptError. After a panic or a failed commit
//     in a write transaction the DB refuses further writes (fail-stop): the
//     operator restarts the node, which re-reads the last good commit.
//     Not covered: a crafted file whose pages form a cycle can make bbolt
//     loop, and a file rewritten by another program while open can wedge it.
//     Options.VerifyOnOpen and DB.Check read every page to find damage early.
//   - Byte slices handed out by Namespace are copies; bbolt's own slices are
//     valid only inside the transaction. Code using Tx.Bucket must copy too.
//   - Fsync on commit is on by default. Options.NoSync exists for tests and
//     benchmarks only and is unsafe for a node.
//
// Limits on plugin data (key 1..MaxKeySize, value up to MaxValueSize, batch
// up to MaxBatchOps / MaxBatchBytes, scan pages up to MaxScanLimit /
// MaxScanBytes) are checked before any write and reported as *LimitError,
// which the gRPC Store host service maps to status codes.
package store
