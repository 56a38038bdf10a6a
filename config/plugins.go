package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

var pluginSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "source"}, {Name: "sha256"}, {Name: "args"}, {Name: "env"}, {Name: "start_timeout"}, {Name: "fallback"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "restart"},
		{Type: "config"},
	},
}

var restartSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "max_restarts"}, {Name: "window"}, {Name: "initial_backoff"}, {Name: "max_backoff"},
	},
}

// MaxRestartsLimit is the largest accepted restart.max_restarts.
const MaxRestartsLimit = 1000

// pluginNameRe: plugin names become part of a file name
// (trellis-<kind>-<name>), so no dots or slashes.
var pluginNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkPluginName(s string) error {
	if !pluginNameRe.MatchString(s) {
		return fmt.Errorf("%q is not a valid plugin name: use 1 to 64 letters, digits, '_' or '-', starting with a letter or digit", s)
	}
	return nil
}

func checkSHA256(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("the checksum must be 64 hexadecimal digits, got %d characters; compute it with `trellis plugin verify <binary>` or `sha256sum <binary>`", len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return fmt.Errorf("the checksum must be 64 hexadecimal digits (0-9, a-f); %q is not", s)
	}
	return nil
}

func checkArg(s string) error {
	if strings.ContainsRune(s, 0) {
		return errors.New("argument contains a NUL byte")
	}
	return nil
}

func checkEnvName(s string) error {
	if !envNameRe.MatchString(s) {
		return fmt.Errorf("%q is not a valid environment variable name: use letters, digits and '_', not starting with a digit", s)
	}
	return nil
}

func (d *decoder) decodePlugins(blocks hcl.Blocks) {
	for _, blk := range blocks {
		if blk.Type != "plugin" {
			continue
		}
		if p := d.decodePlugin(blk); p != nil {
			d.cfg.Plugins = append(d.cfg.Plugins, p)
		}
	}
}

