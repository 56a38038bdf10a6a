package node_test

import (
	"fmt"
	"net/http"
	"testing"
)

// The metrics listener serves Go's profiles only when metrics.pprof asks
// for them; /metrics and /health are always there.
func TestPprofIsOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("pprof=", on), func(t *testing.T) {
			dir := t.TempDir()
			src := fmt.Sprintf("node { data_dir = %q }\nrpc { enabled = false }\nnetwork { enabled = false }\nmetrics {\n  listen = \"127.0.0.1:0\"\n  pprof = %v\n}\n", dir, on)
			n, _, err := startFromHCL(t, dir, src)
			if err != nil {
				t.Fatal(err)
			}
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
