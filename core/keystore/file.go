package keystore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hashsig"
)

// Key file versions: one per key scheme.
const (
	// FormatVersion is the file of an ed25519 key.
	FormatVersion = 1
	// FormatHashSig is the file of a hash-based key (protocol/hashsig):
	// the same fields, the 65-byte hash-based public key and its address,
	// the sealed 32-byte seed. Its one-time index state and tree cache live
	// beside it (hashsig.go).
	FormatHashSig = 2
)

// Names of the algorithms in a version 1 file.
const (
	KDFName    = "scrypt"
	CipherName = "xchacha20-poly1305"
)

// Params are scrypt's cost parameters: N (CPU/memory cost, a power of two),
// r (block size) and p (parallelism). Memory is 128·N·r bytes and time is
// proportional to N·r·p.
type Params struct {
	N, R, P int
}

// DefaultParams costs 32 MiB and, measured on a shared 2-vCPU x86-64 build
// machine, 71–119 ms per unlock (BenchmarkUnlockDefault) — cheap for a
// wallet, expensive for a guesser (see the package doc and docs/wallet.md).
var DefaultParams = Params{N: 1 << 15, R: 8, P: 1}

// Bounds on the parameters a file may carry, so that a hostile file cannot
// make an unlock take gigabytes or minutes.
const (
	MaxN        = 1 << 20
	MaxR        = 32
	MaxP        = 16
	maxMemory   = 1 << 30 // 128·N·r
	maxWork     = 1 << 25 // N·r·p; the default is 2^18
	saltSize    = 32
	minSaltSize = 16
	maxSaltSize = 64
	keySize     = chacha20poly1305.KeySize
	seedSize    = ed25519.SeedSize
	sealedSize  = seedSize + chacha20poly1305.Overhead
)

func (p Params) check() error {
	switch {
	case p.N < 2 || p.N > MaxN || p.N&(p.N-1) != 0:
		return fmt.Errorf("%w: n=%d, want a power of two from 2 to %d", ErrParams, p.N, MaxN)
	case p.R < 1 || p.R > MaxR:
		return fmt.Errorf("%w: r=%d, want 1 to %d", ErrParams, p.R, MaxR)
	case p.P < 1 || p.P > MaxP:
		return fmt.Errorf("%w: p=%d, want 1 to %d", ErrParams, p.P, MaxP)
	}
	// N, r and p are bounded above, so these products fit in 64 bits.
	if mem := 128 * int64(p.N) * int64(p.R); mem > maxMemory {
		return fmt.Errorf("%w: n=%d r=%d needs %d MiB, at most %d", ErrParams, p.N, p.R, mem>>20, maxMemory>>20)
	}
	if w := int64(p.N) * int64(p.R) * int64(p.P); w > maxWork {
		return fmt.Errorf("%w: n·r·p=%d exceeds %d", ErrParams, w, maxWork)
	}
	return nil
}

// CorruptError reports a key file that cannot be read as one: the path and
// what is wrong. It wraps ErrCorrupt.
type CorruptError struct {
	Path string
	What string
}

func (e *CorruptError) Error() string { return fmt.Sprintf("corrupt key file %s: %s", e.Path, e.What) }

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// keyFile is the JSON form of a key file, version 1.
type keyFile struct {
	Version   int             `json:"version"`
	Name      string          `json:"name"`
	Address   account.Address `json:"address"`
	PublicKey hexBytes        `json:"public_key"`
	Sealed                    // kdf, cipher, ciphertext
}

type kdfSection struct {
	Name string   `json:"name"`
	N    int      `json:"n"`
	R    int      `json:"r"`
	P    int      `json:"p"`
	Salt hexBytes `json:"salt"`
}

type cipherSection struct {
	Name  string   `json:"name"`
	Nonce hexBytes `json:"nonce"`
}

// hexBytes is a byte string written as lowercase hex.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

func (h *hexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return fmt.Errorf("not hex: %v", err)
	}
	*h = v
	return nil
}

func (f *keyFile) info(path string) Info {
	scheme := SchemeEd25519
	if f.Version == FormatHashSig {
		scheme = SchemeHashSig
	}
	return Info{Name: f.Name, Address: f.Address, Scheme: scheme, PublicKey: bytes.Clone(f.PublicKey), Path: path}
}

func (f *keyFile) encode() ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keystore: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// checkName checks that the file at path, named name.json, holds key name:
// a file copied under another name is refused before any passphrase is asked.
func (f *keyFile) checkName(path, name string) error {
	if f.Name != name {
		return &CorruptError{Path: path, What: fmt.Sprintf("the file holds key %q, not %q", f.Name, name)}
	}
	return nil
}

// associatedData binds the name, address and public key to the ciphertext.
func associatedData(name string, addr account.Address, pub []byte) []byte {
	ad := make([]byte, 0, 32+len(name)+len(addr)+len(pub))
	ad = append(ad, "trellis/keystore/v1\x00"...)
	ad = append(ad, byte(len(name)))
	ad = append(ad, name...)
	ad = append(ad, addr[:]...)
	return append(ad, pub...)
}

