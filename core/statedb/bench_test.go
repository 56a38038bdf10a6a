package statedb

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
)

// State file benchmarks. The 1,000,000-account cases are
// skipped under -short.
//
//	go test -run '^$' -bench 'RootUpdatePerAccount|OpenState' -count 3 -timeout 0 ./core/statedb/ (the tree's: ./protocol/state/)

const benchLeaves = 1_000_000

// buildStateFile writes a state of n funded accounts to path in one
// changeset and closes it.
func buildStateFile(tb testing.TB, path string, n int) {
	tb.Helper()
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	s, err := Open(st, 0)
	if err != nil {
		tb.Fatal(err)
	}
	d := NewDelta(s)
	d.SetGlobals(account.Globals{Accounts: uint32(account.FirstUserIndex) - 2})
	for _, a := range []account.Address{account.TreasuryAddress, account.EscrowAddress} {
		if _, _, err := d.Create(a); err != nil {
			tb.Fatal(err)
		}
	}
	var pub [32]byte
	for i := range n {
		pub[0], pub[1], pub[2], pub[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		idx, a, err := d.Create(account.FromPublicKey(pub[:]))
		if err != nil {
			tb.Fatal(err)
		}
		a.Balance = 1_000_000_000_000
		a.Nonce = uint64(i % 7)
		if err := d.Put(idx, a); err != nil {
			tb.Fatal(err)
		}
	}
	g := d.Globals()
	g.Supply = uint64(n) * 1_000_000_000_000
	d.SetGlobals(g)
	if err := s.Commit(nil, nil, d.Changeset()); err != nil {
		tb.Fatal(err)
	}
}

// rssBytes reads the process's resident set from /proc/self/status (0
// where there is none).
func rssBytes() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkOpenState: state.Open of a 1,000,000-account file (reading
// every record and rebuilding the tree), and the memory the open state
// holds: Go heap in use after GC and the process RSS (which includes the
// bbolt file pages the rebuild read through the mmap).
func BenchmarkOpenState(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 accounts: skipped under -short")
	}
	path := filepath.Join(b.TempDir(), "state.db")
	buildStateFile(b, path, benchLeaves)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("accounts=%d/workers=%d", benchLeaves, workers), func(b *testing.B) {
			runtime.GC()
			debug.FreeOSMemory()
			rss0 := rssBytes()
			var st *store.DB
			var s *DB
			for b.Loop() {
				if st != nil {
					st.Close()
				}
				if st, err = store.Open(path, store.Options{NoSync: true}); err != nil {
					b.Fatal(err)
				}
				if s, err = Open(st, workers); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.GC()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			rss := rssBytes()
			if s.Globals().Accounts != benchLeaves+uint32(account.FirstUserIndex) {
				b.Fatalf("reopened state has %d accounts", s.Globals().Accounts)
			}
			const mib = 1 << 20
			b.ReportMetric(float64(ms.HeapInuse)/mib, "heap-MiB")
			b.ReportMetric(float64(rss)/mib, "rss-MiB")
			b.ReportMetric((float64(rss)-float64(rss0))/mib, "rss-growth-MiB")
			b.ReportMetric(float64(fi.Size())/mib, "file-MiB")
			runtime.KeepAlive(s)
			st.Close()
		})
	}
}
