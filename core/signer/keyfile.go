package signer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/trellis-chain/trellis/core/keystore"
	"github.com/trellis-chain/trellis/internal/securefile"
	"github.com/trellis-chain/trellis/protocol/bls"
)

// File names in the node's key directory (config node.key_dir).
const (
	NodeKeyFile = "node_key.json"          // ed25519: the node's account and peer identity
	BLSKeyFile  = "validator_bls_key.json" // BLS12-381: consensus signatures
)

// Key file "type" fields.
const (
	NodeKeyType = "ed25519"
	BLSKeyType  = "bls12-381-g1"
)

// maxKeyFileSize bounds what a key file read takes in; a real one is about
// 220 bytes.
const maxKeyFileSize = 64 << 10

// keyFile is the JSON layout of both key files, as `trellis init` writes
// it: the type, the public key and the private key (ed25519: the seed), in
// hex.
type keyFile struct {
	Type       string `json:"type"`
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key,omitempty"`
	// Encrypted replaces PrivateKey in an encrypted file: the same scheme
	// as wallet keys (scrypt, XChaCha20-Poly1305), bound to the type and
	// public key.
	Encrypted *keystore.Sealed `json:"encrypted,omitempty"`
}

// PassphraseEnv names the variable an encrypted node or validator key
// file's passphrase comes from, so that a node starts unattended.
const PassphraseEnv = "TRELLIS_KEY_PASSPHRASE"

// ErrKeyLocked reports an encrypted key file without its passphrase.
var ErrKeyLocked = errors.New("key file is encrypted")

// keyFileAD binds an encrypted secret to the file's type and public key.
func keyFileAD(kf keyFile) []byte {
	return []byte("trellis/keyfile/v1\x00" + kf.Type + "\x00" + kf.PublicKey)
}

// secretOf returns the file's private key bytes, decrypting them with the
// passphrase in PassphraseEnv if the file is encrypted. The caller clears
// them.
func secretOf(kf keyFile, bad error) ([]byte, error) {
	if kf.Encrypted == nil {
		b, err := hex.DecodeString(kf.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("%w: private_key is not hex", bad)
		}
		return b, nil
	}
	if kf.PrivateKey != "" {
		return nil, fmt.Errorf("%w: both private_key and encrypted are set", bad)
	}
	pass := os.Getenv(PassphraseEnv)
	if pass == "" {
		return nil, fmt.Errorf("%w: set %s to its passphrase", ErrKeyLocked, PassphraseEnv)
	}
	b, err := kf.Encrypted.Open(pass, keyFileAD(kf))
	if err != nil {
		return nil, fmt.Errorf("%w: decrypting with %s: %w", bad, PassphraseEnv, err)
	}
	return b, nil
}

// readKeyFile reads path, refusing one over maxKeyFileSize; bad wraps a
// file that is too large. The caller clears the returned bytes after
// parsing.
func readKeyFile(path, what string, bad error) ([]byte, error) {
	return readBounded(path, what, maxKeyFileSize, bad)
}

// readBounded reads path, refusing one over max bytes before reading more;
// bad wraps a file that is too large, os errors are wrapped as they are.
func readBounded(path, what string, max int, bad error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s file: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("%s file %s: %w", what, path, err)
	}
	if len(data) > max {
		clear(data)
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", bad, path, max)
	}
	return data, nil
}

// decodeKeyFile unmarshals data and checks its type; errors wrap bad.
func decodeKeyFile(data []byte, typ string, bad error) (keyFile, error) {
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return kf, fmt.Errorf("%w: not a key file: %v", bad, err)
	}
	if kf.Type != typ {
		return kf, fmt.Errorf("%w: type %q, want %q", bad, kf.Type, typ)
	}
	return kf, nil
}

// checkPublic compares the stored public key with the one the private key
// gives, so an edited or damaged file cannot sign as another key.
func checkPublic(kf keyFile, want []byte, bad error) error {
	pub, err := hex.DecodeString(kf.PublicKey)
	if err != nil {
		return fmt.Errorf("%w: public_key is not hex", bad)
	}
	if string(pub) != string(want) {
		return fmt.Errorf("%w: public_key %x is not the private key's public key %x", bad, pub, want)
	}
	return nil
}

// writeKeyFile writes a key file with mode 0600 through a temporary file
// renamed over path, so a crash leaves the old file or the new one, never
// a torn key; an existing file is replaced.
func writeKeyFile(path, what, typ string, pub, priv []byte) error {
	data, err := json.MarshalIndent(keyFile{Type: typ, PublicKey: hex.EncodeToString(pub), PrivateKey: hex.EncodeToString(priv)}, "", "  ")
	if err != nil {
		return fmt.Errorf("%s file %s: %w", what, path, err)
	}
	data = append(data, '\n')
	defer clear(data)
	if err := securefile.WriteAtomic(path, data); err != nil {
		return fmt.Errorf("%s file %s: %w", what, path, err)
	}
	return nil
}

