package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the on-disk format this binary writes and reads. Adding a
// top-level bucket does not change it (Open creates missing buckets); any
// change to how existing data is laid out does, together with a migration.
const FormatVersion uint64 = 1

// Top-level bucket names. The meta and plugins buckets belong to this
// package; the others are handed to core code through Tx.Bucket.
const (
	BucketMeta     = "meta"     // format record; private to this package
	BucketBlocks   = "blocks"   // block bodies by hash
	BucketHeaders  = "headers"  // headers by hash (the block tree)
	BucketIndex    = "index"    // height index, heads, finality pointers
	BucketState    = "state"    // state tree nodes and versions
	BucketReceipts = "receipts" // transaction receipts
	BucketPlugins  = "plugins"  // one nested bucket per plugin namespace
)

// coreBuckets are the buckets Tx.Bucket hands out.
var coreBuckets = [...]string{BucketBlocks, BucketHeaders, BucketIndex, BucketState, BucketReceipts}

// CoreBuckets returns the names Tx.Bucket accepts.
func CoreBuckets() []string { return append([]string(nil), coreBuckets[:]...) }

// allBuckets are created at Open.
var allBuckets = [...]string{BucketMeta, BucketBlocks, BucketHeaders, BucketIndex, BucketState, BucketReceipts, BucketPlugins}

// Keys of the meta bucket.
var (
	metaKeyMagic   = []byte("magic")
	metaKeyVersion = []byte("format_version")
	metaMagic      = []byte("trellis-store")
)

// DefaultLockTimeout is how long Open waits for another process to release
// the file lock when Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// Options tune Open. The zero value is right for a node.
type Options struct {
	// LockTimeout is how long Open waits for the file lock before failing
	// with ErrLocked: 0 means DefaultLockTimeout, negative means try once.
	// (A process that dies releases its lock at once, so a restarted node
	// never waits for its own predecessor.)
	LockTimeout time.Duration

	// ReadOnly opens the file with a shared lock (other read-only openers
	// may share it; a node may not) and refuses writes with ErrReadOnly.
	// The file must exist and be initialised.
	ReadOnly bool

	// NoSync skips fsync on commit. UNSAFE: a power loss or kernel crash
	// can lose or corrupt committed data. For tests and benchmarks only;
	// a process crash alone does not lose data even with NoSync.
	NoSync bool

	// VerifyOnOpen runs a full consistency check (Check) at Open. It reads
	// every page, so it takes time proportional to the file size.
	VerifyOnOpen bool
}

// DB is an open node database. It is safe for concurrent use: any number of
// readers run in parallel with one writer; writers are serialised.
type DB struct {
	bolt     *bolt.DB
	path     string
	readOnly bool

	closeMu sync.Mutex
	closed  atomic.Bool
	// failed holds the first write failure (a panic or a failed commit);
	// once set, writes are refused.
	failed atomic.Pointer[error]
}

