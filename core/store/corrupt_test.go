package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storeWithData writes a closed store holding n keys of valueSize bytes in
// namespace "data" and returns its path.
func storeWithData(t testing.TB, n, valueSize int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trellis.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ns := mustNamespace(t, db, "data")
	var ops []Op
	for i := range n {
		ops = append(ops, PutOp(fmt.Appendf(nil, "key/%06d", i), bytes.Repeat([]byte{byte(i)}, valueSize)))
		if len(ops) == 1000 {
			if err := ns.Batch(ops); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	if err := ns.Batch(ops); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// currentMeta returns the meta page bbolt would use.
func currentMeta(t testing.TB, path string) boltMeta {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m0, ok0 := readMeta(f, 0)
	m1, ok1 := readMeta(f, int64(m0.pageSize))
	if !ok0 || !ok1 {
		t.Fatal("test store has an invalid meta page")
	}
	if m1.txid > m0.txid {
		return m1
	}
	return m0
}

func wantCorrupt(t *testing.T, path string, err error, mention string) {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want *CorruptError", err)
	}
	if ce.Path != path || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q does not name %s", err, path)
	}
	if mention != "" && !strings.Contains(err.Error(), mention) {
		t.Fatalf("error %q does not mention %q", err, mention)
	}
}

func TestOpenNotADatabase(t *testing.T) {
	valid, err := os.ReadFile(storeWithData(t, 10, 10))
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	random := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	metasZeroed := bytes.Clone(valid)
	clear(metasZeroed[:2*ps])
	tests := []struct {
		name string
		data []byte
	}{
		{"text", []byte("this is not a database\n")},
		{"zeros", make([]byte, 16<<10)},
		{"random", random},
		{"header only", valid[:100]},
		{"one page", valid[:ps]},
		{"metas zeroed", metasZeroed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trellis.db")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{false, true} {
				_, err := Open(path, Options{ReadOnly: ro})
				wantCorrupt(t, path, err, "")
			}
			// The failed Open released the lock.
			if _, err := Open(path, Options{LockTimeout: -1}); errors.Is(err, ErrLocked) {
				t.Fatal("lock still held after a failed Open")
			}
		})
	}
}

func TestOneMetaDamaged(t *testing.T) {
	// bbolt keeps two meta pages and falls back to the other one: damage to
	// either is survivable (the newer one may roll back one commit).
	for _, page := range []int{0, 1} {
		t.Run(fmt.Sprint("meta", page), func(t *testing.T) {
			path := storeWithData(t, 2000, 10) // two commits of 1000 keys
			data, _ := os.ReadFile(path)
			ps := os.Getpagesize()
			clear(data[page*ps+pageHeaderSize : page*ps+pageHeaderSize+metaSize])
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := Open(path, Options{VerifyOnOpen: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ns := mustNamespace(t, db, "data")
			if s, err := ns.Stats(); err != nil || (s.Keys != 2000 && s.Keys != 1000) {
				t.Fatalf("after losing meta %d: %+v, %v", page, s, err)
			}
		})
	}
}

func TestOpenTruncated(t *testing.T) {
	path := storeWithData(t, 2000, 1000) // ~2 MiB
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := int64(os.Getpagesize())
	for _, size := range []int64{fi.Size() / 2, 3 * ps} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "trellis.db")
			data, _ := os.ReadFile(path)
			if err := os.WriteFile(p, data[:size], 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(p, Options{})
			wantCorrupt(t, p, err, "truncated")
		})
	}
}

func TestOpenBadFreelist(t *testing.T) {
	path := storeWithData(t, 2000, 100)
	m := currentMeta(t, path)
	ps := int64(m.pageSize)
	off := int64(m.freelist) * ps
	tests := []struct {
		name    string
		edit    func(page []byte)
		mention string
	}{
		{"huge count", func(p []byte) {
			binary.NativeEndian.PutUint16(p[10:], 0xFFFF)
			binary.NativeEndian.PutUint64(p[16:], 1<<40)
		}, "claims"},
		{"count past page", func(p []byte) { binary.NativeEndian.PutUint16(p[10:], 0xFFFE) }, "claims"},
		{"wrong type", func(p []byte) { binary.NativeEndian.PutUint16(p[8:], leafPageFlag) }, "flags"},
		{"id out of range", func(p []byte) {
			binary.NativeEndian.PutUint16(p[10:], 1)
			binary.NativeEndian.PutUint64(p[16:], 1<<50)
		}, "lists page"},
		{"overflow past end", func(p []byte) { binary.NativeEndian.PutUint32(p[12:], 1<<30) }, "overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := os.ReadFile(path)
			tt.edit(data[off : off+ps])
			p := filepath.Join(t.TempDir(), "trellis.db")
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(p, Options{})
			wantCorrupt(t, p, err, tt.mention)
		})
	}
}