func deriveKey(passphrase string, salt []byte, p Params) ([]byte, error) {
	k, err := scrypt.Key([]byte(passphrase), salt, p.N, p.R, p.P, keySize)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrParams, err)
	}
	return k, nil
}

// seal encrypts seed under passphrase into a new key file.
func seal(name string, seed []byte, passphrase string, p Params) (*keyFile, error) {
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	f := &keyFile{Version: FormatVersion, Name: name, Address: account.FromPublicKey(pub), PublicKey: hexBytes(pub)}
	s, err := sealRaw(seed, passphrase, associatedData(name, f.Address, pub), p)
	if err != nil {
		return nil, err
	}
	f.Sealed = *s
	return f, nil
}

// open decrypts the key. A wrong passphrase and a file whose name, address,
// public key or ciphertext was altered look the same to the AEAD: both are
// reported as ErrWrongPassphrase.
func (f *keyFile) open(path, passphrase string) (ed25519.PrivateKey, error) {
	if f.Version != FormatVersion {
		return nil, fmt.Errorf("%w: %s is a hash-based key; it signs through SignHashSig", ErrScheme, f.Name)
	}
	aead, err := f.aead(passphrase)
	if err != nil {
		return nil, &CorruptError{Path: path, What: err.Error()}
	}
	seed, err := aead.Open(nil, f.Cipher.Nonce, f.Ciphertext, associatedData(f.Name, f.Address, f.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("%w for key %s", ErrWrongPassphrase, f.Name)
	}
	defer clear(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	if subtle.ConstantTimeCompare(priv.Public().(ed25519.PublicKey), f.PublicKey) != 1 {
		clear(priv)
		return nil, &CorruptError{Path: path, What: "the decrypted key does not match public_key"}
	}
	return priv, nil
}

// looksLikeKeyFile tells keystore files from other JSON files that share the
// directory (the plain node_key.json and validator_bls_key.json written by
// `trellis init`): a keystore file has a version or a ciphertext.
func looksLikeKeyFile(data []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return true // unreadable: let decodeFile say why
	}
	_, v := m["version"]
	_, c := m["ciphertext"]
	return v || c
}

// decodeFile parses and checks a key file read from path. It checks
// everything that can be checked without the passphrase, so Show and List
// report a damaged file, and never panics.
func decodeFile(path string, data []byte) (*keyFile, error) {
	bad := func(format string, a ...any) error {
		return &CorruptError{Path: path, What: fmt.Sprintf(format, a...)}
	}
	if len(data) > maxFileSize {
		return nil, bad("%d bytes, a key file is at most %d", len(data), maxFileSize)
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, bad("not JSON: %v", err)
	}
	if head.Version == nil {
		return nil, bad("no version field")
	}
	if *head.Version != FormatVersion && *head.Version != FormatHashSig {
		return nil, bad("version %d, this build reads versions %d (ed25519) and %d (hash-based)", *head.Version, FormatVersion, FormatHashSig)
	}
	var f keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, bad("%v", err)
	}
	if dec.More() {
		return nil, bad("data after the JSON object")
	}
	if err := CheckName(f.Name); err != nil {
		return nil, bad("%v", err)
	}
	if f.Version == FormatHashSig {
		pub, err := hashsig.ParsePublicKey(f.PublicKey)
		if err != nil {
			return nil, bad("public_key: %v", err)
		}
		if want := pub.Address(); f.Address != want {
			return nil, bad("address %s is not the address of public_key (%s)", f.Address, want)
		}
	} else {
		if len(f.PublicKey) != ed25519.PublicKeySize {
			return nil, bad("public_key is %d bytes, want %d", len(f.PublicKey), ed25519.PublicKeySize)
		}
		if want := account.FromPublicKey(ed25519.PublicKey(f.PublicKey)); f.Address != want {
			return nil, bad("address %s is not the address of public_key (%s)", f.Address, want)
		}
	}
	if f.KDF.Name != KDFName {
		return nil, bad("kdf %q, want %q", f.KDF.Name, KDFName)
	}
	if err := (Params{N: f.KDF.N, R: f.KDF.R, P: f.KDF.P}).check(); err != nil {
		return nil, bad("%v", err)
	}
	if n := len(f.KDF.Salt); n < minSaltSize || n > maxSaltSize {
		return nil, bad("salt is %d bytes, want %d to %d", n, minSaltSize, maxSaltSize)
	}
	if f.Cipher.Name != CipherName {
		return nil, bad("cipher %q, want %q", f.Cipher.Name, CipherName)
	}
	if n := len(f.Cipher.Nonce); n != chacha20poly1305.NonceSizeX {
		return nil, bad("nonce is %d bytes, want %d", n, chacha20poly1305.NonceSizeX)
	}
	if n := len(f.Ciphertext); n != sealedSize {
		return nil, bad("ciphertext is %d bytes, want %d", n, sealedSize)
	}
	return &f, nil
}