// Open opens or creates the database file at path, creating parent
// directories as needed (0700; the file is 0600). It fails with a
// *LockedError (ErrLocked) if another process holds the file, a
// *CorruptError (ErrCorrupt) if the file is not a readable bbolt file, and
// a *FormatError (ErrFormat, ErrNewerFormat) if it is not a Trellis store
// this binary can read.
func Open(path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("store: open: empty path")
	}
	path = filepath.Clean(path)
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: open %s read-only: %w", path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: create parent directory: %w", path, err)
	}

	// An existing file of 0 bytes is not a new node: it is a database that
	// was truncated (or never finished its first write), and taking it for
	// new would restart the chain from genesis and forget the node's
	// slashing protection. Only a file this Open creates starts empty.
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return nil, &CorruptError{Path: path, Op: "open", Err: errEmptyFile}
	}

	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = DefaultLockTimeout
	}
	start := time.Now()

	bopts := &bolt.Options{
		Timeout:      max(timeout, time.Nanosecond), // >0: never wait forever
		ReadOnly:     opts.ReadOnly,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	}
	// Open and lock the file here, check it with plain reads, and hand the
	// locked file to bbolt. Holding it also lets us release the descriptor
	// and the lock if bbolt panics inside Open.
	var file *os.File
	if preLock {
		flag := os.O_RDWR | os.O_CREATE
		if opts.ReadOnly {
			flag = os.O_RDONLY
		}
		f, err := os.OpenFile(path, flag, 0o600)
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		if err := lockFile(f, !opts.ReadOnly, timeout); err != nil {
			f.Close()
			if errors.Is(err, errLockTimeout) {
				return nil, &LockedError{Path: path, Waited: time.Since(start), ReadOnly: opts.ReadOnly}
			}
			return nil, fmt.Errorf("store: lock %s: %w", path, err)
		}
		if err := recoverPanic(path, "open", func() error { return precheck(f) }); err != nil {
			f.Close()
			var ce *CorruptError
			if errors.As(err, &ce) {
				return nil, err
			}
			return nil, &CorruptError{Path: path, Op: "open", Err: err}
		}
		file = f
		bopts.OpenFile = func(string, int, os.FileMode) (*os.File, error) { return f, nil }
	}

	var bdb *bolt.DB
	err := recoverPanic(path, "open", func() error {
		var err error
		bdb, err = bolt.Open(path, 0o600, bopts)
		return err
	})
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) && ce.Panic != nil && file != nil {
			_ = file.Close() // bbolt closes it on an ordinary error
		}
		return nil, classifyOpenError(path, err, time.Since(start), opts.ReadOnly)
	}

	db := &DB{bolt: bdb, path: path, readOnly: opts.ReadOnly}
	if err := db.initFormat(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	if opts.VerifyOnOpen {
		if err := db.Check(); err != nil {
			_ = bdb.Close()
			return nil, err
		}
	}
	return db, nil
}

func classifyOpenError(path string, err error, waited time.Duration, readOnly bool) error {
	var ce *CorruptError
	var pe *fs.PathError
	var errno syscall.Errno
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return &LockedError{Path: path, Waited: waited, ReadOnly: readOnly}
	case errors.As(err, &ce):
		return err
	case errors.As(err, &pe), errors.As(err, &errno):
		// The operating system refused (permissions, a directory, disk).
		return fmt.Errorf("store: open %s: %w", path, err)
	default:
		// bbolt's own validation: invalid meta pages, checksum or
		// version mismatch, a file too small to hold two meta pages.
		return &CorruptError{Path: path, Op: "open", Err: err}
	}
}

// initFormat checks the meta bucket and, on a writable DB, initialises a new
// file and creates any missing top-level bucket.
func (db *DB) initFormat() error {
	var missing bool
	err := db.view("open", func(tx *bolt.Tx) error {
		var err error
		missing, err = db.checkFormat(tx)
		return err
	})
	if err != nil || !missing {
		return err
	}
	if db.readOnly {
		return &FormatError{Path: db.path, Supported: FormatVersion, Reason: "it is not initialised or lacks buckets, and it was opened read-only"}
	}
	return db.update("open", func(tx *bolt.Tx) error {
		if _, err := db.checkFormat(tx); err != nil {
			return err
		}
		if tx.Bucket([]byte(BucketMeta)) == nil {
			meta, err := tx.CreateBucket([]byte(BucketMeta))
			if err != nil {
				return fmt.Errorf("store: %s: create bucket %q: %w", db.path, BucketMeta, err)
			}
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], FormatVersion)
			if err := meta.Put(metaKeyMagic, metaMagic); err != nil {
				return fmt.Errorf("store: %s: write format record: %w", db.path, err)
			}
			if err := meta.Put(metaKeyVersion, v[:]); err != nil {
				return fmt.Errorf("store: %s: write format record: %w", db.path, err)
			}
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("store: %s: create bucket %q: %w", db.path, name, err)
			}
		}
		return nil
	})
}

