package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/genesis"
	"github.com/trellis-chain/trellis/core/keystore"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/signer"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
)

// config.DefaultPlugins names the plugin init picks for each kind when its binary
// is in the plugin directory. Later plugins (consensus, prover, da) join
// this table as they land.

// pluginDefaults starts the plugin binary at bin, asks for its config
// schema and returns a writer of every attribute that has a default (and
// of extra, which overrides them), so an operator sees what there is to
// tune; the defaults come from the plugin, which declares them, never from
// a copy here.
func pluginDefaults(kind, name, bin, sum string, extra map[string]cty.Value) (func(*hclwrite.Body), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := plugin.Start(ctx, plugin.Spec{Kind: kind, Name: name, Path: bin, SHA256: sum})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return func(b *hclwrite.Body) {
		for _, a := range p.Schema.Attributes {
			if v, ok := extra[a.Name]; ok {
				b.SetAttributeValue(a.Name, v)
			} else if a.Default != cty.NilVal && !a.Default.IsNull() {
				b.SetAttributeValue(a.Name, a.Default)
			}
		}
	}, nil
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
	type pinned struct{ kind, name, bin, sum string }
	var plugins []pinned
	kinds := make([]string, 0, len(config.DefaultPlugins))
	for k := range config.DefaultPlugins {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		name := config.DefaultPlugins[kind]
		bin := filepath.Join(pluginDir, config.BinaryPrefix+kind+"-"+name)
		sum, err := plugin.FileSHA256(bin)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stdout, "note: %s not found; no %s plugin configured (run `make build`)\n", bin, kind)
			continue
		}
		if err != nil {
			return err
		}
		plugins = append(plugins, pinned{kind, name, bin, sum})
	}

	nodeKey, err := signer.NewNodeKeyFile(filepath.Join(dir, "keys", "node_key.json"))
	if err != nil {
		return err
	}
	validator := account.FromPublicKey(nodeKey.Public().(ed25519.PublicKey))
	blsPub, pop, err := signer.NewBLSKeyFile(filepath.Join(dir, "keys", "validator_bls_key.json"))
	if err != nil {
		return err
	}
	wallet, err := writeDevWallet(dir, stdout)
	if err != nil {
		return err
	}
	if err := writeGenesis(filepath.Join(dir, "genesis.json"), chainID, validator, wallet, blsPub, pop); err != nil {
		return err
	}

	tps := make([]config.TemplatePlugin, len(plugins))
	for i, p := range plugins {
		var extra map[string]cty.Value
		if p.kind == config.KindConsensus {
			// Solo credits the sequencer's fee share to the validator.
			extra = map[string]cty.Value{"proposer": cty.StringVal(validator.String())}
		}
		write, err := pluginDefaults(p.kind, p.name, p.bin, p.sum, extra)
		if err != nil {
			return err
		}
		tps[i] = config.TemplatePlugin{Kind: p.kind, Name: p.name, SHA256: p.sum, Config: write}
	}
	header := fmt.Sprintf("# Trellis single-node config written by `trellis init` on %s.\n"+
		"# Reference: docs/configuration.md. Check it with `trellis config validate -config node.hcl`.\n\n",
		time.Now().UTC().Format(time.DateOnly))
	src := append([]byte(header), config.Template(config.TemplateNode{Name: "node0", ChainID: chainID, PluginDir: pluginDir}, tps...)...)
	if err := os.WriteFile(cfgPath, src, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\nwrote %s\nwrote %s\n", cfgPath, filepath.Join(dir, "genesis.json"), filepath.Join(dir, "keys"))
	fmt.Fprintf(stdout, "validator %s\nwallet %q %s (funded; use -home %s)\n", validator, devWalletName, wallet, dir)
	for _, p := range plugins {
		fmt.Fprintf(stdout, "pinned plugin %s.%s sha256 %s\n", p.kind, p.name, p.sum)
	}
	return nil
}

// Genesis amounts of a development network, in base units.
const (
	devWalletBalance   = 1_000_000_000_000_000
	devWalletName      = "dev"
	devPassphraseEnvar = "TRELLIS_PASSPHRASE"
)

// writeDevWallet creates the funded "dev" key in the node directory's
// keystore, sealed with $TRELLIS_PASSPHRASE (empty if unset: it is a
// development key and init says so).
func writeDevWallet(dir string, stdout io.Writer) (account.Address, error) {
	ks, err := keystore.Open(filepath.Join(dir, "keys"))
	if err != nil {
		return account.Address{}, err
	}
	pass := os.Getenv(devPassphraseEnvar)
	if info, err := ks.Show(devWalletName); err == nil {
		return info.Address, nil // keep an existing wallet across init -force
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return account.Address{}, err
	}
	info, err := ks.Import(devWalletName, priv, pass)
	if err != nil {
		return account.Address{}, err
	}
	if pass == "" {
		fmt.Fprintf(stdout, "note: wallet key %q has an empty passphrase (set %s before init to choose one)\n", devWalletName, devPassphraseEnvar)
	}
	return info.Address, nil
}

func writeGenesis(path, chainID string, validator, wallet account.Address, blsPub, pop []byte) error {
	g := &genesis.Genesis{
		ChainID: chainID, GenesisTime: time.Now().UTC().Truncate(time.Second),
		Fee:            genesis.Fee{InitialBaseFee: genesis.DefaultBaseFee, BlockGasLimit: genesis.DefaultGasLimit},
		UnbondingDelay: genesis.DefaultUnbondingDelay,
		HeaderVersion:  block.VersionTxCommitment,
		Accounts: []genesis.Account{
			{Address: wallet, Balance: devWalletBalance},
			{Address: validator, Balance: genesis.DevValidatorBalance},
		},
		Validators: []genesis.Validator{{Address: validator, BLSPublicKey: blsPub, ProofOfPossession: pop, Stake: genesis.DevValidatorStake}},
	}
	return g.Save(path)
}
