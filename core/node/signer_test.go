package node

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/chain"
	"github.com/trellis-chain/trellis/core/feeclient"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/mempool"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/plugins/fee-eip1559"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/sdk"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
)

// openLedgerForTest opens a chain and mempool on a fresh store, as
// openLedger wires them, with one funded account.
func openLedgerForTest(t *testing.T) (*store.DB, *chain.Chain, *mempool.Mempool) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	g := &genesis.Genesis{ChainID: "trellis-test", GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		Fee:      genesis.Fee{InitialBaseFee: 10, BlockGasLimit: 1_000_000},
		Accounts: []genesis.Account{{Address: account.FromPublicKey(key.Public().(ed25519.PublicKey)), Balance: 1_000_000_000}}}
	c, err := chain.Open(db, chain.Config{Genesis: g, VerifyPoP: verifyPoP, Fees: feeclient.Client{Service: fee.Local{Params: fee.DefaultParams()}}, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	mp := mempool.New(mempool.Config{ChainID: g.ChainID}, mempool.HeadState{DB: c.State()})
	c.SetPool(mempool.ChainPool{Pool: mp, DB: c.State()})
	return db, c, mp
}

// openSigner: no key files leave the signer off, and then a consensus
// plugin that does not declare consensus.keyless (solo does) is refused
// with a diagnostic naming the file; with the files it serves both
// services.
func TestOpenSigner(t *testing.T) {
	for _, tc := range []struct {
		name      string
		consensus string
		caps      []string
		keys      bool
		diag      string
	}{
		{name: "solo without keys", consensus: "solo", caps: []string{sdk.CapConsensusKeyless}},
		{name: "bft without keys", consensus: "bft", diag: "Validator BLS key missing"},
		{name: "bft with keys", consensus: "bft", keys: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := `node {
  key_dir = "` + dir + `"
}
plugin "fee" "eip1559" {
  source = "/nonexistent/fee"
  sha256 = "` + strings.Repeat("ab", 32) + `"
}
plugin "consensus" "` + tc.consensus + `" {
  source = "/nonexistent/consensus"
  sha256 = "` + strings.Repeat("cd", 32) + `"
}
`
			cfg, diags := config.Parse([]byte(src), filepath.Join(dir, "node.hcl"), config.LoadOptions{Environ: func(string) (string, bool) { return "", false }})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			db, c, mp := openLedgerForTest(t)
			if tc.keys {
				if err := signer.WriteBLSKey(filepath.Join(dir, signer.BLSKeyFile), blsKey(t, 0x44)); err != nil {
					t.Fatal(err)
				}
				if err := signer.WriteNodeKey(filepath.Join(dir, signer.NodeKeyFile), ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, 32))); err != nil {
					t.Fatal(err)
				}
			}
			n := &Node{cfg: cfg, log: hclog.NewNullLogger(), db: db, chain: c, pool: mp, svc: &hostsvc.Services{Chain: c}}
			err := n.openSigner()
			if err == nil {
				err = n.checkKeyless(&plugin.Process{Spec: plugin.Spec{Kind: "consensus", Name: tc.consensus},
					Info: &pluginv1.InfoResponse{Capabilities: tc.caps}})
				if err != nil { // as Start reports a plugin that failed its start
					err = &DiagnosticsError{Diags: PluginDiagnostics(cfg, cfg.Primary(config.KindConsensus), err)}
				}
			}
			if tc.diag != "" {
				var de *DiagnosticsError
				if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.diag) || !strings.Contains(err.Error(), filepath.Join(dir, signer.BLSKeyFile)) {
					t.Fatalf("error %v, want a diagnostic %q naming the key file", err, tc.diag)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (n.svc.Signer != nil) != tc.keys || (n.svc.Evidence != nil) != tc.keys {
				t.Fatalf("signer %v evidence %v, want both present: %v", n.svc.Signer, n.svc.Evidence != nil, tc.keys)
			}
			if tc.keys && n.svc.Signer.PublicKeys().Address != account.FromPublicKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, 32)).Public().(ed25519.PublicKey)) {
				t.Fatal("signer holds another node key")
			}
		})
	}
}

func blsKey(t *testing.T, b byte) *bls.SecretKey {
	t.Helper()
	sk, err := bls.SecretKeyFromBytes(bytes.Repeat([]byte{b}, bls.SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// The admin token is made once (0600, 64 hex characters), read back after,
// and a file with a token too short to guess is refused.
func TestAdminTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin_token")
	tok, err := adminToken(path)
	if err != nil || len(tok) != 64 {
		t.Fatalf("new token %q: %v", tok, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	if again, err := adminToken(path); err != nil || again != tok {
		t.Fatalf("token read back %q %v, want %q", again, err, tok)
	}
	if err := os.WriteFile(path, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := adminToken(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a 3-character token: %v", err)
	}
}
