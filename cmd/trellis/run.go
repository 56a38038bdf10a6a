package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/node"
	"github.com/trellis-chain/trellis/testnet"
)

// loadConfig loads a config file and renders its diagnostics; it returns
// nil when there were errors.
func loadConfig(path string, vars map[string]string, stderr io.Writer) *config.Config {
	cfg, diags := config.LoadFile(path, config.LoadOptions{Vars: vars, SearchPath: defaultSearchPath()})
	if len(diags) > 0 {
		_ = cfg.WriteDiagnostics(stderr, diags)
	}
	if diags.HasErrors() {
		return nil
	}
	return cfg
}

// defaultSearchPath finds plugins beside the trellis binary when a config
// gives neither source nor a plugin_dir that has them.
func defaultSearchPath() []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return []string{filepath.Dir(exe)}
}

func newLogger(cfg *config.Config, w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "trellis",
		Level:      hclog.LevelFromString(cfg.Node.LogLevel),
		JSONFormat: cfg.Node.LogFormat == "json",
		Output:     w,
		Color:      hclog.AutoColor,
	})
}

// EnvClockSkew is read here and set by fault injection (testnet.RestartEnv).
const EnvClockSkew = testnet.EnvClockSkew

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "run -config FILE [-var name=value]...", stderr)
	cfgPath := fs.String("config", "", "node config file (HCL)")
	vars := varsFlag{}
	fs.Var(vars, "var", "set a config variable, name=value (repeatable)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "trellis run: -config is required (create one with `trellis init DIR`)")
		return 2
	}
	cfg := loadConfig(*cfgPath, vars, stderr)
	if cfg == nil {
		return 1
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := node.Options{Logger: log, HostVersion: Version}
	if v := os.Getenv(EnvClockSkew); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < -time.Minute || d > time.Minute {
			fmt.Fprintf(stderr, "trellis run: %s=%q: want a duration between -1m and 1m\n", EnvClockSkew, v)
			return 2
		}
		opts.ClockSkew = d
		log.Warn("fault injection: the Clock served to plugins is skewed", "skew", d, "env", EnvClockSkew)
	}
	fmt.Fprintf(stdout, "trellis %s: node %q on chain %q (config %s)\n", Version, cfg.Node.Name, cfg.Node.ChainID, *cfgPath)
	n, err := node.Start(ctx, cfg, opts)
	if err != nil {
		var de *node.DiagnosticsError
		if errors.As(err, &de) {
			_ = cfg.WriteDiagnostics(stderr, de.Diags)
		} else {
			fmt.Fprintf(stderr, "trellis run: %v\n", err)
		}
		return 1
	}
	printStatus(stdout, n)
	fmt.Fprintln(stdout, "node running; Ctrl-C stops it")
	werr := n.Wait(ctx)
	fmt.Fprintln(stdout, "stopping…")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	n.Stop(sctx)
	if werr != nil {
		fmt.Fprintf(stderr, "trellis run: node stopped: %v\n", werr)
		return 1
	}
	fmt.Fprintln(stdout, "stopped cleanly")
	return 0
}

func printStatus(w io.Writer, n *node.Node) {
	st := n.Status()
	for _, p := range st.Plugins {
		fmt.Fprintf(w, "  plugin %-22s %-9s pid %d\n", p.Plugin, p.State, p.Pid)
	}
	if a := n.MetricsAddr(); a != nil {
		fmt.Fprintf(w, "  metrics http://%s/metrics  health http://%s/health\n", a, a)
	}
	if len(st.Plugins) == 0 {
		fmt.Fprintln(w, "  (no plugins configured)")
	}
}
