package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedDefaults keeps docs/configuration.md's default column equal
// to the constants the decoder applies, so a default is defined once (here
// or in the package that owns it, as p2p's limits) and the doc follows.
func TestDocumentedDefaults(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	want := map[string]string{
		"node.name": q(DefaultNodeName), "node.data_dir": q(DefaultDataDir), "node.chain_id": q(DefaultChainID),
		"node.plugin_dir": q(DefaultPluginDir), "node.genesis": q(DefaultGenesis), "node.key_dir": q(DefaultKeyDir),
		"node.log_level": q(DefaultLogLevel), "node.log_format": q(DefaultLogFormat),
		"network.enabled": fmt.Sprint(DefaultNetworkEnabled), "network.dht": fmt.Sprint(DefaultDHT),
		"network.max_peers": fmt.Sprint(DefaultMaxPeers), "network.max_streams": fmt.Sprint(DefaultMaxStreams),
		"network.max_memory_mb": fmt.Sprint(DefaultMaxMemoryMB), "network.queue_size": fmt.Sprint(DefaultQueueSize),
		"storage.path": q(DefaultStoragePath),
		"rpc.enabled":  fmt.Sprint(DefaultRPCEnabled), "rpc.listen": q(DefaultRPCListen),
		"metrics.enabled": fmt.Sprint(DefaultMetricsEnabled), "metrics.listen": q(DefaultMetricsListen),
		"metrics.pprof": fmt.Sprint(DefaultMetricsPprof),
	}
	section := regexp.MustCompile("^## `([a-z_]+)`")
	got := map[string]string{}
	var block string
	for _, line := range strings.Split(string(doc), "\n") {
		if m := section.FindStringSubmatch(line); m != nil {
			block = m[1]
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		switch {
		case len(cells) == 4: // attribute | type | default | meaning
			got[block+"."+cells[0]] = cells[2]
		case len(cells) == 5: // block | attribute | type | default | meaning
			got[cells[0]+"."+cells[1]] = cells[3]
		}
	}
	for k, v := range want {
		d, ok := got[k]
		if !ok {
			continue // not every default has a table row (node's are in prose)
		}
		if d != v {
			t.Errorf("docs/configuration.md gives %s the default %s; the code applies %s", k, d, v)
		}
	}
	for _, k := range []string{"network.max_peers", "network.max_streams", "network.max_memory_mb", "network.queue_size", "rpc.listen", "storage.path", "metrics.pprof"} {
		if _, ok := got[k]; !ok {
			t.Errorf("docs/configuration.md has no row for %s: the check would prove nothing", k)
		}
	}
}
