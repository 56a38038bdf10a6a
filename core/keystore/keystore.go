package keystore

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/trellis-chain/trellis/protocol/account"
)

// Sentinel errors. Every error the package returns wraps one of them (or an
// error from the file system), with the key name, directory or file path in
// its text.
var (
	ErrNotFound        = errors.New("key not found")
	ErrExists          = errors.New("key already exists")
	ErrWrongPassphrase = errors.New("wrong passphrase")
	ErrCorrupt         = errors.New("corrupt key file")
	ErrName            = errors.New("invalid key name")
	ErrKey             = errors.New("invalid private key")
	ErrParams          = errors.New("invalid scrypt parameters")
	ErrScheme          = errors.New("wrong key scheme")
	// ErrState reports a hash-based key whose one-time index state is
	// missing, belongs to another key or is damaged: it does not sign
	// until the state is set (SkipHashSig), so no index is used twice.
	ErrState = errors.New("hash-based key state")
	// ErrExhausted reports a hash-based key that has used every one-time key.
	ErrExhausted = errors.New("hash-based key exhausted")
)

// Key schemes, as Info.Scheme names them.
const (
	SchemeEd25519 = "ed25519"
	SchemeHashSig = "hashsig"
)

// MaxNameLen bounds a key name.
const MaxNameLen = 64

// fileExt is the extension of key files in the directory.
const fileExt = ".json"

// Info is what a key file says in clear: no passphrase is needed to read it.
type Info struct {
	Name    string
	Address account.Address
	// Scheme is SchemeEd25519 or SchemeHashSig.
	Scheme string
	// PublicKey is the scheme's public key: 32 bytes of ed25519, or a
	// hashsig.PublicKey encoding (65 bytes).
	PublicKey []byte
	// Path is the key's file.
	Path string
}

// Keystore is a directory of encrypted keys, one file NAME.json per key.
// Its methods may be called from several goroutines; two processes creating
// the same name race safely (one gets ErrExists).
type Keystore struct {
	dir    string
	params Params
}

// Option configures Open.
type Option func(*Keystore) error

// WithScrypt sets the scrypt cost of keys this keystore writes (keys already
// on disk keep the cost written in their files). Tests use it to run with a
// lighter cost than DefaultParams.
func WithScrypt(p Params) Option {
	return func(ks *Keystore) error {
		if err := p.check(); err != nil {
			return err
		}
		ks.params = p
		return nil
	}
}

// Open opens the key directory dir, creating it with mode 0700 if needed.
func Open(dir string, opts ...Option) (*Keystore, error) {
	ks := &Keystore{dir: dir, params: DefaultParams}
	for _, o := range opts {
		if err := o(ks); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("keystore: %s is not a directory", dir)
	}
	return ks, nil
}

// Dir returns the key directory.
func (ks *Keystore) Dir() string { return ks.dir }

// CheckName reports whether name may name a key: 1 to 64 of a-z, 0-9, _ and -.
func CheckName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen {
		return fmt.Errorf("%w %q: want 1 to %d characters", ErrName, name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w %q: only a-z, 0-9, _ and - are allowed", ErrName, name)
		}
	}
	return nil
}

func (ks *Keystore) path(name string) string { return filepath.Join(ks.dir, name+fileExt) }

// New generates a key, stores it under name sealed with passphrase and
// returns its public part.
func (ks *Keystore) New(name, passphrase string) (Info, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Info{}, fmt.Errorf("keystore: generate key: %w", err)
	}
	return ks.Import(name, priv, passphrase)
}

