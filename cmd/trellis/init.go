package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"time"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/plugins/fee"
)

// defaultPlugins names the plugin init picks for each kind when its binary
// is in the plugin directory. Later plugins (consensus, prover, da) join
// this table as they land.
var defaultPlugins = map[string]string{
	config.KindFee: "eip1559",
}

func cmdInit(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("init", "init [-chain-id ID] [-plugin-dir DIR] [-force] DIR", stderr)
	chainID := fs.String("chain-id", config.DefaultChainID, "chain id of the new network")
	pluginDir := fs.String("plugin-dir", "", "directory of the plugin binaries (default: beside trellis)")
	force := fs.Bool("force", false, "overwrite an existing node.hcl, keys and genesis")
	pos, extra, code, ok := parseMixed(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 || len(extra) > 0 {
		fs.Usage()
		return 2
	}
	dir, err := filepath.Abs(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "trellis init: %v\n", err)
		return 1
	}
	pdir := *pluginDir
	if pdir == "" {
		if sp := defaultSearchPath(); len(sp) > 0 {
			pdir = sp[0]
		}
	}
	if pdir, err = filepath.Abs(pdir); err != nil {
		fmt.Fprintf(stderr, "trellis init: %v\n", err)
		return 1
	}
	if err := initDir(dir, *chainID, pdir, *force, stdout); err != nil {
		fmt.Fprintf(stderr, "trellis init: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nStart the node with:\n  trellis run -config %s\n", filepath.Join(dir, "node.hcl"))
	return 0
}

func initDir(dir, chainID, pluginDir string, force bool, stdout io.Writer) error {
	cfgPath := filepath.Join(dir, "node.hcl")
	if _, err := os.Stat(cfgPath); err == nil && !force {
		return fmt.Errorf("%s exists; pass -force to overwrite it", cfgPath)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return err
	}
	// Pin every default plugin found in the plugin directory.
	type pinned struct{ kind, name, sum string }
	var plugins []pinned
	kinds := make([]string, 0, len(defaultPlugins))
	for k := range defaultPlugins {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		name := defaultPlugins[kind]
		bin := filepath.Join(pluginDir, config.BinaryPrefix+kind+"-"+name)
		sum, err := plugin.FileSHA256(bin)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stdout, "note: %s not found; no %s plugin configured (run `make build`)\n", bin, kind)
			continue
		}
		if err != nil {
			return err
		}
		plugins = append(plugins, pinned{kind, name, sum})
	}

	nodeKey, err := writeNodeKey(filepath.Join(dir, "keys", "node_key.json"))
	if err != nil {
		return err
	}
	blsPub, err := writeBLSKey(filepath.Join(dir, "keys", "validator_bls_key.json"))
	if err != nil {
		return err
	}
	if err := writeGenesis(filepath.Join(dir, "genesis.json"), chainID, nodeKey, blsPub); err != nil {
		return err
	}

	tps := make([]config.TemplatePlugin, len(plugins))
	for i, p := range plugins {
		tps[i] = config.TemplatePlugin{Kind: p.kind, Name: p.name, SHA256: p.sum}
		if p.kind == config.KindFee {
			tps[i].Config = feeConfig
		}
	}
	header := fmt.Sprintf("# Trellis single-node config written by `trellis init` on %s.\n"+
		"# Reference: docs/configuration.md. Check it with `trellis config validate -config node.hcl`.\n\n",
		time.Now().UTC().Format(time.DateOnly))
	src := append([]byte(header), config.Template(config.TemplateNode{Name: "node0", ChainID: chainID, PluginDir: pluginDir}, tps...)...)
	if err := os.WriteFile(cfgPath, src, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\nwrote %s\nwrote %s\n", cfgPath, filepath.Join(dir, "genesis.json"), filepath.Join(dir, "keys"))
	for _, p := range plugins {
		fmt.Fprintf(stdout, "pinned plugin %s.%s sha256 %s\n", p.kind, p.name, p.sum)
	}
	return nil
}

// feeConfig writes the fee market's defaults into its config block, so an
// operator sees what there is to tune.
func feeConfig(b *hclwrite.Body) {
	d := fee.DefaultParams()
	b.SetAttributeValue("elasticity_multiplier", cty.NumberUIntVal(d.ElasticityMultiplier))
	b.SetAttributeValue("base_fee_max_change_denominator", cty.NumberUIntVal(d.BaseFeeMaxChangeDenominator))
	b.SetAttributeValue("min_base_fee", cty.NumberUIntVal(d.MinBaseFee))
	b.AppendNewline()
	s := d.BaseFeeSplit
	split := b.AppendNewBlock("base_fee_split", nil).Body()
	for _, kv := range []struct {
		name string
		bps  uint32
	}{{"burn", s.Burn}, {"treasury", s.Treasury}, {"sequencer", s.Sequencer}, {"prover", s.Prover}} {
		split.SetAttributeValue(kv.name, cty.NumberUIntVal(uint64(kv.bps)))
	}
}

type keyFile struct {
	Type       string `json:"type"`
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key"`
}

func writeKeyFile(path string, k keyFile) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

func writeNodeKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return pub, writeKeyFile(path, keyFile{Type: "ed25519", PublicKey: hex.EncodeToString(pub), PrivateKey: hex.EncodeToString(priv.Seed())})
}

// writeBLSKey writes a BLS12-381 validator key: a secret scalar and its
// public key in G1 (compressed), the scheme the BFT plugin's votes use.
func writeBLSKey(path string) ([]byte, error) {
	var sk fr.Element
	if _, err := sk.SetRandom(); err != nil {
		return nil, err
	}
	_, _, g1, _ := bls12381.Generators()
	var pk bls12381.G1Affine
	pk.ScalarMultiplication(&g1, sk.BigInt(new(big.Int)))
	pkb := pk.Bytes()
	skb := sk.Bytes()
	return pkb[:], writeKeyFile(path, keyFile{Type: "bls12-381-g1", PublicKey: hex.EncodeToString(pkb[:]), PrivateKey: hex.EncodeToString(skb[:])})
}

// genesis is provisional until the ledger defines accounts and staking; see
// docs/protocol.md.
type genesis struct {
	ChainID        string             `json:"chain_id"`
	GenesisTime    time.Time          `json:"genesis_time"`
	InitialHeight  uint64             `json:"initial_height"`
	Accounts       []genesisAccount   `json:"accounts"`
	Validators     []genesisValidator `json:"validators"`
	Fee            fee.Params         `json:"fee"`
	UnbondingDelay uint64             `json:"unbonding_delay_blocks"`
}

type genesisAccount struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
}

type genesisValidator struct {
	Address      string `json:"address"`
	Ed25519Key   string `json:"ed25519_public_key"`
	BLSPublicKey string `json:"bls_public_key"`
	Stake        uint64 `json:"stake"`
}

func writeGenesis(path, chainID string, nodeKey ed25519.PublicKey, blsPub []byte) error {
	h := sha256.Sum256(nodeKey)
	addr := hex.EncodeToString(h[:20])
	g := genesis{
		ChainID: chainID, GenesisTime: time.Now().UTC().Truncate(time.Second), InitialHeight: 1,
		Accounts:       []genesisAccount{{Address: addr, Balance: 1_000_000_000_000}},
		Validators:     []genesisValidator{{Address: addr, Ed25519Key: hex.EncodeToString(nodeKey), BLSPublicKey: hex.EncodeToString(blsPub), Stake: 1_000_000}},
		Fee:            fee.DefaultParams(),
		UnbondingDelay: 100,
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
