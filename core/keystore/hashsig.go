package keystore

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/hashsig"
)

// A hash-based key NAME keeps, beside NAME.json:
//
//	NAME.state  its one-time index state: JSON {"address", "next"}, replaced
//	            atomically (temporary file, fsync, rename, directory fsync)
//	NAME.tree   its tree cache (hashsig.PrivateKey.Cache: public digests)
//	NAME.lock   the file that processes signing with the key lock in turn
//
// The rules (docs/signatures.md): an index is recorded as used before the
// key signs with it; a key whose state is missing or names another key does
// not sign; the state only moves forward.
const (
	stateExt = ".state"
	treeExt  = ".tree"
	lockExt  = ".lock"
)

// hashState is the state file.
type hashState struct {
	Address account.Address `json:"address"`
	Next    uint64          `json:"next"`
}

// HashSigState is where a hash-based key stands: the next one-time index
// it will sign with, of Lifetime.
type HashSigState struct {
	Next, Lifetime uint64
}

// afterReserve, when set by a test, runs after the index is recorded and
// before the key signs: a crash there must cost an index, never reuse one.
var afterReserve func() error

// signMu orders the goroutines of one process; the file lock orders
// processes.
var signMu sync.Mutex

// NewHashSig generates a hash-based key of 2^logLifetime one-time keys
// (hashsig.DefaultLogLifetime: 65,536 signatures) and stores it under name,
// sealed with passphrase, with its state (next index 0) and tree cache. The
// state and cache are written first and the key file last, so a key never
// appears without its state. Deriving the key takes seconds at the default
// lifetime.
func (ks *Keystore) NewHashSig(name, passphrase string, logLifetime int) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	p := ks.path(name)
	if _, err := os.Lstat(p); err == nil {
		return Info{}, fmt.Errorf("%w: %q in %s", ErrExists, name, ks.dir)
	}
	var seed [hashsig.SeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return Info{}, fmt.Errorf("keystore: generate key: %w", err)
	}
	defer clear(seed[:])
	k, err := hashsig.NewKey(seed, logLifetime, 0)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %v", ErrKey, err)
	}
	pub := k.Public()
	f := &keyFile{Version: FormatHashSig, Name: name, Address: pub.Address(), PublicKey: pub.Bytes()}
	s, err := sealRaw(seed[:], passphrase, associatedData(name, f.Address, f.PublicKey), ks.params)
	if err != nil {
		return Info{}, err
	}
	f.Sealed = *s
	data, err := f.encode()
	if err != nil {
		return Info{}, err
	}
	// Under the key's lock, so that two processes creating one name cannot
	// write each other's state: the loser finds the winner's key file.
	unlock, err := lockPath(ks.side(name, lockExt))
	if err != nil {
		return Info{}, fmt.Errorf("keystore: lock %s: %w", name, err)
	}
	defer unlock()
	if _, err := os.Lstat(p); err == nil {
		return Info{}, fmt.Errorf("%w: %q in %s", ErrExists, name, ks.dir)
	}
	if err := ks.writeState(name, hashState{Address: f.Address}); err != nil {
		return Info{}, err
	}
	var tree []byte
	for _, d := range k.Cache() {
		b := d.Bytes()
		tree = append(tree, b[:]...)
	}
	if err := writeReplace(ks.dir, ks.side(name, treeExt), tree); err != nil {
		return Info{}, fmt.Errorf("keystore: write tree cache of %s: %w", name, err)
	}
	if err := writeNew(ks.dir, p, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Info{}, fmt.Errorf("%w: %q in %s", ErrExists, name, ks.dir)
		}
		return Info{}, fmt.Errorf("keystore: write %s: %w", p, err)
	}
	return f.info(p), nil
}

func (ks *Keystore) side(name, ext string) string { return filepath.Join(ks.dir, name+ext) }

// hashKey loads the hash-based key file name and its public key.
func (ks *Keystore) hashKey(name string) (*keyFile, string, hashsig.PublicKey, error) {
	f, p, err := ks.load(name)
	if err != nil {
		return nil, "", hashsig.PublicKey{}, err
	}
	if f.Version != FormatHashSig {
		return nil, "", hashsig.PublicKey{}, fmt.Errorf("%w: %s is an ed25519 key, not a hash-based one", ErrScheme, name)
	}
	pub, err := hashsig.ParsePublicKey(f.PublicKey)
	if err != nil { // decodeFile checked it
		return nil, "", hashsig.PublicKey{}, &CorruptError{Path: p, What: err.Error()}
	}
	return f, p, pub, nil
}

// HashSigState returns where the hash-based key name stands.
func (ks *Keystore) HashSigState(name string) (HashSigState, error) {
	f, _, pub, err := ks.hashKey(name)
	if err != nil {
		return HashSigState{}, err
	}
	st, err := ks.readState(name, f.Address)
	if err != nil {
		return HashSigState{}, err
	}
	return HashSigState{Next: st.Next, Lifetime: 1 << pub.LogLifetime}, nil
}

