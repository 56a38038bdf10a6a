package trial

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trellis-chain/trellis/testnet"
)

// browser finds a Chromium; CI installs one (.ci/run), so there a missing
// browser fails the test instead of skipping it.
func browser(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH: .ci/run installs the chromium package")
	}
	t.Skip("no Chromium on PATH (apt-get install chromium)")
	return ""
}

// sampleResults are four cells with figures, as a trial writes them.
func sampleResults() []Result {
	var rs []Result
	for _, c := range []struct {
		cons string
		n    int
		p50  time.Duration
	}{{"bft", 4, time.Second}, {"lc", 4, 15 * time.Second}, {"bft", 16, 20 * time.Second}, {"lc", 16, 22 * time.Second}} {
		rep := &testnet.LoadReport{Accepted: 100, Finalized: 100, FinalizedPerSec: 50, Chain: &testnet.ChainStats{Blocks: 10, Proposers: c.n / 2}}
		rep.Latency.P50, rep.Latency.P99 = c.p50, 2*c.p50
		rs = append(rs, Result{Cell: Cell{Consensus: c.cons, Validators: c.n, Scenario: NoFaults, Run: 1}, Report: rep,
			Safety: &testnet.Safety{Nodes: c.n, Heights: 10}})
	}
	rs = append(rs, Result{Cell: Cell{Consensus: "lc", Validators: 8, Scenario: NoFaults, Run: 1}, Error: "node0 did not come up"})
	return rs
}

// TestReportRendersInChromium opens report.html in headless Chromium and
// checks that each plot is drawn: an SVG of real size with its title,
// axes, a legend entry per line and the data marks.
func TestReportRendersInChromium(t *testing.T) {
	exe := browser(t)
	s, diags := Parse([]byte(good), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	page, err := htmlOf(s, sampleResults())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	type drawn struct {
		W, H  float64
		Marks int
		Text  string
	}
	js := `(() => { const out = {};
	  for (const f of document.querySelectorAll("figure")) {
	    const svg = f.querySelector("svg"); const r = svg.getBoundingClientRect();
	    const marks = [...svg.querySelectorAll("path")].filter(p => { const b = p.getBBox(); return b.width > 0 || b.height > 0; }).length;
	    out[f.id] = {W: r.width, H: r.height, Marks: marks, Text: svg.textContent};
	  }
	  return out; })()`
	if _, err := chromedp.Run(ctx, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]drawn](js))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if len(got) != len(plotIDs) {
		t.Fatalf("%d plots drawn, want %d: %v", len(got), len(plotIDs), got)
	}
	for _, id := range plotIDs {
		d, ok := got[id]
		if !ok || d.W < 300 || d.H < 150 || d.Marks < 10 {
			t.Errorf("%s: %+v, want an SVG of real size with data marks", id, d)
			continue
		}
		for _, want := range []string{"bft", "lc"} {
			if !strings.Contains(d.Text, want) {
				t.Errorf("%s: no %q in the legend (text %q)", id, want, d.Text)
			}
		}
	}
	if !strings.Contains(got[plotIDs[0]].Text, "validators") {
		t.Errorf("finality plot has no validators axis: %q", got[plotIDs[0]].Text)
	}
}
