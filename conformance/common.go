package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-chain/trellis/core/hostsvc"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/sdk"
	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
	"github.com/trellis-chain/trellis/sdk/schema"
)

// runMain starts the main process and runs the common and kind checks on
// it. It reports whether the plugin started, so later checks are worth
// running.
func (r *runner) runMain(ctx context.Context) bool {
	var p *plugin.Process
	var startErr error
	phase := ""
	r.run(ctx, "common/handshake", func(ctx context.Context) error {
		p, startErr = plugin.Start(ctx, r.spec())
		if startErr == nil {
			return nil
		}
		var se *plugin.StartError
		if errors.As(startErr, &se) {
			phase = se.Phase
		}
		switch phase {
		case "info", "schema":
			return nil // the handshake itself succeeded
		}
		return startErr
	})
	if startErr != nil {
		switch phase {
		case "info":
			r.record("common/info", 0, startErr)
		case "schema":
			r.record("common/config-schema", 0, startErr)
		}
		return false
	}
	defer p.Close()

	r.run(ctx, "common/info", func(context.Context) error { return checkInfo(r.opts.Kind, p.Info) })
	r.run(ctx, "common/config-schema", func(context.Context) error { return r.checkSchema(p.Schema) })
	k := kindSuites[r.opts.Kind]
	r.run(ctx, "common/kind-call-before-configure", func(ctx context.Context) error {
		err := k.call(ctx, p)
		if status.Code(err) == codes.FailedPrecondition {
			return nil
		}
		if err == nil {
			return violation("%s answered before Configure; kind calls must fail with FailedPrecondition until the plugin is configured", k.callName)
		}
		return callErr(p, k.callName+" before Configure", fmt.Errorf("%w: want code FailedPrecondition, got %s: %v",
			ErrViolation, status.Code(err), err))
	})
	configured := r.run(ctx, "common/configure", func(ctx context.Context) error {
		if r.configErr != nil {
			return r.configErr
		}
		return r.configure(ctx, p, r.config)
	})
	if configured {
		r.run(ctx, "common/configure-twice-refused", func(ctx context.Context) error {
			err := r.configure(ctx, p, r.config)
			if err == nil {
				return violation("a second Configure on the same process succeeded; Configure runs once per process start")
			}
			if errors.Is(err, plugin.ErrExited) || errors.Is(err, plugin.ErrCallTimeout) {
				return err
			}
			return alive(p, "second Configure")
		})
	} else {
		r.skip("common/configure-twice-refused", "needs a configured plugin (common/configure failed)")
	}
	if configured {
		r.run(ctx, "common/health", func(ctx context.Context) error { return checkHealth(ctx, p) })
	} else {
		r.skip("common/health", "needs a configured plugin (common/configure failed)")
	}
	if configured && !p.Exited() {
		k.checks(ctx, r, p)
		r.run(ctx, "common/cancelled-call", func(ctx context.Context) error {
			cctx, cancel := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() { errc <- k.call(cctx, p) }()
			cancel()
			select {
			case err := <-errc:
				if err != nil && status.Code(err) != codes.Canceled {
					return callErr(p, "cancelled "+k.callName, fmt.Errorf("%w: want success or code Canceled, got %s: %v",
						ErrViolation, status.Code(err), err))
				}
			case <-ctx.Done():
				return violation("a cancelled %s did not return within %s", k.callName, r.timeout)
			}
			// The plugin must not be wedged by the abandoned call.
			if err := checkHealth(ctx, p); err != nil {
				return fmt.Errorf("after a cancelled %s: %w", k.callName, err)
			}
			return nil
		})
	} else {
		r.skip(r.opts.Kind+"/*", "needs a configured, running plugin (common/configure failed)")
	}
	r.run(ctx, "common/close-exits", func(ctx context.Context) error {
		pid := p.Pid()
		p.Close()
		if !p.Exited() {
			return violation("the process did not exit after Close")
		}
		// Close waits for the process; a live pid now is an orphan.
		for pid > 0 && processAlive(pid) {
			select {
			case <-ctx.Done():
				return violation("process %d still runs after Close", pid)
			case <-time.After(10 * time.Millisecond):
			}
		}
		return nil
	})
	return true
}

// runBadConfigs hands bad configs to fresh processes, so their state never
// mixes with the main run's.
func (r *runner) runBadConfigs(ctx context.Context) {
	r.run(ctx, "common/configure-rejects-non-object", func(ctx context.Context) error {
		return r.badConfig(ctx, []byte(`[1, "two", {"three": 3}]`), "a JSON array")
	})
	r.run(ctx, "common/configure-rejects-wrong-type", func(ctx context.Context) error {
		cfg, what, err := wrongTypeConfig(r.config, r.opts.Config, r.schema)
		if err != nil {
			return err
		}
		return r.badConfig(ctx, cfg, what)
	})
}

// badConfig starts a fresh process, configures it with config, and wants
// diagnostics or an error back, then a process that still answers Health.
func (r *runner) badConfig(ctx context.Context, config []byte, what string) error {
	p, err := plugin.Start(ctx, r.spec())
	if err != nil {
		return fmt.Errorf("a fresh process did not start: %w", err)
	}
	defer p.Close()
	err = r.configure(ctx, p, config)
	switch {
	case err == nil:
		return violation("Configure accepted %s (%s); a config that does not match the schema must return diagnostics or an error", what, abbreviate(config))
	case errors.Is(err, plugin.ErrExited), errors.Is(err, plugin.ErrCallTimeout):
		return fmt.Errorf("calling Configure with %s: %w", what, err)
	}
	if err := alive(p, "Configure with "+what); err != nil {
		return err
	}
	if _, err := p.Health(ctx); err != nil {
		return callErr(p, "Health after a refused Configure", err)
	}
	return nil
}

