package lc

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/leader"
)

// securityTable is the table of docs/consensus-lc.md, computed.
func securityTable() string {
	var b strings.Builder
	b.WriteString("| adversary stake β | k = 12 | k = 30 | k = 60 (default) | k = 120 |\n|---|---|---|---|---|\n")
	for _, beta := range []float64{0.10, 0.20, 0.25, 0.33} {
		fmt.Fprintf(&b, "| %.2f |", beta)
		for _, k := range []uint32{12, 30, 60, 120} {
			p := leader.Defaults
			p.K = k
			fmt.Fprintf(&b, " %.1e |", SettlementFailure(p, beta, 1))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestSecurityTableInDocs keeps the documented figures the code's.
func TestSecurityTableInDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/consensus-lc.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := securityTable(); !strings.Contains(string(doc), want) {
		t.Fatalf("docs/consensus-lc.md lacks the computed table:\n%s", want)
	}
}

// TestNakamotoFigures: the race formula gives the Bitcoin paper's table.
func TestNakamotoFigures(t *testing.T) {
	for _, c := range []struct {
		q    float64
		z    int
		want float64
	}{{0.1, 5, 0.0009137}, {0.1, 10, 0.0000012}, {0.3, 10, 0.0416605}, {0.3, 50, 0.0000006}} {
		if got := nakamoto(c.q/(1-c.q), c.z); math.Abs(got-c.want) > 5e-8 {
			t.Errorf("q=%.1f z=%d: %.7f, the paper gives %.7f", c.q, c.z, got, c.want)
		}
	}
}

// TestSettlementFailure: the estimate falls with k, rises with β, and is
// certain failure at or above the honest rate.
func TestSettlementFailure(t *testing.T) {
	p := leader.Defaults
	a, b := SettlementFailure(p, 0.2, 1), SettlementFailure(p, 0.3, 1)
	p.K *= 2
	c := SettlementFailure(p, 0.2, 1)
	if !(c < a && a < b) || SettlementFailure(p, 0.5, 1) != 1 {
		t.Fatalf("k=60 β=.2 %g, β=.3 %g; k=120 β=.2 %g", a, b, c)
	}
	if s := ExpectedBlockSeconds(leader.Defaults); s != 1 {
		t.Fatalf("default block time %g s, want 1", s)
	}
}
