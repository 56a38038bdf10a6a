// Command probe is a test-only plugin of any kind whose behaviour is chosen
// by its arguments, so the runtime's tests can make a real plugin process
// misbehave in each way an operator may meet: garbage on stdout, a hang
// before the handshake, another protocol version, a crash or hang in
// Configure, a wrong identity, a broken contract.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/trellis-chain/trellis/sdk"
)

func main() {
	p := &probe{}
	flag.StringVar(&p.kind, "kind", "fee", "plugin kind to serve")
	flag.StringVar(&p.name, "name", "probe", "plugin name to report")
	flag.StringVar(&p.mode, "mode", "ok", "behaviour: ok, garbage, hang-handshake, exit, protocol-2, crash-configure, hang-configure, hang-health, bad-schema, broken, crash-after")
	flag.DurationVar(&p.after, "after", time.Second, "with -mode=crash-after: exit this long after Configure")
	flag.Parse()

	switch p.mode {
	case "garbage":
		fmt.Println("hello from a plugin that prints before its handshake")
	case "hang-handshake":
		time.Sleep(time.Hour)
	case "exit":
		fmt.Fprintln(os.Stderr, "probe: exiting at start as asked")
		os.Exit(3)
	case "bad-schema-raw":
		// Skips sdk.Serve's own schema check, as a plugin written without
		// the SDK might, so the host's check is what refuses it.
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig:  sdk.Handshake,
			VersionedPlugins: map[int]goplugin.PluginSet{sdk.ProtocolVersion: sdk.PluginSet(p.kind, p)},
			GRPCServer:       goplugin.DefaultGRPCServer,
		})
		return
	case "protocol-2":
		// Speaks only v2: the host's v1 cannot be negotiated.
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig:  sdk.Handshake,
			VersionedPlugins: map[int]goplugin.PluginSet{2: sdk.PluginSet(p.kind, p)},
			GRPCServer:       goplugin.DefaultGRPCServer,
		})
		return
	}
	sdk.Serve(p)
}
