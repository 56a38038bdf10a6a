package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestNamespaceIsolation(t *testing.T) {
	db := openTest(t)
	a := mustNamespace(t, db, "a")
	ab := mustNamespace(t, db, "ab") // a name that extends another
	if err := a.Put([]byte("k"), []byte("from a")); err != nil {
		t.Fatal(err)
	}
	if err := ab.Put([]byte("k"), []byte("from ab")); err != nil {
		t.Fatal(err)
	}
	if err := ab.Put([]byte("only-ab"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get([]byte("k")); string(got) != "from a" {
		t.Errorf("a/k = %q", got)
	}
	if got, _ := ab.Get([]byte("k")); string(got) != "from ab" {
		t.Errorf("ab/k = %q", got)
	}
	if _, err := a.Get([]byte("only-ab")); !errors.Is(err, ErrNotFound) {
		t.Errorf("a sees ab's key: %v", err)
	}
	kvs, more, err := a.Scan(nil, nil, MaxScanLimit)
	if err != nil || more || len(kvs) != 1 || string(kvs[0].Key) != "k" {
		t.Errorf("a.Scan = %q, %v, %v", kvs, more, err)
	}
	// Plugin data never appears in the core buckets.
	if err := db.View(func(tx *Tx) error {
		for _, name := range CoreBuckets() {
			if k, _ := tx.Bucket(name).Cursor().First(); k != nil {
				return fmt.Errorf("bucket %s holds %q", name, k)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Same handle twice is fine.
	a2 := mustNamespace(t, db, "a")
	if got, _ := a2.Get([]byte("k")); string(got) != "from a" || a2.Name() != "a" {
		t.Errorf("second handle: %q %q", a2.Name(), got)
	}
}

func TestNamespaceBasicOps(t *testing.T) {
	db := openTest(t)
	ns := mustNamespace(t, db, "bank")
	k := []byte("acct/1")
	if _, err := ns.Get(k); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"bank"`) {
		t.Fatalf("Get(missing) = %v", err)
	}
	if ok, err := ns.Has(k); ok || err != nil {
		t.Fatalf("Has(missing) = %v, %v", ok, err)
	}
	if err := ns.Put(k, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ns.Get(k)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get(empty value) = %v, %v; want empty non-nil", got, err)
	}
	if ok, err := ns.Has(k); !ok || err != nil {
		t.Fatalf("Has = %v, %v", ok, err)
	}
	if err := ns.Put(k, []byte("100")); err != nil {
		t.Fatal(err)
	}
	if got, _ := ns.Get(k); string(got) != "100" {
		t.Fatalf("Get after overwrite = %q", got)
	}
	if err := ns.Delete(k); err != nil {
		t.Fatal(err)
	}
	if err := ns.Delete(k); err != nil {
		t.Fatalf("Delete(absent) = %v", err)
	}
	if _, err := ns.Get(k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v", err)
	}
}

func TestNamespaceLimits(t *testing.T) {
	db := openTest(t)
	ns := mustNamespace(t, db, "bank")
	longKey := bytes.Repeat([]byte{'k'}, MaxKeySize+1)
	bigValue := make([]byte, MaxValueSize+1)
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"get empty key", func() error { _, err := ns.Get(nil); return err }, ErrInvalidKey},
		{"get long key", func() error { _, err := ns.Get(longKey); return err }, ErrInvalidKey},
		{"has empty key", func() error { _, err := ns.Has([]byte{}); return err }, ErrInvalidKey},
		{"put empty key", func() error { return ns.Put(nil, []byte("v")) }, ErrInvalidKey},
		{"put long key", func() error { return ns.Put(longKey, nil) }, ErrInvalidKey},
		{"put big value", func() error { return ns.Put([]byte("k"), bigValue) }, ErrValueTooLarge},
		{"delete long key", func() error { return ns.Delete(longKey) }, ErrInvalidKey},
		{"batch bad kind", func() error { return ns.Batch([]Op{{Kind: 9, Key: []byte("k")}}) }, ErrInvalidOp},
		{"batch too many", func() error { return ns.Batch(make([]Op, MaxBatchOps+1)) }, ErrBatchTooLarge},
		{"scan zero limit", func() error { _, _, err := ns.Scan(nil, nil, 0); return err }, ErrInvalidLimit},
		{"scan long prefix", func() error { _, _, err := ns.Scan(longKey, nil, 1); return err }, ErrInvalidKey},
		{"namespace bad name", func() error { _, err := db.Namespace("Bad/Name"); return err }, ErrInvalidName},
		{"delete namespace bad name", func() error { return db.DeleteNamespace("") }, ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != ErrInvalidName {
				var le *LimitError
				if !errors.As(err, &le) {
					t.Fatalf("got %T, want a *LimitError inside", err)
				}
			}
		})
	}
	if s, err := ns.Stats(); err != nil || s.Keys != 0 {
		t.Fatalf("rejected ops wrote something: %+v, %v", s, err)
	}
}

func TestBatchAtomicAndOrdered(t *testing.T) {
	db := openTest(t)
	ns := mustNamespace(t, db, "bank")
	if err := ns.Put([]byte("keep"), []byte("old")); err != nil {
		t.Fatal(err)
	}
	// An invalid op at the end rejects the whole batch before any write.
	bad := []Op{PutOp([]byte("keep"), []byte("new")), PutOp([]byte("a"), []byte("1")), DeleteOp(nil)}
	if err := ns.Batch(bad); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Batch(bad) = %v", err)
	}
	if got, _ := ns.Get([]byte("keep")); string(got) != "old" {
		t.Fatalf("partial batch applied: keep = %q", got)
	}
	if ok, _ := ns.Has([]byte("a")); ok {
		t.Fatal("partial batch applied: a exists")
	}
	// Ops apply in order.
	ops := []Op{
		PutOp([]byte("x"), []byte("1")), DeleteOp([]byte("x")), // x ends absent
		DeleteOp([]byte("y")), PutOp([]byte("y"), []byte("2")), // y ends present
		PutOp([]byte("z"), []byte("3")), PutOp([]byte("z"), []byte("4")), // last put wins
		DeleteOp([]byte("keep")),
	}
	if err := ns.Batch(ops); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"y": "2", "z": "4"}
	kvs, _, err := ns.Scan(nil, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after batch: %v, want %v", got, want)
	}
	if err := ns.Batch(nil); err != nil {
		t.Fatalf("empty batch = %v", err)
	}
}

func TestReturnedSlicesAreCopies(t *testing.T) {
	db := openTest(t)
	ns := mustNamespace(t, db, "bank")
	if err := ns.Put([]byte("k1"), []byte("value-1")); err != nil {
		t.Fatal(err)
	}
	if err := ns.Put([]byte("k2"), []byte("value-2")); err != nil {
		t.Fatal(err)
	}
	got, _ := ns.Get([]byte("k1"))
	kvs, _, _ := ns.Scan(nil, nil, 10)
	// Grow the file well past its first mapping so bbolt remaps it; slices
	// into the old mapping would now fault or read garbage.
	blob := bytes.Repeat([]byte{0xAB}, 64<<10)
	var ops []Op
	for i := range 200 {
		ops = append(ops, PutOp(fmt.Appendf(nil, "fill/%04d", i), blob))
	}
	if err := ns.Batch(ops); err != nil {
		t.Fatal(err)
	}
	if string(got) != "value-1" || string(kvs[0].Key) != "k1" || string(kvs[1].Value) != "value-2" {
		t.Fatalf("copies changed: %q %q %q", got, kvs[0].Key, kvs[1].Value)
	}
	// Writing into a returned slice does not change the stored value, and
	// appending to a returned key does not clobber its value.
	got[0] = 'X'
	_ = append(kvs[0].Key, "zzzzzzzz"...)
	if string(kvs[0].Value) != "value-1" {
		t.Fatalf("append to key clobbered value: %q", kvs[0].Value)
	}
	if again, _ := ns.Get([]byte("k1")); string(again) != "value-1" {
		t.Fatalf("stored value changed through a returned slice: %q", again)
	}
}

func TestScan(t *testing.T) {
	db := openTest(t)
	ns := mustNamespace(t, db, "bank")
	keys := []string{"a", "ab", "abc", "abd", "b", "ba", "c", "\xff", "\xff\xff"}
	for _, k := range keys {
		if err := ns.Put([]byte(k), []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name               string
		prefix, startAfter string
		limit              int
		want               []string
		more               bool
	}{
		{"all", "", "", 100, keys, false},
		{"all limited", "", "", 3, []string{"a", "ab", "abc"}, true},
		{"exact limit", "", "", len(keys), keys, false},
		{"prefix a", "a", "", 100, []string{"a", "ab", "abc", "abd"}, false},
		{"prefix ab", "ab", "", 100, []string{"ab", "abc", "abd"}, false},
		{"prefix ab limit 2", "ab", "", 2, []string{"ab", "abc"}, true},
		{"prefix ab after ab", "ab", "ab", 100, []string{"abc", "abd"}, false},
		{"prefix ab after abc", "ab", "abc", 1, []string{"abd"}, false},
		{"prefix ab after abd", "ab", "abd", 100, nil, false},
		{"prefix ab after absent abb", "ab", "abb", 100, []string{"abc", "abd"}, false},
		{"prefix b after a (before prefix)", "b", "a", 100, []string{"b", "ba"}, false},
		{"prefix a after z (past prefix)", "a", "z", 100, nil, false},
		{"no match", "zz", "", 100, nil, false},
		{"after b", "", "b", 100, []string{"ba", "c", "\xff", "\xff\xff"}, false},
		{"prefix ff", "\xff", "", 100, []string{"\xff", "\xff\xff"}, false},
		{"after last", "", "\xff\xff", 100, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kvs, more, err := ns.Scan([]byte(tt.prefix), []byte(tt.startAfter), tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, kv := range kvs {
				got = append(got, string(kv.Key))
				if string(kv.Value) != "v:"+string(kv.Key) {
					t.Errorf("value of %q = %q", kv.Key, kv.Value)
				}
			}
			if !slices.Equal(got, tt.want) || more != tt.more {
				t.Fatalf("Scan(%q, %q, %d) = %q more=%v, want %q more=%v", tt.prefix, tt.startAfter, tt.limit, got, more, tt.want, tt.more)
			}
		})
	}
}

func TestScanPaging(t *testing.T) {
	db := openTest(t)
	ns := mustNamespace(t, db, "bank")
	var ops []Op
	var want []string
	for i := range 1000 {
		k := fmt.Sprintf("acct/%05d", i*7%1000)
		ops = append(ops, PutOp([]byte(k), []byte(k)))
		want = append(want, k)
	}
	ops = append(ops, PutOp([]byte("other"), []byte("x")), PutOp([]byte("acc"), []byte("x")))
	if err := ns.Batch(ops); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	var got []string
	var after []byte
	pages := 0
	for {
		kvs, more, err := ns.Scan([]byte("acct/"), after, 7)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, kv := range kvs {
			got = append(got, string(kv.Key))
		}
		if !more {
			break
		}
		after = kvs[len(kvs)-1].Key
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged scan returned %d keys, want %d", len(got), len(want))
	}
	if pages != (1000+6)/7 {
		t.Fatalf("%d pages, want %d", pages, (1000+6)/7)
	}
}

func TestScanByteBudget(t *testing.T) {
	db := openTest(t)
	ns := mustNamespace(t, db, "bank")
	big := bytes.Repeat([]byte{7}, MaxValueSize)
	n := MaxScanBytes/MaxValueSize + 1 // one more than fits
	for i := range n {
		if err := ns.Put(fmt.Appendf(nil, "big/%d", i), big); err != nil {
			t.Fatal(err)
		}
	}
	// Keys count against the budget too, so only n-2 whole pairs fit.
	kvs, more, err := ns.Scan(nil, nil, MaxScanLimit)
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != n-2 || !more {
		t.Fatalf("first page: %d pairs, more=%v; want %d, true", len(kvs), more, n-2)
	}
	kvs, more, err = ns.Scan(nil, kvs[len(kvs)-1].Key, MaxScanLimit)
	if err != nil || len(kvs) != 2 || more {
		t.Fatalf("second page: %d pairs, more=%v, %v", len(kvs), more, err)
	}
	// The budget never yields an empty page while pairs are left.
	kvs, _, err = ns.Scan(nil, nil, 1)
	if err != nil || len(kvs) != 1 || !bytes.Equal(kvs[0].Value, big) {
		t.Fatalf("single big pair: %d, %v", len(kvs), err)
	}
	// Direct check of the first-pair rule with a tiny budget.
	if err := db.view("test", func(tx *bolt.Tx) error {
		b, _ := ns.bucket(tx)
		kvs, more := scan(b.Cursor(), nil, nil, 10, 1)
		if len(kvs) != 1 || !more {
			return fmt.Errorf("budget 1: %d pairs, more=%v", len(kvs), more)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestNamespacesAndDelete(t *testing.T) {
	db := openTest(t)
	for _, name := range []string{"consensus-bft", "bank", "prover.gpu"} {
		ns := mustNamespace(t, db, name)
		if err := ns.Put([]byte("k"), []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	names, err := db.Namespaces()
	if err != nil || !slices.Equal(names, []string{"bank", "consensus-bft", "prover.gpu"}) {
		t.Fatalf("Namespaces = %q, %v", names, err)
	}
	bank := mustNamespace(t, db, "bank")
	if s, err := bank.Stats(); err != nil || s != (Stats{Keys: 1, Bytes: 5}) {
		t.Fatalf("Stats = %+v, %v", s, err)
	}
	if err := db.DeleteNamespace("bank"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteNamespace("bank"); !errors.Is(err, ErrNoNamespace) {
		t.Fatalf("second DeleteNamespace = %v", err)
	}
	checks := map[string]error{
		"Get":   func() error { _, err := bank.Get([]byte("k")); return err }(),
		"Has":   func() error { _, err := bank.Has([]byte("k")); return err }(),
		"Put":   bank.Put([]byte("k"), nil),
		"Batch": bank.Batch([]Op{DeleteOp([]byte("k"))}),
		"Scan":  func() error { _, _, err := bank.Scan(nil, nil, 1); return err }(),
		"Stats": func() error { _, err := bank.Stats(); return err }(),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrNoNamespace) {
			t.Errorf("%s on deleted namespace = %v, want ErrNoNamespace", name, err)
		}
	}
	// Recreated empty; other namespaces untouched.
	bank = mustNamespace(t, db, "bank")
	if _, err := bank.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("recreated namespace kept data: %v", err)
	}
	if got, _ := mustNamespace(t, db, "prover.gpu").Get([]byte("k")); string(got) != "prover.gpu" {
		t.Fatalf("other namespace damaged: %q", got)
	}
}

// TestConcurrent runs writers, readers and scanners on several namespaces at
// once and closes the DB under them; run it with -race.
func TestConcurrent(t *testing.T) {
	db := openTest(t)
	const workers, rounds = 4, 150
	var wg sync.WaitGroup
	errs := make(chan error, 4*workers)
	for w := range workers {
		ns := mustNamespace(t, db, fmt.Sprintf("p%d", w%2))
		wg.Add(3)
		go func() { // writer: batches of two keys that must appear together
			defer wg.Done()
			for i := range rounds {
				k := fmt.Appendf(nil, "w%d/%04d", w, i)
				if err := ns.Batch([]Op{PutOp(k, k), PutOp(append(k, '!'), k)}); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() { // reader
			defer wg.Done()
			for i := range rounds {
				k := fmt.Appendf(nil, "w%d/%04d", w, i)
				if v, err := ns.Get(k); err == nil && !bytes.Equal(v, k) {
					errs <- fmt.Errorf("Get(%s) = %q", k, v)
					return
				} else if err != nil && !errors.Is(err, ErrNotFound) {
					errs <- err
					return
				}
			}
		}()
		go func() { // scanner: every key has its partner
			defer wg.Done()
			for range rounds / 10 {
				kvs, _, err := ns.Scan(fmt.Appendf(nil, "w%d/", w), nil, MaxScanLimit)
				if err != nil {
					errs <- err
					return
				}
				if len(kvs)%2 != 0 {
					errs <- fmt.Errorf("scan saw half a batch: %d keys", len(kvs))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Close while operations run: each either completes or reports ErrClosed.
	ns := mustNamespace(t, db, "p0")
	start := make(chan struct{})
	results := make(chan error, 64)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 50 {
				k := fmt.Appendf(nil, "late%d/%d", w, i)
				var err error
				if i%2 == 0 {
					err = ns.Put(k, k)
				} else {
					_, _, err = ns.Scan(nil, nil, 10)
				}
				if err != nil {
					results <- err
					return
				}
			}
		}()
	}
	close(start)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for err := range results {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("op racing Close = %v, want nil or ErrClosed", err)
		}
	}
}
