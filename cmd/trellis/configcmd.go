package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/node"
	"github.com/trellis-chain/trellis/core/plugin"
)

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprintln(stderr, "Usage: trellis config validate -config FILE [-offline] [-var name=value]...")
		if len(args) == 0 {
			return 2
		}
		if args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		return 2
	}
	fs := newFlags("config validate", "config validate -config FILE [-offline] [-var name=value]...", stderr)
	cfgPath := fs.String("config", "", "node config file (HCL)")
	offline := fs.Bool("offline", false, "check the file only; do not start plugins to check their config blocks")
	vars := varsFlag{}
	fs.Var(vars, "var", "set a config variable, name=value (repeatable)")
	if code, ok := parse(fs, args[1:]); !ok {
		return code
	}
	if *cfgPath == "" {
		fs.Usage()
		return 2
	}
	cfg := loadConfig(*cfgPath, vars, stderr)
	if cfg == nil {
		return 1
	}
	if *offline {
		fmt.Fprintf(stdout, "%s: syntax and settings valid (%d plugins; plugin config blocks not checked: -offline)\n", *cfgPath, len(cfg.Plugins))
		return 0
	}
	diags := checkPluginConfigs(cfg, stdout)
	if len(diags) > 0 {
		_ = cfg.WriteDiagnostics(stderr, diags)
	}
	if diags.HasErrors() {
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid (%d plugins checked against their schemas)\n", *cfgPath, len(cfg.Plugins))
	return 0
}

// checkPluginConfigs starts each plugin just far enough to read its schema
// (checksum, handshake, identity), decodes its config block, and stops it.
func checkPluginConfigs(cfg *config.Config, stdout io.Writer) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range cfg.Plugins {
		fmt.Fprintf(stdout, "checking plugin %s (%s)…\n", p.ID(), p.Source)
		proc, err := plugin.Start(context.Background(), plugin.Spec{Kind: p.Kind, Name: p.Name, Path: p.Source, SHA256: p.SHA256,
			Args: p.Args, Env: p.Env, StartTimeout: p.StartTimeout})
		if err != nil {
			diags = append(diags, node.PluginDiagnostics(cfg, p, err)...)
			continue
		}
		_, d := cfg.DecodePluginConfig(p, proc.Schema)
		proc.Close()
		diags = append(diags, d...)
	}
	return diags
}
