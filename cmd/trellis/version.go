package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/trellis-chain/trellis/sdk"
)

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "version", stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	fmt.Fprintf(stdout, "trellis %s\nplugin protocol v%d (sdk %s)\n%s %s/%s\n", Version, sdk.ProtocolVersion, sdk.Version,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