// TestGarbagePages overwrites every page but the meta, freelist and root
// pages: Open's precheck passes, so the damage is met inside bbolt, where
// the panics and faults it causes must come back as *CorruptError.
func TestGarbagePages(t *testing.T) {
	path := storeWithData(t, 3000, 300)
	m := currentMeta(t, path)
	ps := int(m.pageSize)
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			data, _ := os.ReadFile(path)
			rng := rand.New(rand.NewPCG(seed, 7))
			for pg := 2; pg < int(m.pgid); pg++ {
				if uint64(pg) == m.freelist || uint64(pg) == m.root {
					continue
				}
				page := data[pg*ps : (pg+1)*ps]
				switch seed % 2 {
				case 0: // random bytes
					for i := range page {
						page[i] = byte(rng.Uint32())
					}
				case 1: // plausible header, garbage elements
					for i := 16; i < len(page); i++ {
						page[i] = byte(rng.Uint32())
					}
					binary.NativeEndian.PutUint16(page[10:], uint16(rng.IntN(200)))
				}
			}
			p := filepath.Join(t.TempDir(), "trellis.db")
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(p, Options{VerifyOnOpen: true}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open(VerifyOnOpen) = %v, want ErrCorrupt", err)
			}
			db, err := Open(p, Options{})
			if err != nil {
				wantCorrupt(t, p, err, "")
				return
			}
			defer db.Close()
			err = readEverything(db)
			wantCorrupt(t, p, err, "")
			if err := db.Check(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Check = %v, want ErrCorrupt", err)
			}
		})
	}
}

// readEverything lists every namespace and scans it to the end.
func readEverything(db *DB) error {
	names, err := db.Namespaces()
	if err != nil {
		return err
	}
	for _, name := range names {
		ns, err := db.Namespace(name)
		if err != nil {
			return err
		}
		var after []byte
		for {
			kvs, more, err := ns.Scan(nil, after, 1000)
			if err != nil {
				return err
			}
			if !more {
				break
			}
			after = kvs[len(kvs)-1].Key
		}
	}
	return nil
}

// FuzzOpen feeds arbitrary bytes to Open as a database file and reads what
// opens. Any error is fine; a crash or hang is not.
func FuzzOpen(f *testing.F) {
	valid, err := os.ReadFile(storeWithData(f, 50, 20))
	if err != nil {
		f.Fatal(err)
	}
	ps := os.Getpagesize()
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:2*ps])
	f.Add([]byte("not a database"))
	f.Add(make([]byte, 4*ps))
	for _, pg := range []int{2, 3, 4, 5} {
		if (pg+1)*ps <= len(valid) {
			d := bytes.Clone(valid)
			for i := pg*ps + 8; i < (pg+1)*ps; i += 7 {
				d[i] ^= 0x5A
			}
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "trellis.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(path, Options{NoSync: true, VerifyOnOpen: true})
		if err != nil {
			return
		}
		defer db.Close()
		_ = readEverything(db)
	})
}

// An existing empty database file is refused, not taken for a new node:
// that would restart the chain from genesis and reset slashing protection.
func TestEmptyFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		db, err := Open(path, Options{ReadOnly: ro})
		var ce *CorruptError
		if err == nil {
			db.Close()
		}
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), path) {
			t.Fatalf("read-only %v: Open of an empty file = %v, want a CorruptError naming it", ro, err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the refused file was changed: %v %v", fi, err)
	}
	// A path with no file is a new node.
	db, err := Open(filepath.Join(t.TempDir(), "new.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}