func (d *decoder) decodePlugin(blk *hcl.Block) *Plugin {
	kind, name := blk.Labels[0], blk.Labels[1]
	ok := true
	if !slices.Contains(Kinds(), kind) {
		detail := fmt.Sprintf("%q is not a plugin kind; the kinds are %s.", kind, strings.Join(Kinds(), ", "))
		if s := suggest(kind, Kinds()); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		d.errorf(blk.LabelRanges[0].Ptr(), "Unknown plugin kind", "%s", detail)
		ok = false
	}
	if err := checkPluginName(name); err != nil {
		d.errorf(blk.LabelRanges[1].Ptr(), "Invalid plugin name", "%s", sentence(err.Error()))
		ok = false
	}
	if ok {
		if prev := d.cfg.Plugin(kind, name); prev != nil {
			d.errorf(blk.DefRange.Ptr(), "Duplicate plugin block",
				"A plugin %q %q block was already declared at %s. Each plugin may appear once.", kind, name, at(prev.DeclRange))
			ok = false
		}
	}

	if !ok {
		// The block is not usable; decoding its body would only add noise.
		return nil
	}

	p := &Plugin{
		Kind:         kind,
		Name:         name,
		StartTimeout: DefaultStartTimeout,
		Restart: RestartPolicy{
			MaxRestarts:    DefaultMaxRestarts,
			Window:         DefaultRestartWindow,
			InitialBackoff: DefaultInitialBackoff,
			MaxBackoff:     DefaultMaxBackoff,
		},
		Args:        []string{},
		Env:         map[string]string{},
		Body:        hcl.EmptyBody(),
		ConfigRange: blk.DefRange,
		DeclRange:   blk.DefRange,
	}
	prefix := "plugin." + kind + "." + name
	d.cfg.ranges[prefix] = blk.DefRange

	content, diags := blk.Body.Content(pluginSchema)
	d.add(diags...)
	b := d.body(prefix, content.Attributes)

	var source string
	b.str("source", &source, checkPath)
	if source != "" {
		p.Source = resolve(d.cfg.Dir, source)
	} else {
		p.Source, p.SearchedPaths = d.findPlugin(kind, name)
	}

	if _, present := content.Attributes["sha256"]; present {
		b.str("sha256", &p.SHA256, checkSHA256)
		p.SHA256 = strings.ToLower(p.SHA256)
	} else {
		d.errorf(blk.DefRange.Ptr(), "Missing plugin checksum",
			"Every plugin binary is pinned by its SHA-256 checksum, and plugin %q %q has none. Compute it with `trellis plugin verify %s` (or `sha256sum %s`) and add it to the block: sha256 = \"<64 hex digits>\".",
			kind, name, p.Source, p.Source)
	}
	b.strList("args", &p.Args, checkArg)
	b.strMap("env", &p.Env, checkEnvName, checkArg)
	b.duration("start_timeout", &p.StartTimeout)
	b.str("fallback", &p.Fallback, checkPluginName)

	var restart, config *hcl.Block
	for _, nb := range content.Blocks {
		first := &restart
		if nb.Type == "config" {
			first = &config
		}
		if *first != nil {
			d.errorf(nb.DefRange.Ptr(), fmt.Sprintf("Duplicate %s block", nb.Type),
				"A plugin block may hold one %s block; the first was at %s.", nb.Type, at((*first).DefRange))
			continue
		}
		*first = nb
	}
	if restart != nil {
		d.cfg.ranges[prefix+".restart"] = restart.DefRange
		rc, diags := restart.Body.Content(restartSchema)
		d.add(diags...)
		rb := d.body(prefix+".restart", rc.Attributes)
		r := &p.Restart
		rb.integer("max_restarts", &r.MaxRestarts, 0, MaxRestartsLimit)
		rb.duration("window", &r.Window)
		rb.duration("initial_backoff", &r.InitialBackoff)
		rb.duration("max_backoff", &r.MaxBackoff)
		if r.InitialBackoff > r.MaxBackoff {
			rng := restart.DefRange
			if a, ok := rc.Attributes["initial_backoff"]; ok {
				rng = a.Expr.Range()
			} else if a, ok := rc.Attributes["max_backoff"]; ok {
				rng = a.Expr.Range()
			}
			d.errorf(&rng, "Invalid restart backoff",
				"initial_backoff (%s) is longer than max_backoff (%s).", r.InitialBackoff, r.MaxBackoff)
		}
	}
	if config != nil {
		p.Body = config.Body
		p.ConfigRange = config.DefRange
		d.cfg.ranges[prefix+".config"] = config.DefRange
	}
	return p
}

// findPlugin looks for trellis-<kind>-<name> in node.plugin_dir, then in
// LoadOptions.SearchPath. When it exists nowhere, the plugin_dir candidate is
// returned so that the runtime's "no such file" names the expected place.
func (d *decoder) findPlugin(kind, name string) (string, []string) {
	file := BinaryPrefix + kind + "-" + name
	candidates := []string{filepath.Join(d.cfg.Node.PluginDir, file)}
	for _, dir := range d.opts.SearchPath {
		if dir == "" {
			continue
		}
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		candidates = append(candidates, filepath.Join(dir, file))
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c, candidates
		}
	}
	return candidates[0], candidates
}