// LoadNodeKey reads an ed25519 node key file as written by `trellis init`
// or WriteNodeKey. It checks the type, the seed's length and that the
// stored public key is the seed's. Errors wrap ErrKeyFile (or the os
// error) and name the file.
func LoadNodeKey(path string) (ed25519.PrivateKey, error) {
	data, err := readKeyFile(path, "node key", ErrKeyFile)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	k, err := parseNodeKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func parseNodeKey(data []byte) (ed25519.PrivateKey, error) {
	kf, err := decodeKeyFile(data, NodeKeyType, ErrKeyFile)
	if err != nil {
		return nil, err
	}
	seed, err := secretOf(kf, ErrKeyFile)
	if err != nil {
		return nil, err
	}
	defer clear(seed)
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: private_key must be %d bytes of hex (the seed)", ErrKeyFile, ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if err := checkPublic(kf, priv.Public().(ed25519.PublicKey), ErrKeyFile); err != nil {
		return nil, err
	}
	return priv, nil
}

// WriteNodeKey writes priv to path in the format LoadNodeKey reads.
func WriteNodeKey(path string, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key of %d bytes", ErrKeyFile, len(priv))
	}
	return writeKeyFile(path, "node key", NodeKeyType, priv.Public().(ed25519.PublicKey), priv.Seed())
}

// LoadBLSKey reads a validator key file as written by `trellis init` or
// WriteBLSKey and returns its secret key. It checks the type, the secret
// key's range, and that the stored public key is the secret key's. Errors
// wrap bls.ErrSecretKey (or the os error) and name the file.
func LoadBLSKey(path string) (*bls.SecretKey, error) {
	data, err := readKeyFile(path, "bls key", bls.ErrSecretKey)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	sk, err := parseBLSKey(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return sk, nil
}

func parseBLSKey(data []byte) (*bls.SecretKey, error) {
	kf, err := decodeKeyFile(data, BLSKeyType, bls.ErrSecretKey)
	if err != nil {
		return nil, err
	}
	skb, err := secretOf(kf, bls.ErrSecretKey)
	if err != nil {
		return nil, err
	}
	defer clear(skb)
	sk, err := bls.SecretKeyFromBytes(skb)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	want := sk.PublicKey().Bytes()
	if err := checkPublic(kf, want[:], bls.ErrSecretKey); err != nil {
		return nil, err
	}
	return sk, nil
}

// WriteBLSKey writes sk to path in the format LoadBLSKey reads.
func WriteBLSKey(path string, sk *bls.SecretKey) error {
	skb, pkb := sk.Bytes(), sk.PublicKey().Bytes()
	defer clear(skb[:])
	return writeKeyFile(path, "bls key", BLSKeyType, pkb[:], skb[:])
}

// NewNodeKeyFile writes a fresh ed25519 node key (the node's account and
// libp2p identity) to path and returns it.
func NewNodeKeyFile(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return priv, WriteNodeKey(path, priv)
}

// NewBLSKeyFile writes a fresh BLS12-381 validator key to path and returns
// its public key and proof of possession, for a genesis file.
func NewBLSKeyFile(path string) (pub, pop []byte, err error) {
	sk, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if err := WriteBLSKey(path, sk); err != nil {
		return nil, nil, err
	}
	pk, sig := sk.PublicKey().Bytes(), bls.ProofOfPossession(sk).Bytes()
	return pk[:], sig[:], nil
}

// EncryptKeyFile rewrites the plaintext node or validator key file at path
// encrypted under passphrase (scrypt parameters p), after checking that it
// loads. The public key stays readable.
func EncryptKeyFile(path, passphrase string, p keystore.Params) error {
	if passphrase == "" {
		return fmt.Errorf("%w: %s: an empty passphrase encrypts nothing", ErrKeyFile, path)
	}
	return rewriteKeyFile(path, func(kf *keyFile) error {
		if kf.Encrypted != nil {
			return fmt.Errorf("%w: %s is already encrypted", ErrKeyFile, path)
		}
		secret, err := hex.DecodeString(kf.PrivateKey)
		if err != nil {
			return fmt.Errorf("%w: %s: private_key is not hex", ErrKeyFile, path)
		}
		defer clear(secret)
		if kf.Encrypted, err = keystore.Seal(secret, passphrase, keyFileAD(*kf), p); err != nil {
			return err
		}
		kf.PrivateKey = ""
		return nil
	})
}

// DecryptKeyFile rewrites the encrypted key file at path as plaintext.
func DecryptKeyFile(path, passphrase string) error {
	return rewriteKeyFile(path, func(kf *keyFile) error {
		if kf.Encrypted == nil {
			return fmt.Errorf("%w: %s is not encrypted", ErrKeyFile, path)
		}
		secret, err := kf.Encrypted.Open(passphrase, keyFileAD(*kf))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer clear(secret)
		kf.PrivateKey, kf.Encrypted = hex.EncodeToString(secret), nil
		return nil
	})
}

// rewriteKeyFile applies edit to the key file at path and writes it back
// atomically, refusing a file that is neither key type.
func rewriteKeyFile(path string, edit func(*keyFile) error) error {
	data, err := readKeyFile(path, "key", ErrKeyFile)
	if err != nil {
		return err
	}
	defer clear(data)
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return fmt.Errorf("%w: %s: not a key file: %v", ErrKeyFile, path, err)
	}
	if kf.Type != NodeKeyType && kf.Type != BLSKeyType {
		return fmt.Errorf("%w: %s: type %q", ErrKeyFile, path, kf.Type)
	}
	if err := edit(&kf); err != nil {
		return err
	}
	out, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	out = append(out, '\n')
	defer clear(out)
	return securefile.WriteAtomic(path, out)
}