// checkFormat validates the format record. It reports missing=true for an
// empty file (no top-level buckets) or one lacking some top-level bucket.
func (db *DB) checkFormat(tx *bolt.Tx) (missing bool, err error) {
	meta := tx.Bucket([]byte(BucketMeta))
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return false, &FormatError{Path: db.path, Supported: FormatVersion,
				Reason: fmt.Sprintf("it is a bbolt file without a %q bucket (top-level bucket %q found)", BucketMeta, keyString(k))}
		}
		return true, nil // a new, empty file
	}
	if magic := meta.Get(metaKeyMagic); string(magic) != string(metaMagic) {
		return false, &FormatError{Path: db.path, Supported: FormatVersion,
			Reason: fmt.Sprintf("meta bucket has magic %q, want %q", magic, metaMagic)}
	}
	raw := meta.Get(metaKeyVersion)
	version, err := DecodeFormatVersion(raw)
	if err != nil {
		return false, &FormatError{Path: db.path, Supported: FormatVersion, Reason: err.Error()}
	}
	switch {
	case version > FormatVersion:
		return false, &FormatError{Path: db.path, Version: version, Supported: FormatVersion}
	case version < FormatVersion:
		return false, &FormatError{Path: db.path, Version: version, Supported: FormatVersion,
			Reason: fmt.Sprintf("format version %d is older than %d and there is no migration", version, FormatVersion)}
	}
	for _, name := range allBuckets {
		if tx.Bucket([]byte(name)) == nil {
			return true, nil
		}
	}
	return false, nil
}

// DecodeFormatVersion decodes the stored format version: 8 bytes, big
// endian, not zero.
func DecodeFormatVersion(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("format version record is %d bytes, want 8", len(b))
	}
	v := binary.BigEndian.Uint64(b)
	if v == 0 {
		return 0, errors.New("format version record is zero")
	}
	return v, nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// ReadOnly reports whether the DB was opened with Options.ReadOnly.
func (db *DB) ReadOnly() bool { return db.readOnly }

// Close closes the database, waiting for running transactions to finish.
// It is idempotent; after it every operation returns ErrClosed. Do not call
// it from inside a View or Update function (it would wait for itself).
func (db *DB) Close() error {
	db.closeMu.Lock()
	defer db.closeMu.Unlock()
	if db.closed.Load() {
		return nil
	}
	db.closed.Store(true)
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

// Check verifies the whole file (every page is read; the time is
// proportional to the file size) and reports the first problems found as a
// *CorruptError. It first walks every bucket, key and value on the calling
// goroutine, where a fault or panic on a damaged page is recovered, and then
// runs bbolt's invariant checker (page reachability, freelist, key order).
func (db *DB) Check() error {
	const maxReported = 8
	return db.view("check", func(tx *bolt.Tx) error {
		// bbolt's Tx.Check runs on its own goroutine, beyond recover's
		// reach: touch every page here first, under the guard.
		if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			_, err := walkBucket(b, name, 1)
			return err
		}); err != nil {
			return &CorruptError{Path: db.path, Op: "check", Err: err}
		}
		var problems []error
		for err := range tx.Check() {
			if len(problems) < maxReported {
				problems = append(problems, err)
			}
		}
		if len(problems) > 0 {
			return &CorruptError{Path: db.path, Op: "check", Err: errors.Join(problems...)}
		}
		return nil
	})
}

// maxBucketDepth bounds the nesting walkBucket follows; Trellis nests two
// levels (plugins/<namespace>) and the ledger a few more.
const maxBucketDepth = 32

// walkBucket reads every key and the last byte of every value under b,
// recursing into nested buckets. The returned byte only keeps the reads from
// being optimised away.
func walkBucket(b *bolt.Bucket, name []byte, depth int) (byte, error) {
	if depth > maxBucketDepth {
		return 0, fmt.Errorf("bucket %s: nested deeper than %d", keyString(name), maxBucketDepth)
	}
	var sink byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) == 0 {
			return 0, fmt.Errorf("bucket %s: empty key", keyString(name))
		}
		sink ^= k[len(k)-1]
		if v != nil {
			if len(v) > 0 {
				sink ^= v[len(v)-1]
			}
			continue
		}
		if child := b.Bucket(k); child != nil {
			s, err := walkBucket(child, k, depth+1)
			if err != nil {
				return 0, fmt.Errorf("bucket %s: %w", keyString(name), err)
			}
			sink ^= s
		}
	}
	return sink, nil
}

// Tx is a transaction handed to View and Update functions. It exposes the
// core buckets only; it cannot commit, roll back, or touch the meta and
// plugins buckets. A Tx is valid only inside its function and only on the
// calling goroutine.
type Tx struct {
	tx *bolt.Tx
}

