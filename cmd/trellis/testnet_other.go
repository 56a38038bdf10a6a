//go:build !linux

package main

import (
	"fmt"
	"io"
)

// cmdTestnet needs Linux: it manages node process groups through /proc.
func cmdTestnet(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "trellis testnet: local testnets need Linux (process groups and /proc)")
	return 1
}
