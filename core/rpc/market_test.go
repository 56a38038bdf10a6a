package rpc

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
)

// TestMarketRecordsRoundTrip checks that prover records, the registry and
// jobs survive the JSON view both ways, so a client recomputes the leaf.
func TestMarketRecordsRoundTrip(t *testing.T) {
	escrow := account.Account{
		Address: account.EscrowAddress, Balance: 1<<63 + 5,
		Prover:  &account.Prover{Kind: "cpu", Throughput: 1<<53 + 3, Price: 1 << 60, Bond: 10, Reputation: 900, Proved: 1 << 60, Missed: 2, Slashed: 3},
		Provers: []account.Address{testAddr(1), testAddr(2)},
		Jobs: []account.Job{{Height: 1 << 55, Public: account.Statement{OldRoot: hash.Hash(nil), NewRoot: hash.Hash([]koalabear.Element{{}}), Updates: 9},
			Reward: 1<<63 + 5, Pay: 7, Prover: testAddr(2), Deadline: 1<<55 + 20, Attempts: 1}},
	}
	b, err := json.Marshal(NewAccount(&AccountResult{Address: escrow.Address, Exists: true, Index: 2, Account: escrow}))
	if err != nil {
		t.Fatal(err)
	}
	var view Account
	if err := json.Unmarshal(b, &view); err != nil {
		t.Fatal(err)
	}
	back, err := view.Account()
	if err != nil {
		t.Fatal(err)
	}
	back.Delegations, back.Unbonding = escrow.Delegations, escrow.Unbonding // JSON gives empty lists
	if !reflect.DeepEqual(back, escrow) || back.Leaf() != escrow.Leaf() {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, escrow)
	}
	var bad Account
	if err := json.Unmarshal(b, &bad); err != nil {
		t.Fatal(err)
	}
	bad.Jobs[0].OldRoot = Root{0xff, 0xff, 0xff, 0xff}
	if _, err := bad.Account(); err == nil {
		t.Fatal("a job root with a value ≥ p converted without error")
	}
}
