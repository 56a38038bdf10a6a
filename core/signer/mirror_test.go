package signer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/vote"
)

func keyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteBLSKey(filepath.Join(dir, BLSKeyFile), blsKey(t, 8)); err != nil {
		t.Fatal(err)
	}
	if err := WriteNodeKey(filepath.Join(dir, NodeKeyFile), nodeKey(8)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func freshDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A database that moves backwards (here: replaced by an empty one, as a
// restored old backup would be) cannot make the validator sign below what
// it signed: the state file beside the keys still holds the record.
func TestProtectionSurvivesOlderDatabase(t *testing.T) {
	dir := keyDir(t)
	s, err := Open(freshDB(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := s.SignConsensus(msg(108, 0, vote.StepPrecommit, 1))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(freshDB(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	var re *RegressionError
	if _, _, err := s2.SignConsensus(msg(12, 0, vote.StepPrevote, 1)); !errors.As(err, &re) {
		t.Fatalf("signing height 12 after 108 on an empty database: %v, want a RegressionError", err)
	}
	if _, _, err := s2.SignConsensus(msg(108, 0, vote.StepPrecommit, 2)); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("a conflicting precommit at 108: %v, want a ConflictError", err)
	}
	if again, _, err := s2.SignConsensus(msg(108, 0, vote.StepPrecommit, 1)); err != nil || again != signed {
		t.Fatalf("the same precommit again: %v", err)
	}
	if _, _, err := s2.SignConsensus(msg(109, 0, vote.StepPrevote, 1)); err != nil {
		t.Fatalf("the next height: %v", err)
	}
	if last, ok, err := s2.Last(chain); err != nil || !ok || last.Height != 109 {
		t.Fatalf("Last = %v %v %v", last, ok, err)
	}
}

// A damaged state file stops the signer at open, naming the file; it is
// never reset silently.
func TestDamagedStateFile(t *testing.T) {
	for name, content := range map[string]string{
		"not json":   "{",
		"bad key":    `{"records":{"nope":"00"}}`,
		"not hex":    `{"records":{"consensus/` + chain + `/` + strings.Repeat("ab", 48) + `":"zz"}}`,
		"bad record": `{"records":{"consensus/` + chain + `/` + strings.Repeat("ab", 48) + `":"0102"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := keyDir(t)
			if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(freshDB(t), dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), StateFile) {
				t.Fatalf("Open = %v, want ErrCorrupt naming %s", err, StateFile)
			}
		})
	}
}

// BenchmarkSignConsensus: one protected signature, the record committed to
// a synced bbolt file, with and without the state file beside the keys.
//
//	go test -run '^$' -bench SignConsensus -count 3 ./core/signer/
func BenchmarkSignConsensus(b *testing.B) {
	for _, withState := range []bool{false, true} {
		name := "db"
		if withState {
			name = "db+state-file"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			if err := WriteBLSKey(filepath.Join(dir, BLSKeyFile), blsKey(b, 8)); err != nil {
				b.Fatal(err)
			}
			if err := WriteNodeKey(filepath.Join(dir, NodeKeyFile), nodeKey(8)); err != nil {
				b.Fatal(err)
			}
			db, err := store.Open(filepath.Join(b.TempDir(), "node.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			s, err := Open(db, dir)
			if err != nil {
				b.Fatal(err)
			}
			if !withState {
				s.mirror = nil
			}
			h := uint64(1)
			for b.Loop() {
				if _, _, err := s.SignConsensus(msg(h, 0, vote.StepPrevote, 1)); err != nil {
					b.Fatal(err)
				}
				h++
			}
		})
	}
}