// SignHashSig signs msg with the hash-based key name at its next unused
// one-time index and returns the signature with the key. The index is
// recorded as used, durably, before the key signs: a crash may skip an
// index, never reuse one. Processes signing with one key take turns on a
// file lock. The signature is verified before it is returned.
func (ks *Keystore) SignHashSig(name, passphrase string, msg hash.Digest) (*hashsig.Signature, hashsig.PublicKey, error) {
	f, _, pub, err := ks.hashKey(name)
	if err != nil {
		return nil, pub, err
	}
	seedBytes, err := f.Sealed.Open(passphrase, associatedData(f.Name, f.Address, f.PublicKey))
	if err != nil {
		if errors.Is(err, ErrWrongPassphrase) {
			return nil, pub, fmt.Errorf("%w for key %s", ErrWrongPassphrase, name)
		}
		return nil, pub, err
	}
	defer clear(seedBytes)
	if len(seedBytes) != hashsig.SeedSize {
		return nil, pub, &CorruptError{Path: ks.path(name), What: fmt.Sprintf("sealed seed of %d bytes", len(seedBytes))}
	}
	k, err := ks.loadTree(name, [hashsig.SeedSize]byte(seedBytes), pub)
	if err != nil {
		return nil, pub, err
	}

	signMu.Lock()
	defer signMu.Unlock()
	unlock, err := lockPath(ks.side(name, lockExt))
	if err != nil {
		return nil, pub, fmt.Errorf("keystore: lock %s: %w", name, err)
	}
	defer unlock()
	st, err := ks.readState(name, f.Address)
	if err != nil {
		return nil, pub, err
	}
	if st.Next >= k.Lifetime() {
		return nil, pub, fmt.Errorf("%w: %s has signed with all %d of its one-time keys", ErrExhausted, name, k.Lifetime())
	}
	idx := st.Next
	if err := ks.writeState(name, hashState{Address: f.Address, Next: idx + 1}); err != nil {
		return nil, pub, err
	}
	if afterReserve != nil {
		if err := afterReserve(); err != nil {
			return nil, pub, err
		}
	}
	sig, err := k.SignAt(uint32(idx), msg)
	if err != nil {
		return nil, pub, fmt.Errorf("keystore: sign with %s at index %d: %w", name, idx, err)
	}
	if err := hashsig.Verify(pub, msg, sig); err != nil {
		return nil, pub, fmt.Errorf("keystore: %s signed at index %d and the signature does not verify (damaged tree cache?): %w", name, idx, err)
	}
	return sig, pub, nil
}

// SkipHashSig moves the key's next index forward to next; it never moves
// back. After restoring a key or its state from a backup, move it past
// every index the key may have used since the backup. A key without a
// state file (copied or restored without it) gets one.
func (ks *Keystore) SkipHashSig(name string, next uint64) error {
	f, _, pub, err := ks.hashKey(name)
	if err != nil {
		return err
	}
	if next > 1<<pub.LogLifetime {
		return fmt.Errorf("%w: index %d beyond the key's %d one-time keys", ErrState, next, uint64(1)<<pub.LogLifetime)
	}
	signMu.Lock()
	defer signMu.Unlock()
	unlock, err := lockPath(ks.side(name, lockExt))
	if err != nil {
		return fmt.Errorf("keystore: lock %s: %w", name, err)
	}
	defer unlock()
	st, err := ks.readState(name, f.Address)
	switch {
	case err == nil && next < st.Next:
		return fmt.Errorf("%w: %s is at index %d; it never moves back (to %d)", ErrState, name, st.Next, next)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return ks.writeState(name, hashState{Address: f.Address, Next: next})
}

// maxStateSize bounds what is read of a state file.
const maxStateSize = 4 << 10

func (ks *Keystore) readState(name string, addr account.Address) (hashState, error) {
	p := ks.side(name, stateExt)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return hashState{}, fmt.Errorf("%w: %s has no state file %s: a copied or restored key may have used any index; "+
			"set the next index past every one it used (trellis keys hashsig-skip): %w", ErrState, name, p, fs.ErrNotExist)
	}
	if err != nil {
		return hashState{}, fmt.Errorf("keystore: %w", err)
	}
	if len(data) > maxStateSize {
		return hashState{}, fmt.Errorf("%w: %s is %d bytes", ErrState, p, len(data))
	}
	var st hashState
	if err := json.Unmarshal(data, &st); err != nil {
		return hashState{}, fmt.Errorf("%w: %s: %v", ErrState, p, err)
	}
	if st.Address != addr {
		return hashState{}, fmt.Errorf("%w: %s is the state of %s, not of key %s (%s)", ErrState, p, st.Address, name, addr)
	}
	return st, nil
}

func (ks *Keystore) writeState(name string, st hashState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := writeReplace(ks.dir, ks.side(name, stateExt), append(data, '\n')); err != nil {
		return fmt.Errorf("keystore: record the state of %s: %w", name, err)
	}
	return nil
}

// loadTree rebuilds the key from its seed and tree cache.
func (ks *Keystore) loadTree(name string, seed [hashsig.SeedSize]byte, pub hashsig.PublicKey) (*hashsig.PrivateKey, error) {
	p := ks.side(name, treeExt)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("keystore: tree cache of %s: %w", name, err)
	}
	n := hashsig.CacheLen(pub.LogLifetime)
	if len(data) != n*hash.DigestSize {
		return nil, &CorruptError{Path: p, What: fmt.Sprintf("%d bytes, the key's tree cache is %d", len(data), n*hash.DigestSize)}
	}
	cache := make([]hash.Digest, n)
	for i := range cache {
		if cache[i], err = hash.DigestFromBytes(data[i*hash.DigestSize : (i+1)*hash.DigestSize]); err != nil {
			return nil, &CorruptError{Path: p, What: err.Error()}
		}
	}
	k, err := hashsig.LoadKey(seed, pub, cache, 0)
	if err != nil {
		return nil, &CorruptError{Path: p, What: err.Error()}
	}
	return k, nil
}

// writeReplace writes data to path atomically and durably: a temporary file
// in dir, synced, renamed over path, and dir synced.
func writeReplace(dir, path string, data []byte) error {
	tmpName, err := writeTemp(dir, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmpName)
	if err := os.Rename(tmpName, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
