package node_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/node"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/internal/testbin"
	feev1 "github.com/trellis-chain/trellis/sdk/proto/trellis/fee/v1"
)

// startNode runs a node whose only plugin is this binary, configured by
// body (the inside of the plugin's config {} block).
func startNode(t *testing.T, body string) (*node.Node, *config.Config, error) {
	t.Helper()
	bin := testbin.Build(t, "plugins/fee-eip1559/cmd/trellis-fee-eip1559")
	sum, err := plugin.FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := fmt.Sprintf(`
node    { data_dir = %q }
metrics { enabled = false }
plugin "fee" "eip1559" {
  source = %q
  sha256 = %q
  restart {
    initial_backoff = "10ms"
  }
  config {
%s
  }
}
`, dir, bin, sum, body)
	return startFromHCL(t, dir, src)
}

// startFromHCL writes src as dir/node.hcl, loads it and starts the node,
// stopped when the test ends.
func startFromHCL(t *testing.T, dir, src string) (*node.Node, *config.Config, error) {
	t.Helper()
	path := filepath.Join(dir, "node.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.LoadFile(path, config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	n, err := node.Start(context.Background(), cfg, node.Options{})
	if err == nil {
		t.Cleanup(func() { n.Stop(context.Background()) })
	}
	return n, cfg, err
}

func feeClient(t *testing.T, n *node.Node) feev1.FeeClient {
	t.Helper()
	p, err := n.Plugin("fee").Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p.Kind.(feev1.FeeClient)
}

// The worked example of docs/fee-market.md, through the real plugin process.
var exampleReq = &feev1.PriceBlockRequest{
	Parent: &feev1.Parent{Height: 41, BaseFee: 1_000, GasUsed: 18_000_000, GasLimit: 30_000_000},
	Txs: []*feev1.TxFee{
		{GasLimit: 21_000, GasUsed: 21_000, MaxFeePerGas: 2_000, MaxPriorityFeePerGas: 10},
		{GasLimit: 100_000, GasUsed: 65_537, MaxFeePerGas: 1_030, MaxPriorityFeePerGas: 50},
		{GasLimit: 50_000, GasUsed: 50_000, MaxFeePerGas: 1_000, MaxPriorityFeePerGas: 1},
		{GasLimit: 5_000_000, GasUsed: 4_000_000, MaxFeePerGas: 3_000, MaxPriorityFeePerGas: 100},
	},
}

func TestPriceBlockThroughPlugin(t *testing.T) {
	n, _, err := startNode(t, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := feeClient(t, n).PriceBlock(context.Background(), exampleReq)
	if err != nil {
		t.Fatal(err)
	}
	if r.GetBaseFee() != 1_025 || r.GetNextBaseFee() != 932 || r.GetGasUsed() != 4_086_537 {
		t.Fatalf("base %d next %d gas %d", r.GetBaseFee(), r.GetNextBaseFee(), r.GetGasUsed())
	}
	tot := r.GetTotals()
	if tot.GetBurn() != 2_094_350_213 || tot.GetTreasury() != 418_870_042 || tot.GetSequencer() != 400_537_685 || tot.GetProver() != 1_675_480_170 {
		t.Fatalf("totals %v", tot)
	}
	if tx := r.GetTxs()[2]; tx.GetReject() != feev1.TxPrice_REJECT_FEE_CAP_TOO_LOW || !strings.Contains(tx.GetReason(), "below base fee 1025") {
		t.Fatalf("tx 2 = %v", tx)
	}
	if tx := r.GetTxs()[1]; tx.GetFee() != 67_503_110 || tx.GetEffectiveGasPrice() != 1_030 || tx.GetTipPerGas() != 5 {
		t.Fatalf("tx 1 = %v", tx)
	}
}

func TestConfiguredSplit(t *testing.T) {
	n, _, err := startNode(t, `
    base_fee_split {
      burn = 10000
    }`)
	if err != nil {
		t.Fatal(err)
	}
	r, err := feeClient(t, n).PriceBlock(context.Background(), exampleReq)
	if err != nil {
		t.Fatal(err)
	}
	if tot := r.GetTotals(); tot.GetBurn() != 4_188_700_425 || tot.GetProver() != 0 || tot.GetTreasury() != 0 {
		t.Fatalf("totals %v", tot)
	}
}

func TestConfigErrorsPointIntoTheFile(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		// A typo the schema catches before Configure.
		{`    elasticity_multiplierr = 2`, `node.hcl:11,5-27: plugin "fee" "eip1559": Unsupported argument; An argument named "elasticity_multiplierr" is not expected here. Did you mean "elasticity_multiplier"?`},
		// A value the plugin itself refuses in Configure.
		{`    base_fee_split {
      burn = 9000
    }`, `node.hcl:11,5-19: plugin "fee" "eip1559": base_fee_split: burn 9000 + treasury 0 + sequencer 0 + prover 0 = 9000 bps, must be exactly 10000`},
	} {
		_, _, err := startNode(t, tc.body)
		var de *node.DiagnosticsError
		if !errors.As(err, &de) {
			t.Fatalf("err = %v", err)
		}
		got := de.Diags[0].Subject.String() + ": " + de.Diags[0].Summary
		if de.Diags[0].Detail != "" {
			got += "; " + de.Diags[0].Detail
		}
		if !strings.HasSuffix(got, tc.want) {
			t.Errorf("diagnostic\n  %s\nwant suffix\n  %s", got, tc.want)
		}
	}
}

// TestTipsSurviveRestart kills the plugin; the restarted process quotes from
// the tips it persisted in its Store.
func TestTipsSurviveRestart(t *testing.T) {
	n, _, err := startNode(t, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fc := feeClient(t, n)
	if _, err := fc.PriceBlock(ctx, exampleReq); err != nil {
		t.Fatal(err)
	}
	q := &feev1.QuoteRequest{Parent: exampleReq.Parent, WithinBlocks: 3}
	before, err := fc.Quote(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	sup := n.Plugin("fee")
	pid := sup.Status().Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for st := sup.Status(); st.Pid == pid || st.State != plugin.StateRunning; st = sup.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("not restarted: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	after, err := feeClient(t, n).Quote(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if after.GetMaxPriorityFeePerGas() != before.GetMaxPriorityFeePerGas() || before.GetMaxPriorityFeePerGas() <= 1 {
		t.Fatalf("quote before %v after %v", before, after)
	}
}
