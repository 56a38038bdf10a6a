package store

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Every error this package returns wraps one of them (or an
// operating-system error) together with the file path or namespace involved;
// test with errors.Is.
var (
	// ErrLocked: another process holds the database file's lock.
	ErrLocked = errors.New("database is locked by another process")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("database is closed")
	// ErrReadOnly: a write on a DB opened with Options.ReadOnly.
	ErrReadOnly = errors.New("database is read-only")
	// ErrCorrupt: the file is not a bbolt database, or its structure is
	// damaged (including a panic or fault recovered inside bbolt).
	ErrCorrupt = errors.New("database file is corrupt")
	// ErrFormat: a valid bbolt file that is not a Trellis store, or whose
	// format record is unreadable or too old.
	ErrFormat = errors.New("not a trellis store of a supported format")
	// ErrNewerFormat: the file was written by a newer Trellis.
	ErrNewerFormat = errors.New("database format is newer than this binary supports")
	// ErrNotFound: the key is not in the namespace.
	ErrNotFound = errors.New("key not found")
	// ErrNoNamespace: the namespace does not exist (deleted, or never created
	// on a read-only DB).
	ErrNoNamespace = errors.New("namespace does not exist")
	// ErrInvalidName: a namespace name outside [a-z0-9._-]{1,64}.
	ErrInvalidName = errors.New("invalid namespace name")
	// ErrInvalidKey: a key that is empty or longer than MaxKeySize (also a
	// scan prefix or start key longer than MaxKeySize).
	ErrInvalidKey = errors.New("invalid key")
	// ErrValueTooLarge: a value longer than MaxValueSize.
	ErrValueTooLarge = errors.New("value too large")
	// ErrBatchTooLarge: a batch over MaxBatchOps operations or MaxBatchBytes.
	ErrBatchTooLarge = errors.New("batch too large")
	// ErrInvalidOp: a batch operation of unknown kind, or a delete carrying a
	// value.
	ErrInvalidOp = errors.New("invalid batch operation")
	// ErrInvalidLimit: a scan limit outside 1..MaxScanLimit.
	ErrInvalidLimit = errors.New("invalid scan limit")
)

// LockedError reports that the database file is locked by another process.
// It unwraps to ErrLocked.
type LockedError struct {
	Path     string        // the database file
	Waited   time.Duration // how long Open waited for the lock
	ReadOnly bool          // whether a shared (read-only) lock was requested
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("database %s is in use by another process (is another trellis node running?)", e.Path)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// errEmptyFile is the cause of a CorruptError for an existing empty file.
var errEmptyFile = errors.New("the file exists but is empty (0 bytes): a new node starts without the file; restore it from a backup, or delete it to start this node afresh from genesis")

// CorruptError reports a damaged or non-bbolt database file. It unwraps to
// ErrCorrupt and, when there is one, to the underlying bbolt error.
type CorruptError struct {
	Path  string // the database file
	Op    string // what was being done: "open", "check", "view", "update", ...
	Err   error  // bbolt's error, or nil when a panic was recovered
	Panic any    // the recovered panic value, or nil
	Stack []byte // the goroutine stack at the panic, for bug reports
}

func (e *CorruptError) Error() string {
	switch {
	case e.Panic != nil:
		return fmt.Sprintf("database %s is corrupt (or a bug was hit): %s: recovered panic: %v", e.Path, e.Op, e.Panic)
	case e.Err != nil:
		return fmt.Sprintf("database %s is corrupt: %s: %v", e.Path, e.Op, e.Err)
	default:
		return fmt.Sprintf("database %s is corrupt: %s", e.Path, e.Op)
	}
}

func (e *CorruptError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorrupt, e.Err}
	}
	return []error{ErrCorrupt}
}

// FormatError reports a bbolt file whose Trellis format record is missing,
// unreadable, or of an unsupported version. It unwraps to ErrNewerFormat
// when Version > Supported, otherwise to ErrFormat.
type FormatError struct {
	Path      string // the database file
	Version   uint64 // the version found, 0 if none could be read
	Supported uint64 // FormatVersion of this binary
	Reason    string
}

func (e *FormatError) Error() string {
	if e.Version > e.Supported {
		return fmt.Sprintf("database %s has format version %d, newer than the %d this binary supports: upgrade trellis", e.Path, e.Version, e.Supported)
	}
	return fmt.Sprintf("database %s is not a trellis store this binary can read: %s", e.Path, e.Reason)
}

func (e *FormatError) Unwrap() error {
	if e.Version > e.Supported {
		return ErrNewerFormat
	}
	return ErrFormat
}

// LimitError reports a key, value, batch or scan argument outside the limits.
// It unwraps to the sentinel in Err (ErrInvalidKey, ErrValueTooLarge,
// ErrBatchTooLarge, ErrInvalidOp or ErrInvalidLimit).
type LimitError struct {
	Err   error  // the sentinel
	What  string // "key", "value", "batch ops", "batch bytes", "scan limit", "scan prefix", "scan start", "op kind", "delete value"
	Index int    // index of the offending op in a batch, or -1
	Size  int    // the size or count found
	Min   int    // the smallest allowed
	Max   int    // the largest allowed
}

func (e *LimitError) Error() string {
	where := ""
	if e.Index >= 0 {
		where = fmt.Sprintf("op %d: ", e.Index)
	}
	switch e.What {
	case "op kind":
		return fmt.Sprintf("%sunknown op kind %d: %v", where, e.Size, e.Err)
	case "delete value":
		return fmt.Sprintf("%sdelete op carries a %d-byte value: %v", where, e.Size, e.Err)
	}
	return fmt.Sprintf("%s%s is %d, allowed %d..%d: %v", where, e.What, e.Size, e.Min, e.Max, e.Err)
}

func (e *LimitError) Unwrap() error { return e.Err }

// keyString renders a key for an error message: hex, shortened when long.
func keyString(k []byte) string {
	const show = 32
	if len(k) <= show {
		return fmt.Sprintf("%x", k)
	}
	return fmt.Sprintf("%x…(%d bytes)", k[:show], len(k))
}
