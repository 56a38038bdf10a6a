package exec

import (
	"context"
	"fmt"
	"testing"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
)

// BenchmarkMarketBegin measures the market's share of an empty block: the
// escrow holding jobs open jobs and provers registered provers (all at
// price 0, so every opening ranks them all), one job opening per block,
// plus the changeset's leaves (the escrow's extra digest hashes its whole
// record).
//
//	go test -run '^$' -bench MarketBegin -benchtime 200x -count 5 ./core/exec/
func BenchmarkMarketBegin(b *testing.B) {
	for _, c := range []struct{ jobs, provers int }{{0, 0}, {20, 4}, {20, 128}, {account.MaxJobs - 1, 128}} {
		b.Run(fmt.Sprintf("jobs=%d/provers=%d", c.jobs, c.provers), func(b *testing.B) {
			f := newFixture(b, c.provers+1)
			f.params.Market = testMarket()
			d := statedb.NewDelta(f.db)
			e, _ := d.Account(account.EscrowIndex)
			for k := 1; k <= c.provers; k++ {
				idx, a, err := statedb.AccountAt(d, addrOf(k))
				if err != nil {
					b.Fatal(err)
				}
				a.Balance -= 5000
				a.Prover = &account.Prover{Kind: "cpu", Throughput: 1, Bond: 5000, Reputation: 500}
				if err := d.Put(idx, a); err != nil {
					b.Fatal(err)
				}
				e.RegisterProver(addrOf(k))
			}
			for h := 1; h <= c.jobs; h++ {
				e.Jobs = append(e.Jobs, account.Job{Height: uint64(h), Public: Statement(*stmt(uint64(h)))})
			}
			if err := d.Put(account.EscrowIndex, e); err != nil {
				b.Fatal(err)
			}
			if err := f.db.Commit(nil, nil, d.Changeset()); err != nil {
				b.Fatal(err)
			}
			env := f.env()
			env.Height = uint64(c.jobs) + 2
			env.ParentStatement = stmt(env.Height - 1)
			b.ResetTimer()
			for range b.N {
				res, err := Execute(context.Background(), f.db, f.params, env, nil, f.pricer, Build, true)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := res.Delta.Changeset().LeafUpdates(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
