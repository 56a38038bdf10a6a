package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/internal/testbin"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// freePort returns a loopback address that was free a moment ago.
func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ledgerNode initialises a node with the solo sequencer producing a block
// every 200 ms and the RPC on a free port.
func ledgerNode(t *testing.T) (b binaries, dir, cfg, url string) {
	t.Helper()
	b = buildBinaries(t)
	testbin.Build(t, "plugins/consensus-solo/cmd/trellis-consensus-solo")
	t.Setenv("TRELLIS_PASSPHRASE", "")
	dir, cfg = initNode(t, b)
	addr := freePort(t)
	replaceInFile(t, cfg, `listen  = "127.0.0.1:0"`, `listen  = "`+addr+`"`)
	replaceInFile(t, cfg, `block_interval = "1s"`, `block_interval = "200ms"`)
	return b, dir, cfg, "http://" + addr
}

func dialNode(t *testing.T, url string, n *runningNode) *rpc.Client {
	t.Helper()
	c, err := rpc.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	eventually(t, "the node answers RPC", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.ChainID(ctx)
		return err == nil
	})
	return c
}

var txHashRe = regexp.MustCompile(`tx hash:\s+(0x[0-9a-f]{64})`)

// TestE2ELedger runs real processes end to end: trellis with the fee plugin
// and the solo sequencer, which commits every block through the Chain host
// service. The wallet CLI sends transfers; the node is killed with SIGKILL
// and restarted from its bbolt file, and must report the same blocks, roots,
// balances and receipts.
func TestE2ELedger(t *testing.T) {
	b, dir, cfg, url := ledgerNode(t)
	n := startRun(t, b, dir, cfg)
	c := dialNode(t, url, n)
	ctx := context.Background()

	g, err := genesis.Load(dir + "/genesis.json")
	if err != nil {
		t.Fatal(err)
	}
	var seed [32]byte
	seed[0] = 7
	to := account.FromPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	var hashes []tx.Hash
	for _, amt := range []string{"1000", "2000", "3000"} {
		out, errOut, code := trellisCLI(t, b.trellis, dir, "tx", "transfer", "-home", dir, "-from", "dev", "-to", to.String(), "-amount", amt, "-node", url)
		if code != 0 || !strings.Contains(out, "result:    ok") {
			t.Fatalf("transfer %s: exit %d\n%s%s\nnode:\n%s", amt, code, out, errOut, n.stderr)
		}
		m := txHashRe.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no tx hash in %q", out)
		}
		h, _ := tx.ParseHash(m[1])
		hashes = append(hashes, h)
	}
	// A rejection comes back with its reason and a non-zero exit.
	out, errOut, code := trellisCLI(t, b.trellis, dir, "tx", "transfer", "-home", dir, "-from", "dev", "-to", to.String(),
		"-amount", "18446744073709551615", "-node", url)
	if code == 0 || !strings.Contains(errOut, "insufficient") && !strings.Contains(errOut, "overflow") {
		t.Fatalf("oversized transfer: exit %d\n%s%s", code, out, errOut)
	}

	bal, err := c.Balance(ctx, to)
	if err != nil || bal != 6000 {
		t.Fatalf("balance of %s: %d, %v; want 6000", to, bal, err)
	}
	last, err := c.Receipt(ctx, hashes[2])
	if err != nil {
		t.Fatal(err)
	}
	height := last.BlockHeight
	eventually(t, "a few more blocks", func() bool {
		h, err := c.Head(ctx)
		return err == nil && h.Height >= height+2
	})
	// The log shows every block: one line per new head, one per final block.
	logs := n.stdout.String() + n.stderr.String()
	for _, want := range []string{fmt.Sprintf(`new head: height=%d hash=0x[0-9a-f]{8} txs=[1-9]`, height), fmt.Sprintf(`final: height=%d hash=0x[0-9a-f]{8} txs=[1-9]`, height)} {
		if !regexp.MustCompile(want).MatchString(logs) {
			t.Errorf("node log lacks %q:\n%s", want, logs)
		}
	}
	before, err := c.BlockByNumber(ctx, height, false)
	if err != nil {
		t.Fatal(err)
	}
	receipts := map[tx.Hash]*rpc.Receipt{}
	for _, h := range hashes {
		if receipts[h], err = c.Receipt(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	wallet, err := c.Account(ctx, g.Accounts[0].Address)
	if err != nil {
		t.Fatal(err)
	}

	// kill -9 and restart from the same bbolt file.
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n.done
	n2 := startRun(t, b, dir, cfg)
	c2 := dialNode(t, url, n2)
	after, err := c2.BlockByNumber(ctx, height, false)
	if err != nil {
		t.Fatal(err)
	}
	if after.Hash != before.Hash || after.StateRoot != before.StateRoot || after.Finality != rpc.FinalityFinal {
		t.Fatalf("block %d after restart: %s root %s (%s); before %s root %s", height, after.Hash, after.StateRoot, after.Finality, before.Hash, before.StateRoot)
	}
	if bal2, err := c2.Balance(ctx, to); err != nil || bal2 != bal {
		t.Fatalf("balance after restart %d (%v), before %d", bal2, err, bal)
	}
	for h, r := range receipts {
		r2, err := c2.Receipt(ctx, h)
		if err != nil || *r2 != *r {
			t.Fatalf("receipt of %s after restart: %+v (%v), before %+v", h, r2, err, r)
		}
	}
	w2, err := c2.Account(ctx, g.Accounts[0].Address)
	if err != nil || w2.Balance != wallet.Balance || w2.Nonce != 3 {
		t.Fatalf("wallet after restart: %+v (%v), before %+v", w2, err, wallet)
	}
	// The chain goes on producing blocks after the restart.
	eventually(t, "blocks after the restart", func() bool {
		h, err := c2.Head(ctx)
		return err == nil && h.Height > height+3
	})
	if strings.Contains(n2.stderr.String(), "[ERROR]") {
		t.Errorf("errors in the restarted node's log:\n%s", n2.stderr)
	}

}
