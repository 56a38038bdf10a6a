package plugin

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; StartError wraps one of them with the plugin and phase.
var (
	ErrNotFound        = errors.New("plugin binary not found")
	ErrNotExecutable   = errors.New("plugin binary is not executable")
	ErrChecksum        = errors.New("plugin binary checksum mismatch")
	ErrHandshake       = errors.New("plugin handshake failed")
	ErrProtocolVersion = errors.New("plugin speaks another protocol version")
	ErrStartTimeout    = errors.New("plugin did not start in time")
	ErrIdentity        = errors.New("plugin is not what the config declares")
	ErrSchema          = errors.New("plugin config schema is invalid")
	ErrConfig          = errors.New("plugin config is invalid")
	ErrExited          = errors.New("plugin process exited")
	ErrCallTimeout     = errors.New("plugin did not answer in time")
	ErrUnavailable     = errors.New("plugin is not available")
	ErrFailed          = errors.New("plugin keeps failing")
)

// StartError says which plugin failed, in which phase, and why, with the
// last lines it wrote to stderr when they help.
type StartError struct {
	Plugin string // kind.name
	Path   string
	Phase  string // e.g. "checksum", "handshake", "configure"
	Err    error
	Stderr []string
}

func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s (%s): %s: %v", e.Plugin, e.Path, e.Phase, e.Err)
	if len(e.Stderr) > 0 {
		b.WriteString("\n  last stderr lines:")
		for _, l := range e.Stderr {
			b.WriteString("\n    ")
			b.WriteString(l)
		}
	}
	return b.String()
}

func (e *StartError) Unwrap() error { return e.Err }

// ChecksumError is the detail of ErrChecksum.
type ChecksumError struct {
	Path, Expected, Actual string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: %v: expected sha256 %s, file has %s", e.Path, ErrChecksum, e.Expected, e.Actual)
}

func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// ConfigError carries the diagnostics a plugin or the schema decoder gave
// for a plugin's config block, for the caller to render with file:line.
type ConfigError struct {
	Diagnostics []Diagnostic
}

// Diagnostic is one problem with a plugin's config.
type Diagnostic struct {
	Path    []string
	Summary string
	Detail  string
}

func (e *ConfigError) Error() string {
	var parts []string
	for _, d := range e.Diagnostics {
		s := d.Summary
		if len(d.Path) > 0 {
			s = strings.Join(d.Path, ".") + ": " + s
		}
		if d.Detail != "" {
			s += " (" + d.Detail + ")"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%v: %s", ErrConfig, strings.Join(parts, "; "))
}

func (e *ConfigError) Unwrap() error { return ErrConfig }