// Bucket returns the top-level bucket called name, one of CoreBuckets()
// (BucketBlocks, BucketHeaders, BucketIndex, BucketState, BucketReceipts),
// or nil for any other name. Slices read from it point into the memory map
// and are valid only until the transaction ends: copy what you keep. Keys
// and values written to it must not be modified until the transaction ends.
func (t *Tx) Bucket(name string) *bolt.Bucket {
	for _, b := range coreBuckets {
		if b == name {
			return t.tx.Bucket([]byte(name))
		}
	}
	return nil
}

// Writable reports whether this is an Update transaction.
func (t *Tx) Writable() bool { return t.tx.Writable() }

// View runs fn in a read-only transaction that sees a consistent snapshot.
// fn's error is returned as it is. A panic inside fn or bbolt is recovered
// and returned as a *CorruptError. fn must not call other methods of db.
func (db *DB) View(fn func(*Tx) error) error {
	return db.view("view", func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Update runs fn in a read-write transaction and commits it, fsyncing the
// file, if fn returns nil; otherwise nothing fn wrote is kept and fn's error
// is returned as it is. When Update returns nil the changes are durable.
// A panic inside fn or bbolt, or a failed commit, is returned as an error
// and disables further writes on this DB (reopen after fixing the cause).
// fn must not call other methods of db.
func (db *DB) Update(fn func(*Tx) error) error {
	return db.update("update", func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

func (db *DB) errClosed(op string) error {
	return fmt.Errorf("store: %s %s: %w", op, db.path, ErrClosed)
}

// view runs fn in a guarded bbolt read transaction.
func (db *DB) view(op string, fn func(*bolt.Tx) error) error {
	if db.closed.Load() {
		return db.errClosed(op)
	}
	var fnErr error
	err := recoverPanic(db.path, op, func() error {
		return db.bolt.View(func(tx *bolt.Tx) error {
			fnErr = fn(tx)
			return fnErr
		})
	})
	if fnErr != nil {
		return fnErr // bbolt returns fn's error unchanged after rolling back
	}
	if err == nil {
		return nil
	}
	return db.mapErr(op, err)
}

// update runs fn in a guarded bbolt write transaction.
func (db *DB) update(op string, fn func(*bolt.Tx) error) error {
	if db.closed.Load() {
		return db.errClosed(op)
	}
	if db.readOnly {
		return fmt.Errorf("store: %s %s: %w", op, db.path, ErrReadOnly)
	}
	if p := db.failed.Load(); p != nil {
		return fmt.Errorf("store: %s %s: writes refused after an earlier failure: %w", op, db.path, *p)
	}
	var fnErr error
	err := recoverPanic(db.path, op, func() error {
		return db.bolt.Update(func(tx *bolt.Tx) error {
			fnErr = fn(tx)
			return fnErr
		})
	})
	if fnErr != nil {
		return fnErr // bbolt returns fn's error unchanged after rolling back
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return db.errClosed(op)
	}
	// A panic or a failed commit: the file may be damaged or the disk
	// failing (after a failed fsync the page cache cannot be trusted).
	// Stop writing; a restart re-reads the last good commit.
	var ce *CorruptError
	if !errors.As(err, &ce) {
		err = fmt.Errorf("store: %s %s: commit: %w", op, db.path, err)
	}
	db.failed.CompareAndSwap(nil, &err)
	return err
}

func (db *DB) mapErr(op string, err error) error {
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return db.errClosed(op)
	case errors.Is(err, berrors.ErrDatabaseReadOnly), errors.Is(err, berrors.ErrTxNotWritable):
		return fmt.Errorf("store: %s %s: %w", op, db.path, ErrReadOnly)
	}
	return fmt.Errorf("store: %s %s: %w", op, db.path, err)
}

// recoverPanic runs fn with faults on the memory map turned into panics, and
// turns any panic into a *CorruptError naming path. bbolt's View and Update
// roll their transaction back while the panic unwinds, so the DB stays
// usable for reads afterwards.
func recoverPanic(path, op string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = &CorruptError{Path: path, Op: op, Panic: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}
