package sdk

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ServeOption adjusts Serve.
type ServeOption func(*serveOptions)

type serveOptions struct {
	logger hclog.Logger
}

// WithLogger sets the plugin's logger. It must write to stderr: stdout
// carries the handshake and nothing else.
func WithLogger(l hclog.Logger) ServeOption { return func(o *serveOptions) { o.logger = l } }

// Logger returns a logger that the host forwards with the plugin's name.
// Plugins log through it (or any hclog JSON logger on stderr).
func Logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Trace})
}

// Serve serves p until the host closes the connection or dies. It never
// returns on success; it exits the process with status 1 if p is invalid or
// when the binary is started by hand rather than by a host.
func Serve(p Plugin, opts ...ServeOption) {
	o := serveOptions{}
	for _, fn := range opts {
		fn(&o)
	}
	if o.logger == nil {
		o.logger = Logger()
	}
	kind, err := checkKind(p)
	if err == nil {
		err = p.ConfigSchema().Validate()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "trellis plugin: %v\n", err)
		os.Exit(1)
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		info := p.Info()
		fmt.Fprintf(os.Stderr, "This is the Trellis %s plugin %q (version %s).\n"+
			"It is started by a Trellis node, not by hand: name it in a plugin %q %q block,\n"+
			"or check it with `trellis plugin test -kind %s %s`.\n",
			info.Kind, info.Name, info.Version, info.Kind, info.Name, info.Kind, os.Args[0])
		os.Exit(1)
	}
	go exitWithParent(o.logger)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: PluginSet(kind, p)},
		GRPCServer: func(gopts []grpc.ServerOption) *grpc.Server {
			gopts = append(gopts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
			return grpc.NewServer(gopts...)
		},
		Logger: o.logger,
	})
}

// exitWithParent ends the plugin when the host process is gone, even if it
// was killed with SIGKILL and could not close the connection: the host also
// sets a parent-death signal, this is the portable second line.
func exitWithParent(log hclog.Logger) {
	parent := os.Getppid()
	for range time.Tick(250 * time.Millisecond) {
		if os.Getppid() != parent {
			log.Warn("host process is gone; exiting", "host_pid", parent)
			os.Exit(2)
		}
	}
}
