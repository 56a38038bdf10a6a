package lc

import (
	"testing"

	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/leader"
)

func tip(id byte, height, slot uint64, out byte) meta {
	m := meta{Height: height, Slot: slot}
	m.Hash[0], m.Output[0] = id, out
	return m
}

// TestBetter is the fork-choice order: longer wins; at equal length a tip
// within the tie window wins on a lower VRF output; beyond the window the
// chain already held stays.
func TestBetter(t *testing.T) {
	cur := tip(1, 10, 100, 0x80)
	for _, tc := range []struct {
		name string
		c    meta
		want bool
	}{
		{"longer", tip(2, 11, 90, 0xff), true},
		{"shorter", tip(2, 9, 200, 0x00), false},
		{"same block", cur, false},
		{"tie, lower output, same slot", tip(2, 10, 100, 0x10), true},
		{"tie, lower output, 5 slots later", tip(2, 10, 105, 0x10), true},
		{"tie, lower output, 5 slots earlier", tip(2, 10, 95, 0x10), true},
		{"tie, higher output", tip(2, 10, 101, 0x90), false},
		{"tie, lower output, beyond the window", tip(2, 10, 106, 0x10), false},
	} {
		if got := better(tc.c, cur, 5); got != tc.want {
			t.Errorf("%s: better = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// chainOf builds a linear chain of n blocks on parent with id prefix p.
func chainOf(metas map[block.Hash]meta, parent meta, n int, p byte) meta {
	m := parent
	for i := range n {
		c := meta{Parent: m.Hash, Height: m.Height + 1, Slot: m.Slot + 1}
		c.Hash[0], c.Hash[1] = p, byte(i)
		metas[c.Hash] = c
		m = c
	}
	return m
}

// TestForkDepth is Praos' maxvalid: a switch may revert at most k blocks.
func TestForkDepth(t *testing.T) {
	metas := map[block.Hash]meta{}
	g := meta{}
	metas[g.Hash] = g
	common := chainOf(metas, g, 20, 'c')
	a := chainOf(metas, common, 5, 'a')
	b := chainOf(metas, common, 7, 'b')
	get := func(h block.Hash) (meta, bool) { m, ok := metas[h]; return m, ok }
	for _, tc := range []struct {
		k      uint64
		depth  uint64
		wantOK bool
	}{{5, 5, true}, {6, 5, true}, {4, 4, false}, {0, 0, false}} {
		d, ok := forkDepth(a, b, get, tc.k)
		if ok != tc.wantOK || (ok && d != tc.depth) {
			t.Errorf("k=%d: depth %d ok %v, want %d %v", tc.k, d, ok, tc.depth, tc.wantOK)
		}
	}
	// Extending the own chain reverts nothing.
	a2 := chainOf(metas, a, 3, 'd')
	if d, ok := forkDepth(a, a2, get, 0); !ok || d != 0 {
		t.Errorf("extension: depth %d ok %v", d, ok)
	}
	// An unknown ancestor stops the walk.
	lost := meta{Parent: block.Hash{0xee}, Height: 30, Hash: block.Hash{0xef}}
	if _, ok := forkDepth(a, lost, get, 100); ok {
		t.Error("a fork through an unknown block was accepted")
	}
}

// TestEpochBoundaries: stake and nonce rules read blocks settled long
// before they are used.
func TestEpochBoundaries(t *testing.T) {
	p := leader.Defaults
	if p.Epoch(p.EpochSlots-1) != 0 || p.Epoch(p.EpochSlots) != 1 {
		t.Fatal("epoch of a slot")
	}
	// The nonce cut-off leaves 4k/f slots before the epoch ends: with
	// f = 1/5 that is 20k slots, in which 4k blocks are expected.
	if got := (p.EpochSlots*1 + p.EpochSlots) - p.NonceCutoff(1); got != 4*uint64(p.K)*p.Active.Den/p.Active.Num {
		t.Fatalf("cut-off %d slots before the end", got)
	}
}