func abbreviate(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

var (
	semverRE     = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	capabilityRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$`)
)

// MaxCapabilityLen bounds one capability name.
const MaxCapabilityLen = 128

// ValidVersion reports whether v is a semantic version (semver 2.0.0, an
// optional leading "v" allowed).
func ValidVersion(v string) bool { return len(v) <= 256 && semverRE.MatchString(v) }

// ValidCapability reports whether c is a well-formed capability name:
// lowercase dotted segments, at least two, e.g. "fee.quote".
func ValidCapability(c string) bool { return len(c) <= MaxCapabilityLen && capabilityRE.MatchString(c) }

func checkInfo(kind string, info *pluginv1.InfoResponse) error {
	var errs []string
	if info.GetKind() != kind {
		errs = append(errs, fmt.Sprintf("kind is %q, want %q", info.GetKind(), kind))
	}
	if info.GetName() == "" {
		errs = append(errs, "name is empty")
	} else if err := store.ValidateName(hostsvc.NamespaceName(kind, info.GetName())); err != nil {
		errs = append(errs, fmt.Sprintf("name %q cannot name a Store namespace (lowercase letters, digits, '.', '_', '-')", info.GetName()))
	}
	if !ValidVersion(info.GetVersion()) {
		errs = append(errs, fmt.Sprintf("version %q is not a semantic version", info.GetVersion()))
	}
	if !slices.Contains(info.GetProtocolVersions(), sdk.ProtocolVersion) {
		errs = append(errs, fmt.Sprintf("protocol_versions %v lacks %d", info.GetProtocolVersions(), sdk.ProtocolVersion))
	}
	seen := map[string]bool{}
	for _, c := range info.GetCapabilities() {
		switch {
		case !ValidCapability(c):
			errs = append(errs, fmt.Sprintf("capability %q is not a lowercase dotted name like \"fee.quote\"", c))
		case seen[c]:
			errs = append(errs, fmt.Sprintf("capability %q is listed twice", c))
		}
		seen[c] = true
	}
	if len(errs) > 0 {
		return violation("Info: %s", strings.Join(errs, "; "))
	}
	return nil
}

// checkSchema keeps the schema (validated by the start) and builds the
// config Configure gets: the given one, or the schema's defaults.
func (r *runner) checkSchema(sc *schema.Schema) error {
	if sc == nil {
		return violation("no config schema")
	}
	r.schema = sc
	if r.opts.Config != nil {
		r.config = r.opts.Config
		return nil
	}
	val, diags := sc.Decode(hcl.EmptyBody(), nil)
	if diags.HasErrors() {
		r.configErr = fmt.Errorf("%w (%s)", ErrConfigRequired, requiredNames(sc, diags))
		return nil
	}
	cfg, err := schema.MarshalConfig(val)
	if err != nil {
		return violation("the schema's defaults do not encode as a config: %v", err)
	}
	r.config = cfg
	return nil
}

func requiredNames(sc *schema.Schema, diags hcl.Diagnostics) string {
	var names []string
	for _, a := range sc.Attributes {
		if a.Required {
			names = append(names, a.Name)
		}
	}
	for _, b := range sc.Blocks {
		if b.MinItems > 0 {
			names = append(names, b.TypeName+" {}")
		}
	}
	if len(names) == 0 {
		return diags.Error()
	}
	return "required: " + strings.Join(names, ", ")
}

// wrongTypeConfig returns a config object in which one top-level attribute
// of a plain type holds a value of another type.
func wrongTypeConfig(config, given []byte, sc *schema.Schema) ([]byte, string, error) {
	if sc == nil {
		return nil, "", skipf("no schema")
	}
	base := config
	if base == nil {
		base = given
	}
	obj := map[string]json.RawMessage{}
	if base != nil {
		if err := json.Unmarshal(base, &obj); err != nil {
			return nil, "", skipf("the config is not a JSON object to start from: %v", err)
		}
	}
	for _, a := range sc.Attributes {
		var bad json.RawMessage
		switch {
		case a.Type == cty.String:
			bad = json.RawMessage(`{"not": "a string"}`)
		case a.Type == cty.Number:
			bad = json.RawMessage(`"not a number"`)
		case a.Type == cty.Bool:
			bad = json.RawMessage(`"not a bool"`)
		case a.Type.IsListType(), a.Type.IsSetType(), a.Type.IsMapType(), a.Type.IsObjectType():
			bad = json.RawMessage(`"not a ` + a.Type.FriendlyName() + `"`)
		default:
			continue // dynamic: any value is of its type
		}
		obj[a.Name] = bad
		out, err := json.Marshal(obj)
		if err != nil {
			return nil, "", err
		}
		return out, fmt.Sprintf("attribute %q of type %s set to %s", a.Name, schema.TypeString(a.Type), bad), nil
	}
	return nil, "", skipf("the schema has no top-level attribute of a fixed type")
}

func checkHealth(ctx context.Context, p *plugin.Process) error {
	h, err := p.Health(ctx)
	if err != nil {
		return callErr(p, "Health", err)
	}
	switch h.GetStatus() {
	case pluginv1.HealthResponse_STATUS_SERVING, pluginv1.HealthResponse_STATUS_DEGRADED:
		return nil
	}
	msg := h.GetMessage()
	if msg != "" {
		msg = " (" + strconv.Quote(msg) + ")"
	}
	return violation("Health of a configured plugin is %s%s, want STATUS_SERVING or STATUS_DEGRADED", h.GetStatus(), msg)
}

// processAlive reports whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z'
}
