package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Benchmarks write to TRELLIS_STORE_BENCH_DIR when set (point it at the disk
// a node would use), else to a temporary directory. Put and Batch commit
// with fsync unless the name says nosync. Reported: ns/op, MB/s of key+value
// bytes, and ops/s counting each key written or read as one op.
//
//	go test -run '^$' -bench . -benchmem -count 3 ./core/store/

const (
	benchKeySize   = 32
	benchValueSize = 100
	benchPrefill   = 100_000
)

func benchDB(b *testing.B, noSync bool) *DB {
	b.Helper()
	dir := os.Getenv("TRELLIS_STORE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		var err error
		if dir, err = os.MkdirTemp(dir, "bench"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	db, err := Open(filepath.Join(dir, "trellis.db"), Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func benchKey(i uint64) []byte {
	k := make([]byte, benchKeySize)
	copy(k, "key/")
	binary.BigEndian.PutUint64(k[benchKeySize-8:], i)
	return k
}

var benchValue = make([]byte, benchValueSize)

func reportOps(b *testing.B, opsPerIter int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*opsPerIter)/s, "ops/s")
	}
}

func BenchmarkPut(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := "fsync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			ns := mustNamespace(b, benchDB(b, noSync), "bench")
			b.SetBytes(benchKeySize + benchValueSize)
			b.ReportAllocs()
			i := uint64(0)
			for b.Loop() {
				if err := ns.Put(benchKey(i), benchValue); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportOps(b, 1)
		})
	}
}

func BenchmarkBatch(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("ops=%d/fsync", size), func(b *testing.B) {
			ns := mustNamespace(b, benchDB(b, false), "bench")
			b.SetBytes(int64(size * (benchKeySize + benchValueSize)))
			b.ReportAllocs()
			ops := make([]Op, size)
			next := uint64(0)
			for b.Loop() {
				for j := range ops {
					ops[j] = PutOp(benchKey(next), benchValue)
					next++
				}
				if err := ns.Batch(ops); err != nil {
					b.Fatal(err)
				}
			}
			reportOps(b, size)
		})
	}
}

// prefilled returns a namespace holding benchPrefill keys 0..benchPrefill-1.
func prefilled(b *testing.B) *Namespace {
	b.Helper()
	db := benchDB(b, true)
	ns := mustNamespace(b, db, "bench")
	ops := make([]Op, 0, 10_000)
	for i := range uint64(benchPrefill) {
		ops = append(ops, PutOp(benchKey(i), benchValue))
		if len(ops) == cap(ops) {
			if err := ns.Batch(ops); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	return ns
}

func BenchmarkGet(b *testing.B) {
	ns := prefilled(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(benchKeySize + benchValueSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ns.Get(benchKey(rng.Uint64N(benchPrefill))); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, 1)
}

func BenchmarkScan100(b *testing.B) {
	ns := prefilled(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(100 * (benchKeySize + benchValueSize))
	b.ReportAllocs()
	for b.Loop() {
		start := benchKey(rng.Uint64N(benchPrefill - 101))
		kvs, _, err := ns.Scan([]byte("key/"), start, 100)
		if err != nil || len(kvs) != 100 {
			b.Fatalf("scan: %d, %v", len(kvs), err)
		}
	}
	reportOps(b, 100)
}
