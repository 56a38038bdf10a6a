package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTest opens a fresh database in a temporary directory with fsync off
// (these tests are about logic; the crash test keeps fsync on).
func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "trellis.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustNamespace(t testing.TB, db *DB, name string) *Namespace {
	t.Helper()
	ns, err := db.Namespace(name)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestOpenCreatesDirsAndBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "trellis.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", di.Mode().Perm())
	}
	err = db.View(func(tx *Tx) error {
		for _, name := range CoreBuckets() {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %q missing", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTxBucket(t *testing.T) {
	db := openTest(t)
	err := db.Update(func(tx *Tx) error {
		if !tx.Writable() {
			t.Error("Update tx not writable")
		}
		for _, name := range []string{BucketMeta, BucketPlugins, "nope", ""} {
			if tx.Bucket(name) != nil {
				t.Errorf("Bucket(%q) handed out", name)
			}
		}
		return tx.Bucket(BucketBlocks).Put([]byte("h1"), []byte("block"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *Tx) error {
		if tx.Writable() {
			t.Error("View tx writable")
		}
		if got := tx.Bucket(BucketBlocks).Get([]byte("h1")); string(got) != "block" {
			t.Errorf("blocks/h1 = %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReopenPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trellis.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mustNamespace(t, db, "bank").Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := mustNamespace(t, db, "bank").Get([]byte("k"))
	if err != nil || string(got) != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trellis.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description, so a second Open in
	// the same process conflicts just as another process would.
	for _, opts := range []Options{
		{LockTimeout: -1},
		{LockTimeout: 100 * time.Millisecond},
		{LockTimeout: -1, ReadOnly: true},
	} {
		_, err := Open(path, opts)
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open(%+v) = %v, want ErrLocked", opts, err)
		}
		var le *LockedError
		if !errors.As(err, &le) || le.Path != path || le.ReadOnly != opts.ReadOnly {
			t.Fatalf("second Open(%+v) = %#v, want *LockedError for %s", opts, err, path)
		}
		want := "database " + path + " is in use by another process (is another trellis node running?)"
		if err.Error() != want {
			t.Fatalf("message %q, want %q", err, want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{LockTimeout: -1})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db.Close()
}

func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trellis.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mustNamespace(t, db, "bank").Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r1, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(path, Options{ReadOnly: true, LockTimeout: -1})
	if err != nil {
		t.Fatalf("second read-only Open: %v", err)
	}
	defer r2.Close()
	if !r1.ReadOnly() {
		t.Error("ReadOnly() = false")
	}

	ns := mustNamespace(t, r1, "bank")
	if got, err := ns.Get([]byte("k")); err != nil || string(got) != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	checks := map[string]error{
		"Put":             ns.Put([]byte("k"), nil),
		"Delete":          ns.Delete([]byte("k")),
		"Batch":           ns.Batch([]Op{PutOp([]byte("a"), nil)}),
		"Update":          r1.Update(func(*Tx) error { return nil }),
		"DeleteNamespace": r1.DeleteNamespace("bank"),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on read-only DB = %v, want ErrReadOnly", name, err)
		}
	}
	if _, err := r1.Namespace("other"); !errors.Is(err, ErrNoNamespace) {
		t.Errorf("Namespace(missing) read-only = %v, want ErrNoNamespace", err)
	}
	// A writer cannot open while readers hold the shared lock.
	if _, err := Open(path, Options{LockTimeout: -1}); !errors.Is(err, ErrLocked) {
		t.Errorf("writable Open beside readers = %v, want ErrLocked", err)
	}

	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open of a missing file = %v, want fs.ErrNotExist", err)
	}
}

// rewriteMeta edits the meta bucket of a closed store with raw bbolt.
func rewriteMeta(t *testing.T, path string, fn func(meta *bolt.Bucket) error) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte(BucketMeta))) }); err != nil {
		t.Fatal(err)
	}
}

func newStoreFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trellis.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenFormat(t *testing.T) {
	u64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	tests := []struct {
		name  string
		edit  func(meta *bolt.Bucket) error
		want  error
		found uint64
	}{
		{"newer", func(m *bolt.Bucket) error { return m.Put(metaKeyVersion, u64(FormatVersion+1)) }, ErrNewerFormat, FormatVersion + 1},
		{"much newer", func(m *bolt.Bucket) error { return m.Put(metaKeyVersion, u64(1<<63)) }, ErrNewerFormat, 1 << 63},
		{"zero", func(m *bolt.Bucket) error { return m.Put(metaKeyVersion, u64(0)) }, ErrFormat, 0},
		{"short record", func(m *bolt.Bucket) error { return m.Put(metaKeyVersion, []byte{1}) }, ErrFormat, 0},
		{"no record", func(m *bolt.Bucket) error { return m.Delete(metaKeyVersion) }, ErrFormat, 0},
		{"wrong magic", func(m *bolt.Bucket) error { return m.Put(metaKeyMagic, []byte("etcd")) }, ErrFormat, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := newStoreFile(t)
			rewriteMeta(t, path, tt.edit)
			for _, ro := range []bool{false, true} {
				_, err := Open(path, Options{ReadOnly: ro})
				if !errors.Is(err, tt.want) {
					t.Fatalf("Open(ReadOnly=%v) = %v, want %v", ro, err, tt.want)
				}
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Path != path || fe.Version != tt.found || fe.Supported != FormatVersion {
					t.Fatalf("Open = %#v", err)
				}
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("message %q does not name the file", err)
				}
			}
		})
	}
}

func TestOpenForeignBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("key"))
		return err
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("Open(foreign bbolt file) = %v, want ErrFormat", err)
	}
}

func TestMissingBucketRecreated(t *testing.T) {
	path := newStoreFile(t)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(BucketReceipts)) }); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrFormat) {
		t.Fatalf("read-only Open with a missing bucket = %v, want ErrFormat", err)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *Tx) error {
		if tx.Bucket(BucketReceipts) == nil {
			return errors.New("receipts bucket not recreated")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestClosed(t *testing.T) {
	db := openTest(t)
	ns := mustNamespace(t, db, "bank")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	key := []byte("k")
	ops := map[string]func() error{
		"View":            func() error { return db.View(func(*Tx) error { return nil }) },
		"Update":          func() error { return db.Update(func(*Tx) error { return nil }) },
		"Check":           db.Check,
		"Namespace":       func() error { _, err := db.Namespace("x"); return err },
		"Namespaces":      func() error { _, err := db.Namespaces(); return err },
		"DeleteNamespace": func() error { return db.DeleteNamespace("bank") },
		"Get":             func() error { _, err := ns.Get(key); return err },
		"Has":             func() error { _, err := ns.Has(key); return err },
		"Put":             func() error { return ns.Put(key, key) },
		"Delete":          func() error { return ns.Delete(key) },
		"Batch":           func() error { return ns.Batch([]Op{PutOp(key, key)}) },
		"Scan":            func() error { _, _, err := ns.Scan(nil, nil, 10); return err },
		"Stats":           func() error { _, err := ns.Stats(); return err },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

// listErr is an error type that is not comparable: store must never
// compare a caller's error with ==.
type listErr []string

func (l listErr) Error() string { return strings.Join(l, ",") }

func TestUpdateErrorRollsBack(t *testing.T) {
	db := openTest(t)
	err := db.Update(func(tx *Tx) error {
		if err := tx.Bucket(BucketState).Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		return listErr{"abort", "now"}
	})
	var le listErr
	if !errors.As(err, &le) || err.Error() != "abort,now" {
		t.Fatalf("Update = %v, want fn's error unchanged", err)
	}
	if err := db.View(func(*Tx) error { return listErr{"v"} }); err == nil || err.Error() != "v" {
		t.Fatalf("View = %v, want fn's error unchanged", err)
	}
	err = db.View(func(tx *Tx) error {
		if v := tx.Bucket(BucketState).Get([]byte("k")); v != nil {
			return fmt.Errorf("rolled-back write visible: %q", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Writes still work after an error (only panics and failed commits
	// disable them).
	if err := db.Update(func(tx *Tx) error { return tx.Bucket(BucketState).Put([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
}

func TestUpdatePanicDisablesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trellis.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ns := mustNamespace(t, db, "bank")
	if err := ns.Put([]byte("before"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *Tx) error {
		_ = tx.Bucket(BucketState).Put([]byte("half"), []byte("done"))
		panic("a bug in the callback")
	})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Panic == nil || len(ce.Stack) == 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Update with a panicking fn = %v, want *CorruptError with the panic", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("message %q does not name the file", err)
	}
	if err := ns.Put([]byte("after"), []byte("2")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Put after a panic = %v, want refusal wrapping ErrCorrupt", err)
	}
	if got, err := ns.Get([]byte("before")); err != nil || string(got) != "1" {
		t.Fatalf("reads after a panic: %q, %v", got, err)
	}
	// View panics are recovered too, and do not disable writes by themselves.
	if err := db.View(func(*Tx) error { panic("view bug") }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("View with a panicking fn = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *Tx) error {
		if v := tx.Bucket(BucketState).Get([]byte("half")); v != nil {
			return errors.New("write from the panicked transaction survived")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := mustNamespace(t, db, "bank").Put([]byte("after"), []byte("2")); err != nil {
		t.Fatalf("Put after reopen: %v", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open("", Options{}); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	// A directory where the file should be: an OS error, not "corrupt".
	_, err := Open(dir, Options{})
	if err == nil || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open(directory) = %v", err)
	}
	// A file where a parent directory should be.
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(file, "trellis.db"), Options{}); err == nil {
		t.Error("Open under a regular file succeeded")
	}
}
