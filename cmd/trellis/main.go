// Command trellis is the Trellis host: it runs a node composed from an HCL
// file and offers the operator's tools (init, config, plugin, version).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run a node from a config file", cmdRun},
		{"init", "write a single-node config, keys and genesis into a directory", cmdInit},
		{"config", "check a config file (validate)", cmdConfig},
		{"plugin", "list, verify or test plugin binaries", cmdPlugin},
		{"keys", "create, import, list and show wallet keys; encrypt a node's key files", cmdKeys},
		{"tx", "sign and send a transaction: transfer, bond, unbond, delegate", cmdTx},
		{"query", "read an account, block or transaction from a node", cmdQuery},
		{"prove", "prove a block on this machine from a node's witness", cmdProve},
		{"verify", "verify a block's proof, from a file or as recorded on chain", cmdVerify},
		{"testnet", "run a local multi-node testnet: up, status, load, faults, down", cmdTestnet},
		{"trial", "run a matrix of testnets (consensus × validators) under one load and compare them", cmdTrial},
		{"sim", "run a trial spec in the deterministic simulator (many validators, virtual time)", cmdSim},
		{"version", "print versions", cmdVersion},
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "trellis: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: trellis <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'trellis <command> -h' for a command's flags.")
}

// newFlags returns a flag set that prints its usage to stderr and returns
// errors instead of exiting.
func newFlags(name, usageLine string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: trellis %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; it returns an exit code and false when the command
// must stop (help asked, or bad flags).
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// parseMixed parses flags placed before or after positional arguments, as
// people type them (`init DIR -force`). Everything after a "--" is returned
// as passthrough, untouched.
func parseMixed(fs *flag.FlagSet, args []string) (positional, passthrough []string, code int, ok bool) {
	for {
		if len(args) > 0 && args[0] == "--" {
			return positional, args[1:], 0, true
		}
		if code, ok := parse(fs, args); !ok {
			return nil, nil, code, false
		}
		rest := fs.Args()
		// flag consumed a "--" that ended the flags: the rest passes through.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return positional, rest, 0, true
		}
		if len(rest) == 0 {
			return positional, nil, 0, true
		}
		if rest[0] == "--" {
			return positional, rest[1:], 0, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// varsFlag collects repeated -var name=value flags.
type varsFlag map[string]string

func (v varsFlag) String() string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (v varsFlag) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[k] = val
	return nil
}
