package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/conformance"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/sdk"
	"github.com/zclconf/go-cty/cty"
)

func cmdPlugin(args []string, stdout, stderr io.Writer) int {
	sub := map[string]func([]string, io.Writer, io.Writer) int{"list": pluginList, "verify": pluginVerify, "test": pluginTest, "schema": pluginSchema}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprintln(stderr, "Usage:\n  trellis plugin list [-config FILE | -dir DIR]\n  trellis plugin verify -config FILE | BINARY...\n  trellis plugin test -kind KIND [-name NAME] [-config-json JSON] BINARY [-- PLUGIN ARGS...]\n  trellis plugin schema [-kind KIND -name NAME] BINARY")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	return sub[args[0]](args[1:], stdout, stderr)
}

func pluginList(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plugin list", "plugin list [-config FILE | -dir DIR]", stderr)
	cfgPath := fs.String("config", "", "list the plugins a config file names")
	dir := fs.String("dir", "", "list the plugin binaries in a directory (default: beside trellis)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if *cfgPath != "" {
		cfg := loadConfig(*cfgPath, nil, stderr)
		if cfg == nil {
			return 1
		}
		fmt.Fprintln(tw, "KIND\tNAME\tROLE\tBINARY\tPINNED SHA256")
		for _, p := range cfg.Plugins {
			role := "primary"
			if cfg.Primary(p.Kind) != p {
				role = "fallback"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Kind, p.Name, role, p.Source, short(p.SHA256))
		}
		return 0
	}
	d := *dir
	if d == "" {
		if sp := defaultSearchPath(); len(sp) > 0 {
			d = sp[0]
		}
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		fmt.Fprintf(stderr, "trellis plugin list: %v\n", err)
		return 1
	}
	fmt.Fprintln(tw, "KIND\tNAME\tBINARY\tSHA256")
	n := 0
	for _, e := range entries {
		kind, name, ok := splitBinaryName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		path := filepath.Join(d, e.Name())
		sum, err := plugin.FileSHA256(path)
		if err != nil {
			sum = "error: " + err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", kind, name, path, sum)
		n++
	}
	if n == 0 {
		fmt.Fprintf(tw, "(no trellis-<kind>-<name> binaries in %s)\n", d)
	}
	return 0
}

// splitBinaryName splits trellis-<kind>-<name>.
func splitBinaryName(file string) (kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(file, config.BinaryPrefix)
	if !ok {
		return "", "", false
	}
	kind, name, ok = strings.Cut(rest, "-")
	return kind, name, ok && sdk.ValidKind(kind) && name != ""
}

func short(sum string) string {
	if len(sum) > 16 {
		return sum[:16] + "…"
	}
	return sum
}

func pluginVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plugin verify", "plugin verify -config FILE | BINARY...", stderr)
	cfgPath := fs.String("config", "", "verify every plugin a config file pins")
	bins, _, code, ok := parseMixed(fs, args)
	if !ok {
		return code
	}
	if *cfgPath == "" {
		if len(bins) == 0 {
			fs.Usage()
			return 2
		}
		// Print checksums to pin, like sha256sum.
		code := 0
		for _, path := range bins {
			sum, err := plugin.FileSHA256(path)
			if err != nil {
				fmt.Fprintf(stderr, "trellis plugin verify: %v\n", err)
				code = 1
				continue
			}
			fmt.Fprintf(stdout, "%s  %s\n", sum, path)
		}
		return code
	}
	cfg := loadConfig(*cfgPath, nil, stderr)
	if cfg == nil {
		return 1
	}
	bad := 0
	for _, p := range cfg.Plugins {
		sum, err := plugin.FileSHA256(p.Source)
		switch {
		case err != nil:
			bad++
			fmt.Fprintf(stdout, "FAIL  %-22s %v\n", p.ID(), err)
		case !strings.EqualFold(sum, p.SHA256):
			bad++
			r, _ := cfg.Range("plugin." + p.ID() + ".sha256")
			fmt.Fprintf(stdout, "FAIL  %-22s %s\n      expected %s (%s)\n      file has %s\n", p.ID(), p.Source, p.SHA256, r, sum)
		default:
			fmt.Fprintf(stdout, "ok    %-22s %s\n", p.ID(), sum)
		}
	}
	fmt.Fprintf(stdout, "%d verified, %d failed\n", len(cfg.Plugins)-bad, bad)
	if bad > 0 {
		return 1
	}
	return 0
}

func pluginTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plugin test", "plugin test -kind KIND [-name NAME] [-config-json JSON] [-timeout D] BINARY [-- ARGS...]", stderr)
	kind := fs.String("kind", "", "plugin kind: "+strings.Join(sdk.Kinds, ", "))
	name := fs.String("name", "", "expected plugin name (default: what the plugin reports)")
	cfgJSON := fs.String("config-json", "", "config to Configure with, as JSON (default: the schema's defaults)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound of each check")
	// Flags come before BINARY; everything after it is the plugin's own
	// (its flags may share names with ours), with an optional "--" dropped.
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if !sdk.ValidKind(*kind) || fs.NArg() < 1 {
		fs.Usage()
		return 2
	}
	pos := fs.Args()
	pluginArgs := pos[1:]
	if len(pluginArgs) > 0 && pluginArgs[0] == "--" {
		pluginArgs = pluginArgs[1:]
	}
	opts := conformance.Options{Kind: *kind, Name: *name, Path: pos[0], Args: pluginArgs, Timeout: *timeout}
	if *cfgJSON != "" {
		opts.Config = []byte(*cfgJSON)
	}
	fmt.Fprintf(stdout, "conformance kit, protocol v%d: %s plugin %s\n", sdk.ProtocolVersion, *kind, pos[0])
	rep := conformance.Run(context.Background(), opts)
	if err := rep.Write(stdout); err != nil {
		fmt.Fprintf(stderr, "trellis plugin test: %v\n", err)
		return 1
	}
	if !rep.Passed() {
		return 1
	}
	return 0
}

// pluginSchema starts a plugin binary just long enough to read the
// settings its config block accepts, and prints them.
func pluginSchema(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plugin schema", "plugin schema [-kind KIND -name NAME] BINARY", stderr)
	kind := fs.String("kind", "", "plugin kind (default: from the file name trellis-<kind>-<name>)")
	name := fs.String("name", "", "plugin name (default: from the file name)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	path, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	if *kind == "" || *name == "" {
		k, n, ok := splitBinaryName(filepath.Base(path))
		if !ok {
			return walletError(stderr, "%s is not named trellis-<kind>-<name>: give -kind and -name", path)
		}
		*kind, *name = cmp.Or(*kind, k), cmp.Or(*name, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := plugin.Start(ctx, plugin.Spec{Kind: *kind, Name: *name, Path: path})
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	defer p.Close()
	fmt.Fprintf(stdout, "plugin %q %q %s: settings of its config {} block\n", *kind, *name, p.Info.GetVersion())
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tDEFAULT\tDESCRIPTION")
	for _, a := range p.Schema.Attributes {
		def := "-"
		switch {
		case a.Required:
			def = "(required)"
		case a.Sensitive:
			def = "(sensitive)"
		case a.Default != cty.NilVal && !a.Default.IsNull():
			def = string(hclwrite.TokensForValue(a.Default).Bytes())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, a.Type.FriendlyName(), def, a.Description)
	}
	for _, b := range p.Schema.Blocks {
		fmt.Fprintf(tw, "%s {}\tblock\t-\t%s\n", b.TypeName, b.Description)
	}
	if err := tw.Flush(); err != nil {
		return walletError(stderr, "%v", err)
	}
	return 0
}