// Import stores priv under name sealed with passphrase.
func (ks *Keystore) Import(name string, priv ed25519.PrivateKey, passphrase string) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return Info{}, fmt.Errorf("%w: %d bytes, want %d", ErrKey, len(priv), ed25519.PrivateKeySize)
	}
	seed := priv.Seed()
	if !ed25519.NewKeyFromSeed(seed).Equal(priv) {
		return Info{}, fmt.Errorf("%w: its public half does not match its seed", ErrKey)
	}
	p := ks.path(name)
	if _, err := os.Lstat(p); err == nil {
		return Info{}, fmt.Errorf("%w: %q in %s", ErrExists, name, ks.dir)
	}
	f, err := seal(name, seed, passphrase, ks.params)
	if err != nil {
		return Info{}, err
	}
	data, err := f.encode()
	if err != nil {
		return Info{}, err
	}
	if err := writeNew(ks.dir, p, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Info{}, fmt.Errorf("%w: %q in %s", ErrExists, name, ks.dir)
		}
		return Info{}, fmt.Errorf("keystore: write %s: %w", p, err)
	}
	return f.info(p), nil
}

// List returns the keys in the directory sorted by name. Files that are not
// keystore files (such as the plain node keys `trellis init` writes) are
// skipped. A key file that cannot be read does not hide the others: List
// returns every readable key together with an error that joins one
// ErrCorrupt (or file system error) per unreadable file.
func (ks *Keystore) List() ([]Info, error) {
	ents, err := os.ReadDir(ks.dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	var infos []Info
	var errs []error
	for _, e := range ents {
		n := e.Name()
		name, ok := strings.CutSuffix(n, fileExt)
		if !ok || e.IsDir() || CheckName(name) != nil {
			continue
		}
		p := filepath.Join(ks.dir, n)
		data, err := readFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !looksLikeKeyFile(data) {
			continue
		}
		f, err := decodeFile(p, data)
		if err == nil {
			err = f.checkName(p, name)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		infos = append(infos, f.info(p))
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return infos, errors.Join(errs...)
}

// Show returns the public part of the key name.
func (ks *Keystore) Show(name string) (Info, error) {
	f, p, err := ks.load(name)
	if err != nil {
		return Info{}, err
	}
	return f.info(p), nil
}

// Unlock decrypts the key name with passphrase.
func (ks *Keystore) Unlock(name, passphrase string) (ed25519.PrivateKey, error) {
	f, p, err := ks.load(name)
	if err != nil {
		return nil, err
	}
	return f.open(p, passphrase)
}

func (ks *Keystore) load(name string) (*keyFile, string, error) {
	if err := CheckName(name); err != nil {
		return nil, "", err
	}
	p := ks.path(name)
	data, err := readFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%w: no key %q in %s", ErrNotFound, name, ks.dir)
	}
	if err != nil {
		return nil, "", err
	}
	f, err := decodeFile(p, data)
	if err != nil {
		return nil, "", err
	}
	if err := f.checkName(p, name); err != nil {
		return nil, "", err
	}
	return f, p, nil
}

// maxFileSize bounds what is read of a key file; real ones are under 1 KiB.
const maxFileSize = 64 << 10

func readFile(p string) ([]byte, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &CorruptError{Path: p, What: "not a regular file"}
	}
	if st.Size() > maxFileSize {
		return nil, &CorruptError{Path: p, What: fmt.Sprintf("%d bytes, a key file is at most %d", st.Size(), maxFileSize)}
	}
	data := make([]byte, st.Size())
	n, err := fh.ReadAt(data, 0)
	if err != nil && n != len(data) {
		return nil, fmt.Errorf("keystore: read %s: %w", p, err)
	}
	return data, nil
}

// writeTemp writes data to a new temporary file in dir with mode 0600 and
// syncs it; the caller links or renames it into place and removes it.
func writeTemp(dir string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(dir, ".tmp-key-*")
	if err != nil {
		return "", err
	}
	name := tmp.Name()
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// writeNew writes data to a temporary file in dir with mode 0600, syncs it,
// and links it to path, which fails if path exists: the key appears whole
// or not at all, and never replaces another.
func writeNew(dir, path string, data []byte) error {
	tmpName, err := writeTemp(dir, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmpName)
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// File systems without hard links: check, then rename.
		if _, serr := os.Lstat(path); serr == nil {
			return fs.ErrExist
		}
		if err := os.Rename(tmpName, path); err != nil {
			return err
		}
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new name durable; not all systems support it
		d.Close()
	}
	return nil
}