// checkFallbacks enforces, per kind: fallbacks name an existing plugin of the
// same kind other than the plugin itself, they form no cycle, and exactly one
// plugin is primary (named by no other's fallback).
func (d *decoder) checkFallbacks() {
	c := d.cfg
	fallbackRange := func(p *Plugin) *hcl.Range {
		if r, ok := c.ranges["plugin."+p.Kind+"."+p.Name+".fallback"]; ok {
			return &r
		}
		return p.DeclRange.Ptr()
	}
	// edges[kind][name] = fallback, only for valid references.
	edges := map[string]map[string]string{}
	for _, p := range c.Plugins {
		if edges[p.Kind] == nil {
			edges[p.Kind] = map[string]string{}
		}
		if p.Fallback == "" {
			continue
		}
		switch target := c.Plugin(p.Kind, p.Fallback); {
		case p.Fallback == p.Name:
			d.errorf(fallbackRange(p), "Plugin falls back to itself",
				"Plugin %q %q names itself as its fallback; name another %s plugin, or remove fallback.", p.Kind, p.Name, p.Kind)
		case target != nil:
			edges[p.Kind][p.Name] = p.Fallback
		default:
			var others []string
			var otherKind *Plugin
			for _, q := range c.Plugins {
				if q.Kind == p.Kind && q.Name != p.Name {
					others = append(others, q.Name)
				}
				if q.Kind != p.Kind && q.Name == p.Fallback && otherKind == nil {
					otherKind = q
				}
			}
			detail := fmt.Sprintf("Plugin %q %q falls back to %q, but there is no plugin %q %q.", p.Kind, p.Name, p.Fallback, p.Kind, p.Fallback)
			if otherKind != nil {
				detail += fmt.Sprintf(" The plugin %q %q at %s is of another kind: a plugin can only fall back to one of its own kind.", otherKind.Kind, otherKind.Name, at(otherKind.DeclRange))
			} else if s := suggest(p.Fallback, others); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			d.errorf(fallbackRange(p), "Unknown fallback plugin", "%s", detail)
		}
	}

	for _, kind := range Kinds() {
		g, present := edges[kind]
		if !present {
			continue
		}
		var plugins []*Plugin
		for _, p := range c.Plugins {
			if p.Kind == kind {
				plugins = append(plugins, p)
			}
		}
		// Cycles: each plugin has at most one outgoing edge, so walking from
		// each node either ends or re-enters a node seen on this walk.
		done := map[string]bool{}
		cycles := 0
		for _, p := range plugins {
			onPath := map[string]int{}
			var path []string
			for n := p.Name; n != "" && !done[n]; n = g[n] {
				if i, seen := onPath[n]; seen {
					loop := append(slices.Clone(path[i:]), n)
					first := c.Plugin(kind, loop[0])
					for _, m := range loop[:len(loop)-1] { // report at the member declared first
						if q := c.Plugin(kind, m); q.DeclRange.Start.Byte < first.DeclRange.Start.Byte {
							first = q
						}
					}
					d.errorf(fallbackRange(first), "Fallback cycle",
						"The %s plugins fall back in a circle: %s. The chain of fallbacks must end at a plugin without one.",
						kind, strings.Join(loop, " → "))
					cycles++
					break
				}
				onPath[n] = len(path)
				path = append(path, n)
			}
			for _, n := range path {
				done[n] = true
			}
		}

		referenced := map[string]bool{}
		for _, to := range g {
			referenced[to] = true
		}
		var primaries []*Plugin
		for _, p := range plugins {
			if !referenced[p.Name] {
				primaries = append(primaries, p)
			}
		}
		if len(primaries) > 1 {
			var names []string
			for _, p := range primaries {
				names = append(names, fmt.Sprintf("%q (%s)", p.Name, at(p.DeclRange)))
			}
			for _, p := range primaries[1:] {
				d.errorf(p.DeclRange.Ptr(), fmt.Sprintf("More than one primary %s plugin", kind),
					"Plugins %s are all primary: none is another's fallback. Exactly one %s plugin may be primary; chain the others behind it with fallback = \"<name>\", or remove them.",
					strings.Join(names, ", "), kind)
			}
		}
		if len(primaries) == 0 && cycles == 0 {
			d.errorf(plugins[0].DeclRange.Ptr(), fmt.Sprintf("No primary %s plugin", kind),
				"Every %s plugin is another's fallback, so none would start.", kind)
		}
	}
}
