package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trellis-chain/trellis/sdk/schema"
)

// Info identifies a plugin. Kind and Name must match the HCL block that loads
// it (plugin "<kind>" "<name>").
type Info struct {
	Kind    string
	Name    string
	Version string
	// Capabilities name the minor protocol additions the plugin implements.
	Capabilities []string
}

// CapConsensusKeyless is declared by a consensus plugin that asks the host
// to sign nothing (a single sequencer, say): a node running it needs no
// validator key. Without it, the host refuses to start a consensus plugin
// on a node that has no validator key.
const CapConsensusKeyless = "consensus.keyless"

// NodeInfo describes the host node to a plugin.
type NodeInfo struct {
	ChainID          string
	NodeName         string
	HostVersion      string
	HostCapabilities []string
	// Restarts is non-zero when the host restarted this plugin after a
	// crash: the plugin resumes from its Store.
	Restarts uint32
}

// HasHostCapability reports whether the host offers capability c.
func (n NodeInfo) HasHostCapability(c string) bool {
	for _, v := range n.HostCapabilities {
		if v == c {
			return true
		}
	}
	return false
}

// ConfigureRequest is what the host hands a plugin at start.
type ConfigureRequest struct {
	// Config is the plugin's HCL config block decoded against its schema, as
	// a JSON object with defaults applied. schema.DecodeJSON reads it.
	Config []byte
	// Host reaches the host services. It stays valid until the process ends.
	Host *Host
	Node NodeInfo
}

// HealthStatus is a plugin's self-reported state.
type HealthStatus int

// Health states.
const (
	Serving HealthStatus = iota + 1
	Degraded
	NotServing
)

// Health is a plugin's answer to the host's health poll.
type Health struct {
	Status  HealthStatus
	Message string
	Details map[string]string
}

// Plugin is implemented by every plugin, beside the interface of its kind.
type Plugin interface {
	// Info must be constant for the life of the process.
	Info() Info
	// ConfigSchema must be constant and valid (schema.Validate).
	ConfigSchema() *schema.Schema
	// Configure is called once per process start, before any kind call.
	// A *ConfigError (or several joined) points the operator at the config
	// attribute; any other error fails the start as a whole.
	Configure(ctx context.Context, req ConfigureRequest) error
	// Health must answer quickly; it is polled while the node runs.
	Health(ctx context.Context) Health
}

// ConfigError is a Configure error about one config attribute. The host
// renders it at the attribute's file:line:column.
type ConfigError struct {
	// Path names the attribute, e.g. []string{"split", "burn_bps"}.
	Path    []string
	Summary string
	Detail  string
}

func (e *ConfigError) Error() string {
	s := e.Summary
	if len(e.Path) > 0 {
		s = strings.Join(e.Path, ".") + ": " + s
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// ErrNotConfigured is returned by kind calls made before Configure.
var ErrNotConfigured = errors.New("plugin not configured")

// ConfigErrors unpacks err into ConfigErrors; an error that is not one is
// reported with an empty path.
func ConfigErrors(err error) []*ConfigError {
	if err == nil {
		return nil
	}
	var out []*ConfigError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ce *ConfigError
		if errors.As(e, &ce) {
			out = append(out, ce)
			return
		}
		out = append(out, &ConfigError{Summary: e.Error()})
	}
	walk(err)
	return out
}

func checkKind(p Plugin) (string, error) {
	info := p.Info()
	var ok bool
	switch info.Kind {
	case KindFee:
		_, ok = p.(Fee)
	case KindConsensus:
		_, ok = p.(Consensus)
	case KindProver:
		_, ok = p.(Prover)
	case KindDA:
		_, ok = p.(DA)
	default:
		return "", fmt.Errorf("sdk: Info().Kind %q is not one of %s", info.Kind, strings.Join(Kinds, ", "))
	}
	if !ok {
		return "", fmt.Errorf("sdk: plugin %s.%s declares kind %q but does not implement sdk.%s", info.Kind, info.Name, info.Kind, kindInterface(info.Kind))
	}
	return info.Kind, nil
}

func kindInterface(kind string) string {
	switch kind {
	case KindFee:
		return "Fee"
	case KindConsensus:
		return "Consensus"
	case KindProver:
		return "Prover"
	default:
		return "DA"
	}
}
