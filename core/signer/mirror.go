package signer

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/trellis-chain/trellis/internal/securefile"
)

// StateFile is the copy of the slashing-protection records kept beside the
// keys, outside the database: a database restored from an old backup (or
// replaced) must not let the validator sign below what it already signed.
// CometBFT keeps priv_validator_state.json for the same reason.
const StateFile = "signer_state.json"

// maxStateFile bounds what is read of the state file: one record per chain
// and key, each a few hundred bytes.
const maxStateFile = 1 << 20

// mirror is the state file: the latest record of each (chain, key), by
// the database key that holds it.
type mirror struct {
	path    string
	records map[string][]byte // record key -> encoded record
}

type mirrorFile struct {
	Records map[string]string `json:"records"` // record key -> hex of the record
}

// openMirror reads path; a missing file is an empty mirror (a node signing
// for the first time, or one upgraded from a release without the file).
func openMirror(path string) (*mirror, error) {
	m := &mirror{path: path, records: map[string][]byte{}}
	b, err := readBounded(path, "signer state", maxStateFile, ErrCorrupt)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	var mf mirrorFile
	if err := json.Unmarshal(b, &mf); err != nil {
		return nil, fmt.Errorf("%w: signer state %s: %v", ErrCorrupt, path, err)
	}
	for k, v := range mf.Records {
		chainID, ok := chainOfKey([]byte(k))
		if !ok {
			return nil, fmt.Errorf("%w: signer state %s: unexpected key %q", ErrCorrupt, path, k)
		}
		rec, err := hex.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%w: signer state %s: record %q is not hex", ErrCorrupt, path, k)
		}
		if _, err := decodeRecord(rec, chainID); err != nil {
			return nil, fmt.Errorf("signer state %s: record %q: %w", path, k, err)
		}
		m.records[k] = rec
	}
	return m, nil
}

// put records rec under key and rewrites the file atomically (synced).
func (m *mirror) put(key string, rec []byte) error {
	old, had := m.records[key]
	m.records[key] = rec
	mf := mirrorFile{Records: make(map[string]string, len(m.records))}
	for k, v := range m.records {
		mf.Records[k] = hex.EncodeToString(v)
	}
	b, err := json.MarshalIndent(mf, "", "  ")
	if err == nil {
		err = securefile.WriteAtomic(m.path, append(b, '\n'))
	}
	if err != nil {
		if had {
			m.records[key] = old
		} else {
			delete(m.records, key)
		}
		return fmt.Errorf("signer state %s: %w", m.path, err)
	}
	return nil
}
