package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/plugins/consensus-bft"
	"github.com/trellis-chain/trellis/trial"
)

// bftVoters reads a BFT block's consensus data, its parent's commit
// certificate, into the indexes of the validators who signed it.
func bftVoters(cd []byte) []int {
	c, err := bft.DecodeCertificate(cd)
	if err != nil {
		return nil // block 1 carries none
	}
	var out []int
	for i := range c.N {
		if c.Signed(i) {
			out = append(out, i)
		}
	}
	return out
}

// cmdTrial runs a trial spec: every cell a testnet of real processes.
func cmdTrial(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("trial", "trial -spec FILE.hcl -out DIR [-plugin-dir DIR]", stderr)
	specPath := fs.String("spec", "", "the trial spec (docs/trials.md)")
	out := fs.String("out", "", "directory for the cells, results.json, results.csv and report.md")
	pluginDir := fs.String("plugin-dir", "", "directory of the plugin binaries (default: beside trellis)")
	wait := fs.Duration("wait", 120*time.Second, "how long a cell's nodes may take to answer RPC")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *specPath == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	spec, diags := trial.LoadFile(*specPath)
	if diags.HasErrors() {
		src, _ := os.ReadFile(*specPath)
		files := map[string]*hcl.File{*specPath: {Bytes: src}}
		_ = config.WriteDiagnostics(stderr, files, diags)
		return 1
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "trial: %v\n", err)
		return 1
	}
	if r, err := filepath.EvalSymlinks(bin); err == nil {
		bin = r
	}
	if *pluginDir == "" {
		*pluginDir = filepath.Dir(bin)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := trial.Run(ctx, spec, trial.Options{Out: *out, Binary: bin, PluginDir: *pluginDir, Wait: *wait,
		Voters: map[string]func([]byte) []int{"bft": bftVoters}}, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "trial %s: %v (results so far in %s)\n", spec.Name, err, *out)
		return 1
	}
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
		}
	}
	fmt.Fprintf(stdout, "trial %s: %d cells, %d failed; report in %s\n", spec.Name, len(results), failed, filepath.Join(*out, "report.md"))
	if failed > 0 {
		return 1
	}
	return 0
}
