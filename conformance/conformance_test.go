package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-chain/trellis/conformance"
	"github.com/trellis-chain/trellis/core/plugin"
	"github.com/trellis-chain/trellis/internal/testbin"
)

const probePkg = "internal/testplugins/probe"

// timeout bounds each check in these tests. It is a bound on a plugin that
// hangs, not a speed requirement: correct plugins answer in milliseconds.
const timeout = 3 * time.Second

// commonChecks run against every plugin that starts and configures.
var commonChecks = []string{
	"common/handshake", "common/info", "common/config-schema", "common/kind-call-before-configure",
	"common/configure", "common/configure-twice-refused", "common/health", "common/cancelled-call",
	"common/close-exits", "common/configure-rejects-non-object", "common/configure-rejects-wrong-type",
}

var kindChecks = map[string][]string{
	"fee": {"fee/base-fee-deterministic", "fee/price-block-empty", "fee/price-block-one-result-per-tx", "fee/price-block-full",
		"fee/price-block-base-fee", "fee/price-block-split-sums", "fee/price-block-totals", "fee/price-block-fee-is-gas-times-price",
		"fee/price-block-price-bounds", "fee/price-block-tip", "fee/price-block-rejects-fee-cap-below-base-fee",
		"fee/price-block-deterministic", "fee/next-base-fee-follows-demand", "fee/next-base-fee-matches-base-fee", "fee/quote"},
	"consensus": {"consensus/status", "consensus/verify-block-without-consensus-data", "consensus/fork-choice"},
	"prover":    {"prover/capabilities", "prover/prove-unknown-statement", "prover/prove-batch", "prover/prove-batch-wrong-public-inputs", "prover/prove-cancel"},
	"da":        {"da/encode", "da/encode-deterministic", "da/verify-garbage-share"},
}

// probeGaps are contract checks the test probe fails because its stubs are
// too lax: it proves any statement and its DA Verify accepts any share.
// Remove an entry once internal/testplugins/probe keeps that part of the
// contract; a gap that starts passing is reported, so the list cannot rot.
var probeGaps = map[string]string{}

// optionalChecks may be skipped against the probe: it quotes no fees and
// declares no statement the kit can make real jobs of (batch/v1).
var optionalChecks = map[string]bool{"fee/quote": true, "prover/prove-batch": true, "prover/prove-batch-wrong-public-inputs": true}

func names(r *conformance.Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name)
	}
	return out
}

func writeReport(t *testing.T, r *conformance.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestProbeEveryKind: the kit passes against a plugin of every kind that
// keeps the contract, with every check of the kind run.
func TestProbeEveryKind(t *testing.T) {
	probe := testbin.Build(t, probePkg)
	sum, err := plugin.FileSHA256(probe)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"fee", "consensus", "prover", "da"} {
		t.Run(kind, func(t *testing.T) {
			// No Name: the kit takes it from Info.
			r := conformance.Run(t.Context(), conformance.Options{Kind: kind, Path: probe, Args: []string{"-kind", kind, "-name", "probe-" + kind}, Timeout: timeout})
			out := writeReport(t, r)
			t.Log("\n" + out)
			if r.Name != "probe-"+kind || r.SHA256 != sum || r.Kind != kind {
				t.Errorf("report names %s plugin %q pinned %s; want %s, %q, %s", r.Kind, r.Name, r.SHA256, kind, "probe-"+kind, sum)
			}
			got := names(r)
			for _, want := range append(slices.Clone(commonChecks), kindChecks[kind]...) {
				if !slices.Contains(got, want) {
					t.Errorf("check %s did not run", want)
				}
			}
			for _, c := range r.Checks {
				gap, known := probeGaps[c.Name]
				switch {
				case c.Failed() && known:
					t.Logf("known probe gap (%s): %s", gap, c.Detail)
				case c.Failed():
					t.Errorf("%s failed: %s", c.Name, c.Detail)
				case c.Passed && known:
					t.Errorf("%s passes now: remove it from probeGaps", c.Name)
				case c.Skipped && !optionalChecks[c.Name]:
					t.Errorf("%s skipped: %s", c.Name, c.Detail)
				}
			}
			passed, failed, _ := r.Counts()
			if !strings.HasSuffix(out, fmt.Sprintf("\n%d passed, %d failed\n", passed, failed)) {
				t.Errorf("no summary line in:\n%s", out)
			}
		})
	}
}

