package genesis

import (
	"errors"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/account"
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
