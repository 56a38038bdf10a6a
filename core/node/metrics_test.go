package node_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/trellis-chain/trellis/config"
	"github.com/trellis-chain/trellis/core/node"
)

// The metrics listener serves Go's profiles only when metrics.pprof asks
// for them; /metrics and /health are always there.
func TestPprofIsOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("pprof=", on), func(t *testing.T) {
			dir := t.TempDir()
			src := fmt.Sprintf("node { data_dir = %q }\nrpc { enabled = false }\nnetwork { enabled = false }\nmetrics {\n  listen = \"127.0.0.1:0\"\n  pprof = %v\n}\n", dir, on)
			path := filepath.Join(dir, "node.hcl")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, diags := config.LoadFile(path, config.LoadOptions{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			n, err := node.Start(context.Background(), cfg, node.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Stop(context.Background())
			for p, want := range map[string]int{"/metrics": 200, "/debug/pprof/": map[bool]int{false: 404, true: 200}[on]} {
				res, err := http.Get("http://" + n.MetricsAddr().String() + p)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != want {
					t.Errorf("GET %s: %d, want %d", p, res.StatusCode, want)
				}
			}
		})
	}
}