// TestBrokenPlugins: against each way a plugin can break, the kit reports
// the failure under the right check name, and returns (bounded by the
// timeout) rather than crashing or hanging.
func TestBrokenPlugins(t *testing.T) {
	probe := testbin.Build(t, probePkg)
	dir := t.TempDir()
	script := filepath.Join(dir, "trellis-fee-script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'hello, I am not a plugin'\nsleep 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "trellis-fee-noexec")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts conformance.Options
		// failing check -> substring of its detail
		fails map[string]string
		// passing checks, to show the kit went on after the failure
		passes []string
	}{
		{"broken contract", conformance.Options{Kind: "fee", Path: probe, Args: []string{"-mode", "broken"}},
			map[string]string{"fee/price-block-split-sums": "does not sum to fee", "common/health": "STATUS_NOT_SERVING"},
			[]string{"fee/price-block-fee-is-gas-times-price", "common/close-exits"}},
		{"hang in configure", conformance.Options{Kind: "fee", Path: probe, Args: []string{"-mode", "hang-configure"}},
			map[string]string{"common/configure": "did not answer in time", "common/configure-rejects-non-object": "did not answer in time"},
			[]string{"common/handshake", "common/kind-call-before-configure", "common/close-exits"}},
		{"crash in configure", conformance.Options{Kind: "fee", Path: probe, Args: []string{"-mode", "crash-configure"}},
			map[string]string{"common/configure": "exited", "common/configure-rejects-wrong-type": "exited"},
			[]string{"common/info", "common/close-exits"}},
		{"hang in health", conformance.Options{Kind: "consensus", Path: probe, Args: []string{"-kind", "consensus", "-mode", "hang-health"}},
			map[string]string{"common/health": "did not answer in time"}, []string{"consensus/fork-choice", "common/close-exits"}},
		{"hang before the handshake", conformance.Options{Kind: "fee", Path: probe, Args: []string{"-mode", "hang-handshake"}, Name: "probe"},
			map[string]string{"common/handshake": "did not start in time"}, nil},
		{"other protocol version", conformance.Options{Kind: "fee", Path: probe, Args: []string{"-mode", "protocol-2"}},
			map[string]string{"common/handshake": "another protocol version"}, nil},
		{"not a plugin: true", conformance.Options{Kind: "fee", Path: trueBin},
			map[string]string{"common/handshake": "exited before the handshake"}, nil},
		{"not a plugin: script printing to stdout", conformance.Options{Kind: "fee", Path: script},
			map[string]string{"common/handshake": "stdout"}, nil},
		{"not executable", conformance.Options{Kind: "fee", Path: notExec},
			map[string]string{"common/handshake": "not executable"}, nil},
		{"missing binary", conformance.Options{Kind: "fee", Path: filepath.Join(dir, "nope")},
			map[string]string{"common/handshake": "not found"}, nil},
		{"other kind", conformance.Options{Kind: "da", Path: probe, Args: []string{"-kind", "fee"}, Name: "probe"},
			map[string]string{"common/info": "the binary says it is fee.probe"}, []string{"common/handshake"}},
		{"unknown kind", conformance.Options{Kind: "oracle", Path: probe},
			map[string]string{"common/options": "unknown plugin kind"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Timeout = timeout
			r := conformance.Run(context.Background(), tc.opts)
			out := writeReport(t, r)
			t.Log("\n" + out)
			if r.Passed() {
				t.Fatal("report passed")
			}
			for name, want := range tc.fails {
				c, ok := r.Check(name)
				if !ok || !c.Failed() || !strings.Contains(c.Detail, want) {
					t.Errorf("want %s to fail with %q; got %+v", name, want, c)
				}
				if !strings.Contains(out, "FAIL  "+name) {
					t.Errorf("output lacks a FAIL line for %s", name)
				}
			}
			for _, name := range tc.passes {
				if c, ok := r.Check(name); !ok || !c.Passed {
					t.Errorf("want %s to pass; got %+v", name, c)
				}
			}
		})
	}
}

// TestTemporaryStateRemoved: the kit's bbolt file lives in a temporary
// directory that is gone when Run returns.
func TestTemporaryStateRemoved(t *testing.T) {
	probe := testbin.Build(t, probePkg)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	r := conformance.Run(t.Context(), conformance.Options{Kind: "fee", Path: probe, Timeout: timeout})
	if !r.Passed() {
		t.Fatalf("report failed:\n%s", writeReport(t, r))
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "trellis-conformance-") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

// TestFlatFeeExample checks the example plugin of docs/plugin-authors.md with
// the helper the guide tells authors to use.
func TestFlatFeeExample(t *testing.T) {
	bin := testbin.Build(t, "conformance/testdata/flatfee", "trellis-fee-flat")
	r := conformance.Test(t, conformance.Options{Kind: "fee", Path: bin, Timeout: timeout})
	if c, _ := r.Check("fee/quote"); !c.Passed || r.Name != "flat" {
		t.Errorf("fee/quote %+v, name %q", c, r.Name)
	}
	// A config the plugin refuses is reported at common/configure.
	bad := conformance.Run(t.Context(), conformance.Options{Kind: "fee", Path: bin, Config: []byte(`{"price": 0}`), Timeout: timeout})
	if c, _ := bad.Check("common/configure"); !c.Failed() || !strings.Contains(c.Detail, "price: must be at least 1") {
		t.Errorf("common/configure with price 0: %+v", c)
	}
}

// TestEIP1559 checks the node's own fee plugin.
func TestEIP1559(t *testing.T) {
	conformance.Test(t, conformance.Options{Kind: "fee", Path: testbin.Build(t, "plugins/fee-eip1559/cmd/trellis-fee-eip1559"), Timeout: timeout})
}
