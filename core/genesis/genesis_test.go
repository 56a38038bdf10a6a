package genesis

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/protocol/state"
)

func validJSON() string {
	a := account.SystemAddress("test/a").String()
	b := account.SystemAddress("test/b").String()
	return `{
  "chain_id": "trellis-test",
  "genesis_time": "2026-01-01T00:00:00Z",
  "fee": {"initial_base_fee": "10", "block_gas_limit": "1000000"},
  "unbonding_delay": 5,
  "accounts": [{"address": "` + a + `", "balance": "18446744073709551000"}],
  "validators": [{"address": "` + b + `", "bls_public_key": "0x` + strings.Repeat("a0", 48) + `",
    "proof_of_possession": "0x` + strings.Repeat("b0", 96) + `", "stake": "500"}]
}`
}

func TestParseValid(t *testing.T) {
	g, err := Parse([]byte(validJSON()))
	if err != nil {
		t.Fatal(err)
	}
	if g.ChainID != "trellis-test" || g.Accounts[0].Balance != 18446744073709551000 || g.Validators[0].Stake != 500 || g.UnbondingDelay != 5 {
		t.Fatalf("parsed %+v", g)
	}
}

func TestParseRejects(t *testing.T) {
	a := account.SystemAddress("test/a").String()
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"syntax error with position", `"chain_id": "trellis-test",`, `"chain_id": "trellis-test"`, "line 3, column"},
		{"unknown field", `"unbonding_delay": 5,`, `"unbonding_delay": 5, "unbonding_dealy": 5,`, "unknown field"},
		{"bad chain id", `"trellis-test"`, `"trellis test"`, "chain_id"},
		{"zero unbonding delay", `"unbonding_delay": 5`, `"unbonding_delay": 0`, "unbonding_delay"},
		{"gas limit below a staking tx", `"block_gas_limit": "1000000"`, `"block_gas_limit": "9999"`, "block_gas_limit"},
		{"amount not a number", `"balance": "18446744073709551000"`, `"balance": "lots"`, "decimal"},
		{"supply overflow", `"stake": "500"`, `"stake": "1000"`, "overflows"},
		{"short BLS key", `"0x` + strings.Repeat("a0", 48) + `"`, `"0xa0"`, "bls_public_key is 1 bytes"},
		{"short PoP", `"0x` + strings.Repeat("b0", 96) + `"`, `"0xb0"`, "proof_of_possession is 1 bytes"},
		{"zero stake", `"stake": "500"`, `"stake": "0"`, "stake is zero"},
		{"treasury address", a, account.TreasuryAddress.String(), "treasury"},
		{"malformed address", a, "0x" + strings.Repeat("ff", 32), "address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(validJSON(), tc.from, tc.to, 1)
			if src == validJSON() {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, err := Parse([]byte(src))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

// TestLongestChainSection: the section's parameters become block 0's
// consensus data; bad ones are refused with the field named.
func TestLongestChainSection(t *testing.T) {
	lc := `"unbonding_delay": 5, "longest_chain": {"slot_ms": 200, "epoch_slots": 3000, "active_slots": "1/5", "k": 60, "tie_slots": 5, "max_proof_lag": 128},`
	g, err := Parse([]byte(strings.Replace(validJSON(), `"unbonding_delay": 5,`, lc, 1)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := leader.DecodeParams(g.Block(hash.Digest{}).Header.ConsensusData)
	if err != nil || p != leader.Defaults {
		t.Fatalf("block 0 carries %+v (%v), want the defaults", p, err)
	}
	for from, want := range map[string]string{
		`"active_slots": "1/5"`: `"active_slots": "0.2"`,
		`"epoch_slots": 3000`:   `"epoch_slots": 100`,
		`"k": 60`:               `"k": 0`,
	} {
		src := strings.Replace(validJSON(), `"unbonding_delay": 5,`, strings.Replace(lc, from, want, 1), 1)
		if _, err := Parse([]byte(src)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "longest_chain") {
			t.Errorf("%s: %v", want, err)
		}
	}
	if g, _ := Parse([]byte(validJSON())); len(g.Block(hash.Digest{}).Header.ConsensusData) != 0 {
		t.Fatal("a chain without the section has consensus data in block 0")
	}
}

func TestCheckDuplicates(t *testing.T) {
	g, err := Parse([]byte(validJSON()))
	if err != nil {
		t.Fatal(err)
	}
	g.Accounts = append(g.Accounts, g.Accounts[0])
	g.Accounts[1].Balance = 1
	if err := g.Check(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "accounts[1]") {
		t.Fatalf("duplicate account: %v", err)
	}
	g.Accounts = g.Accounts[:1]
	g.Validators = append(g.Validators, g.Validators[0])
	if err := g.Check(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("duplicate validator: %v", err)
	}
}

// marketJSON is validJSON with a prover market override and one prover.
func marketJSON() string {
	a := account.SystemAddress("test/a").String()
	return strings.Replace(validJSON(), `"unbonding_delay": 5,`, `"unbonding_delay": 5,
  "prover_market": {"min_prover_bond": "1000", "job_deadline": 4, "reputation_max": 2000},
  "provers": [{"address": "`+a+`", "kind": "gpu", "throughput": 5000000, "price": "7", "bond": "1500"}],`, 1)
}

func TestMarketParams(t *testing.T) {
	g, err := Parse([]byte(validJSON()))
	if err != nil {
		t.Fatal(err)
	}
	if g.MarketParams() != account.DefaultMarketParams() {
		t.Fatalf("no prover_market: %+v, want the defaults", g.MarketParams())
	}
	g, err = Parse([]byte(marketJSON()))
	if err != nil {
		t.Fatal(err)
	}
	want := account.DefaultMarketParams()
	want.MinProverBond, want.JobDeadline, want.ReputationMax = 1000, 4, 2000
	if got := g.MarketParams(); got != want {
		t.Fatalf("MarketParams = %+v, want %+v", got, want)
	}
	if len(g.Provers) != 1 || g.Provers[0].Kind != "gpu" || g.Provers[0].Bond != 1500 || g.Provers[0].Price != 7 {
		t.Fatalf("provers %+v", g.Provers)
	}
}

func TestMarketRejects(t *testing.T) {
	b := account.SystemAddress("test/b").String()
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"bond below minimum", `"bond": "1500"`, `"bond": "999"`, "below the minimum prover bond 1000"},
		{"bond above balance", `"bond": "1500"`, `"bond": "18446744073709551001"`, "above the account's genesis balance"},
		{"not an account", `"provers": [{"address": "` + account.SystemAddress("test/a").String(), `"provers": [{"address": "` + b, "is not in accounts"},
		{"bad kind", `"kind": "gpu"`, `"kind": "GPU"`, "provers[0]: kind"},
		{"zero throughput", `"throughput": 5000000`, `"throughput": 0`, "throughput is zero"},
		{"bad market", `"job_deadline": 4`, `"job_deadline": 0`, "prover_market: job_deadline 0"},
		{"unknown market field", `"job_deadline": 4`, `"job_deadlin": 4`, "unknown field"},
		{"listed twice", `"bond": "1500"}]`, `"bond": "1500"}, {"address": "` + account.SystemAddress("test/a").String() + `", "kind": "cpu", "throughput": 1, "price": "0", "bond": "1000"}]`, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(marketJSON(), tc.from, tc.to, 1)
			if src == marketJSON() {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, err := Parse([]byte(src))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestApplyRegistersProvers(t *testing.T) {
	g, err := Parse([]byte(marketJSON()))
	if err != nil {
		t.Fatal(err)
	}
	d := statedb.NewDelta(emptyState{})
	if err := g.Apply(d); err != nil {
		t.Fatal(err)
	}
	_, a, err := statedb.AccountAt(d, g.Provers[0].Address)
	if err != nil {
		t.Fatal(err)
	}
	want := account.Prover{Kind: "gpu", Throughput: 5_000_000, Price: 7, Bond: 1500, Reputation: account.DefaultReputationStart}
	if a.Prover == nil || *a.Prover != want || a.Balance != 18446744073709551000-1500 {
		t.Fatalf("prover account %+v (prover %+v)", a, a.Prover)
	}
	e, err := d.Account(account.EscrowIndex)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Provers) != 1 || e.Provers[0] != g.Provers[0].Address {
		t.Fatalf("escrow registry %v", e.Provers)
	}
	// The bond moved from balance to locked: supply is unchanged.
	var sum uint64
	gl := d.Globals()
	for i := account.Index(1); i < account.Index(gl.Accounts); i++ {
		acc, err := d.Account(i)
		if err != nil {
			t.Fatal(err)
		}
		sum += acc.Balance + acc.Locked()
	}
	if sum != gl.Supply {
		t.Fatalf("balances and locked sum to %d, supply %d", sum, gl.Supply)
	}
}

// emptyState is a Reader with nothing in it.
type emptyState struct{}

func (emptyState) Globals() account.Globals { return account.Globals{} }
func (emptyState) Lookup(account.Address) (account.Index, bool, error) {
	return 0, false, nil
}
func (emptyState) Account(i account.Index) (*account.Account, error) {
	return nil, fmt.Errorf("%w: %d", statedb.ErrNoAccount, i)
}
func (emptyState) QueueBetween(uint64, uint64) ([]state.QueueKey, error) { return nil, nil }
