package rpc

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"testing"
)

// TestDocExamples sends every curl example of docs/rpc.md to a server over
// the test fixture (the doc was written from it), with the network and the
// admin methods, and checks that the answer is the JSON the doc shows.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/rpc.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```sh\\n[^`]*?-d '([^']*)'\\n```\\s*```json\\n(.*?)\\n```")
	examples := re.FindAllSubmatch(doc, -1)
	if len(examples) < 13 {
		t.Fatalf("found %d curl examples in docs/rpc.md, want one per method and two errors", len(examples))
	}
	f := newFakeBackend()
	ts := startServer(t, f, Options{Admin: true}, withNet(&netFake{fakeBackend: f}))
	decode := func(b []byte) any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return v
	}
	for _, ex := range examples {
		_, got := post(t, ts.httpURL(), string(ex[1]))
		if !reflect.DeepEqual(decode(got), decode(ex[2])) {
			t.Errorf("docs/rpc.md example\n%s\nshows\n%s\nbut the server answers\n%s", ex[1], ex[2], got)
		}
	}
}
