package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/state"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Ledger throughput benchmarks. A state of N funded accounts lives in a
// real bbolt file (built once per process with one big Delta, then reopened
// with statedb.Open); each block is 2,000 transfers between random existing
// accounts, with correct nonces and pre-checked signatures (Build mode, as
// a proposer runs it on mempool transactions, whose hashes and senders are
// already cached by Decode).
//
//	go test -run '^$' -bench 'ExecuteTransfers|Commit' -benchtime 20x -count 3 -cpu 1,2 ./core/exec/
//
// The 1,000,000-account cases take a minute to build and are skipped
// under -short. Set TRELLIS_BENCH_DIR to put the files on another disk.

const (
	benchBlockTxs  = 2_000
	benchBalance   = 1_000_000_000_000
	benchGasLimit  = 10_000_000
	benchSizeLarge = 1_000_000
)

var benchSizes = []int{10_000, benchSizeLarge}

// benchState is a built state file and what the transaction generator
// needs to know about its accounts.
type benchState struct {
	path   string
	pubs   [][32]byte        // user u's (fake) ed25519 public key
	addrs  []account.Address // user u's address
	first  account.Index     // index of user 0
	nonces []uint64          // next nonce of user u, tracked across runs
	height uint64            // last committed height
}

var (
	benchMu     sync.Mutex
	benchStates = map[int]*benchState{}
	benchDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchPub is a fake public key: Build mode checks no signature, and the
// sender address is the hash of these bytes all the same.
func benchPub(u int) [32]byte {
	var p [32]byte
	binary.LittleEndian.PutUint64(p[:], uint64(u))
	for i := 8; i < 32; i++ {
		p[i] = 0x5a
	}
	return p
}

// getBenchState builds (once per process) a state with n user accounts.
func getBenchState(b *testing.B, n int) *benchState {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if s, ok := benchStates[n]; ok {
		return s
	}
	if benchDir == "" {
		var err error
		if benchDir, err = os.MkdirTemp(os.Getenv("TRELLIS_BENCH_DIR"), "trellis-exec-bench"); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	s := &benchState{path: filepath.Join(benchDir, fmt.Sprintf("state-%d.db", n)), nonces: make([]uint64, n)}
	st, err := store.Open(s.path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := statedb.Open(st, 0)
	if err != nil {
		b.Fatal(err)
	}
	d := statedb.NewDelta(db)
	d.SetGlobals(account.Globals{Accounts: uint32(account.FirstUserIndex) - 2})
	for _, a := range []account.Address{account.TreasuryAddress, account.EscrowAddress} {
		if _, _, err := d.Create(a); err != nil {
			b.Fatal(err)
		}
	}
	s.first = account.FirstUserIndex
	s.pubs = make([][32]byte, n)
	s.addrs = make([]account.Address, n)
	for u := range n {
		s.pubs[u] = benchPub(u)
		s.addrs[u] = account.FromPublicKey(s.pubs[u][:])
		idx, a, err := d.Create(s.addrs[u])
		if err != nil {
			b.Fatal(err)
		}
		a.Balance = benchBalance
		if err := d.Put(idx, a); err != nil {
			b.Fatal(err)
		}
	}
	g := d.Globals()
	g.Supply = uint64(n) * benchBalance
	d.SetGlobals(g)
	if err := db.Commit(nil, nil, d.Changeset()); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a state of %d accounts in one changeset in %v", n, time.Since(start).Round(time.Millisecond))
	benchStates[n] = s
	return s
}

// open opens the state file; sync false skips fsync (commits are not timed
// by the execution benchmark).
func (s *benchState) open(b *testing.B, workers int, sync bool) (*store.DB, *statedb.DB) {
	b.Helper()
	st, err := store.Open(s.path, store.Options{NoSync: !sync})
	if err != nil {
		b.Fatal(err)
	}
	db, err := statedb.Open(st, workers)
	if err != nil {
		st.Close()
		b.Fatal(err)
	}
	return st, db
}

// block makes the next block's transfers between random users, advancing
// the tracked nonces (the caller commits the block).
func (s *benchState) block(r *rand.Rand) []*tx.Tx {
	txs := make([]*tx.Tx, benchBlockTxs)
	n := len(s.pubs)
	for i := range txs {
		from, to := r.IntN(n), r.IntN(n)
		t := &tx.Tx{
			ChainID: testChain, Nonce: s.nonces[from], GasLimit: tx.GasTransfer,
			MaxFeePerGas: testMaxFee, MaxPriorityFeePerGas: testTip,
			Body:      tx.Transfer{To: s.addrs[to], Amount: 1 + uint64(r.IntN(1000))},
			PublicKey: s.pubs[from],
		}
		s.nonces[from]++
		t.Hash() // caches encoding, hash and sender, as Decode does
		txs[i] = t
	}
	return txs
}

func (s *benchState) env() Env {
	return envAt(s.height+1, benchGasLimit, addrOf(0))
}

var benchParams = Params{ChainID: testChain, UnbondingDelay: testDelay}

// executeBlock is the timed work: execution plus the state-root update.
func executeBlock(b *testing.B, db *statedb.DB, env Env, txs []*tx.Tx, pricer Pricer) (*state.Changeset, *state.Overlay) {
	res, err := Execute(context.Background(), db, benchParams, env, txs, pricer, Build, true)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Dropped) != 0 || len(res.Txs) != len(txs) {
		b.Fatalf("%d of %d transactions dropped: %v", len(res.Dropped), len(txs), res.Dropped[0].Err)
	}
	cs := res.Delta.Changeset()
	ups, err := cs.LeafUpdates()
	if err != nil {
		b.Fatal(err)
	}
	ov := state.NewOverlay(db.Tree())
	ov.Update(ups)
	_ = ov.Root()
	return cs, ov
}

func BenchmarkExecuteTransfers(b *testing.B) {
	pricer := localPricer{fee.DefaultParams()}
	for _, n := range benchSizes {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("accounts=%d/workers=%d", n, workers), func(b *testing.B) {
				if n == benchSizeLarge && testing.Short() {
					b.Skip("1,000,000 accounts: skipped under -short")
				}
				s := getBenchState(b, n)
				st, db := s.open(b, workers, false)
				defer st.Close()
				r := rand.New(rand.NewPCG(uint64(n), s.height))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					txs := s.block(r)
					env := s.env()
					b.StartTimer()
					cs, ov := executeBlock(b, db, env, txs, pricer)
					b.StopTimer()
					if err := db.Commit(nil, ov, cs); err != nil {
						b.Fatal(err)
					}
					s.height++
					b.StartTimer()
				}
				b.ReportMetric(float64(b.N*benchBlockTxs)/b.Elapsed().Seconds(), "transfers/s")
			})
		}
	}
}

// BenchmarkCommit times DB.Commit of executed blocks' changesets: the bbolt
// write of every changed record (with fsync unless nosync) and the overlay
// committed into the head tree.
func BenchmarkCommit(b *testing.B) {
	pricer := localPricer{fee.DefaultParams()}
	for _, n := range benchSizes {
		for _, sync := range []bool{true, false} {
			name := fmt.Sprintf("accounts=%d/fsync", n)
			if !sync {
				name = fmt.Sprintf("accounts=%d/nosync", n)
			}
			b.Run(name, func(b *testing.B) {
				if n == benchSizeLarge && testing.Short() {
					b.Skip("1,000,000 accounts: skipped under -short")
				}
				s := getBenchState(b, n)
				st, db := s.open(b, 0, sync)
				defer st.Close()
				r := rand.New(rand.NewPCG(uint64(n)+1, s.height))
				var changed int
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					cs, ov := executeBlock(b, db, s.env(), s.block(r), pricer)
					changed += len(cs.Changes)
					b.StartTimer()
					if err := db.Commit(nil, ov, cs); err != nil {
						b.Fatal(err)
					}
					s.height++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(changed), "ns/account")
				b.ReportMetric(float64(changed)/float64(b.N), "accounts/block")
			})
		}
	}
}
