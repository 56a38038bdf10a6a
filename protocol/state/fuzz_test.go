package state

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
)

// seedChangesets are valid changesets of every shape: empty, creations,
// updates, a reverted creation (nil New), an empty record, queue entries.
func addr(i int) account.Address { return account.SystemAddress(fmt.Sprintf("test/%d", i)) }

func seedChangesets() []*Changeset {
	rec := (&account.Account{Address: addr(1), Balance: 7, Nonce: 1}).Encode()
	rec2 := (&account.Account{Address: addr(1), Balance: 5, Nonce: 2}).Encode()
	g := account.Globals{Supply: 1000, Burned: 3, Accounts: 5}
	g2 := g
	g2.Burned, g2.Supply = 4, 999
	g10 := g // a reverted creation: the count falls back from 10
	g10.Accounts = 10
	return []*Changeset{
		{},
		{OldGlobals: g, NewGlobals: g2, Changes: []Change{{Index: 3, Old: rec, New: rec2}}},
		{OldGlobals: g10, NewGlobals: g2, Changes: []Change{{Index: 4, New: rec}, {Index: 9, Old: rec}}},
		{OldGlobals: account.Globals{Accounts: 2}, NewGlobals: account.Globals{Accounts: 2}, Changes: []Change{{Index: 1, Old: []byte{}, New: []byte{}}}},
		{OldGlobals: g, NewGlobals: g, QueueAdd: []QueueKey{{5, 3}, {9, 1}}, QueueDel: []QueueKey{{2, 7}}},
	}
}

func FuzzDecodeChangeset(f *testing.F) {
	for _, c := range seedChangesets() {
		b := c.Encode()
		f.Add(b)
		f.Add(b[:len(b)-1])                // truncated by one byte
		f.Add(b[:len(b)/2])                // truncated in the middle
		f.Add(append(b, 0))                // a trailing byte
		f.Add(append([]byte{2}, b[1:]...)) // another version
	}
	f.Add([]byte{})
	f.Add([]byte{changesetVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeChangeset(b)
		if err != nil {
			if !errors.Is(err, ErrChangeset) {
				t.Fatalf("error %v does not wrap ErrChangeset", err)
			}
			return
		}
		if got := c.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("decoded changeset re-encodes to other bytes\n in  %x\n out %x", b, got)
		}
		if got := c.Reverse().Reverse().Encode(); !bytes.Equal(got, b) {
			t.Fatal("Reverse twice changes the changeset")
		}
		_, _ = c.LeafUpdates() // records are untrusted too: must not panic
	})
}

func TestDecodeChangesetRejects(t *testing.T) {
	valid := seedChangesets()[1].Encode()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version 0", append([]byte{0}, valid[1:]...)},
		{"truncated header", valid[:10]},
		{"truncated record", valid[:len(valid)-20]},
		{"trailing byte", append(bytes.Clone(valid), 1)},
		{"bad globals version", func() []byte { b := bytes.Clone(valid); b[1] = 9; return b }()},
		{"change count beyond the data", func() []byte {
			b := bytes.Clone(valid)
			b[1+2*account.GlobalsSize] = 0xff
			return b
		}()},
	} {
		if _, err := DecodeChangeset(tc.b); !errors.Is(err, ErrChangeset) {
			t.Errorf("%s: DecodeChangeset = %v, want ErrChangeset", tc.name, err)
		}
	}
	for i, c := range seedChangesets() {
		got, err := DecodeChangeset(c.Encode())
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if !bytes.Equal(got.Encode(), c.Encode()) {
			t.Fatalf("seed %d does not round-trip", i)
		}
		for j, ch := range got.Changes {
			if (ch.Old == nil) != (c.Changes[j].Old == nil) || (ch.New == nil) != (c.Changes[j].New == nil) {
				t.Fatalf("seed %d change %d: absent and empty records are confused", i, j)
			}
		}
	}
}
