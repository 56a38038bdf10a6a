package schema

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/trellis-chain/trellis/sdk/proto/trellis/plugin/v1"
)

func TestProtoRoundTrip(t *testing.T) {
	s := New(
		String("name").DefaultTo(cty.StringVal("x")).Describe("d"),
		Number("n").Require(),
		StringList("peers").Secret(),
		List("retry", Number("max").DefaultTo(cty.NumberIntVal(3))).Limit(0, 4),
		Map("region", Bool("on")),
	)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := ToProto(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back pluginv1.Schema
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := FromProto(&back)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(got.Attributes) != 3 || len(got.Blocks) != 2 || !got.Attributes[0].Default.RawEquals(cty.StringVal("x")) ||
		!got.Attributes[1].Required || !got.Attributes[2].Sensitive || got.Blocks[0].MaxItems != 4 || got.Blocks[1].Nesting != NestingMap ||
		!got.Blocks[0].Body.Attributes[0].Default.RawEquals(cty.NumberIntVal(3)) {
		t.Fatalf("round trip changed the schema: %+v", got)
	}
}

func TestFromProtoBounds(t *testing.T) {
	deep := &pluginv1.Schema{}
	cur := deep
	for i := 0; i <= MaxBlockDepth+1; i++ {
		nb := &pluginv1.Block{TypeName: "b", Nesting: pluginv1.Block_NESTING_SINGLE, Body: &pluginv1.Schema{}}
		cur.Blocks = []*pluginv1.Block{nb}
		cur = nb.Body
	}
	if _, err := FromProto(deep); err == nil {
		t.Fatal("schema nested too deep accepted")
	}
	wide := &pluginv1.Schema{}
	for i := 0; i <= MaxMembers; i++ {
		wide.Attributes = append(wide.Attributes, &pluginv1.Attribute{Name: "a", Type: []byte(`"string"`)})
	}
	if _, err := FromProto(wide); err == nil {
		t.Fatal("schema with too many members accepted")
	}
	if _, err := FromProto(&pluginv1.Schema{Attributes: []*pluginv1.Attribute{{Name: "a", Type: []byte(`"nope"`)}}}); err == nil {
		t.Fatal("bad type accepted")
	}
}

// FuzzFromProto feeds arbitrary bytes, as a plugin process could send them,
// through the protobuf decoder, FromProto, Validate and Spec: no panic.
func FuzzFromProto(f *testing.F) {
	p, _ := ToProto(New(String("a").DefaultTo(cty.StringVal("x")), List("l", Number("n"))))
	seed, _ := proto.Marshal(p)
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 0x61})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pluginv1.Schema
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		s, err := FromProto(&m)
		if err != nil {
			return
		}
		if s.Validate() == nil {
			_ = s.Spec()
		}
	})
}
