package main

import (
	"io"
	"reflect"
	"testing"
)

func TestParseMixed(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		pos, extra []string
		force      bool
		dir        string
	}{
		{[]string{"d"}, []string{"d"}, nil, false, ""},
		{[]string{"-force", "d"}, []string{"d"}, nil, true, ""},
		{[]string{"d", "-force", "-dir", "x"}, []string{"d"}, nil, true, "x"},
		{[]string{"a", "b", "-force"}, []string{"a", "b"}, nil, true, ""},
		{[]string{"a", "--", "-force", "z"}, []string{"a"}, []string{"-force", "z"}, false, ""},
		{[]string{"-dir", "x", "--", "-force"}, nil, []string{"-force"}, false, "x"},
		{[]string{"--"}, nil, []string{}, false, ""},
	} {
		fs := newFlags("t", "t", io.Discard)
		force := fs.Bool("force", false, "")
		dir := fs.String("dir", "", "")
		pos, extra, code, ok := parseMixed(fs, tc.args)
		if !ok || code != 0 {
			t.Fatalf("%v: not ok (%d)", tc.args, code)
		}
		if !reflect.DeepEqual(pos, tc.pos) || len(extra) != len(tc.extra) || (len(extra) > 0 && !reflect.DeepEqual(extra, tc.extra)) ||
			*force != tc.force || *dir != tc.dir {
			t.Errorf("%v: pos %q extra %q force %v dir %q", tc.args, pos, extra, *force, *dir)
		}
	}
	fs := newFlags("t", "t", io.Discard)
	if _, _, code, ok := parseMixed(fs, []string{"d", "-nope"}); ok || code != 2 {
		t.Errorf("unknown flag after a positional: ok %v code %d", ok, code)
	}
}
