package bls

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/trellis-chain/trellis/internal/securefile"
)

// KeyFileType is the "type" field of a BLS validator key file.
const KeyFileType = "bls12-381-g1"

// maxKeyFileSize bounds what LoadKeyFile reads; a real key file is about
// 220 bytes.
const maxKeyFileSize = 64 << 10

// keyFile is the JSON layout `trellis init` writes (cmd/trellis/init.go).
type keyFile struct {
	Type       string `json:"type"`
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key"`
}

// LoadKeyFile reads a validator key file as written by `trellis init` or
// WriteKeyFile and returns its secret key. It checks the type, the secret
// key's range, and that the stored public key is the one the secret key
// gives, so a file edited by hand or corrupted cannot silently sign as
// another validator. Errors wrap ErrSecretKey (or the os error for a file
// that cannot be read) and name the file.
func LoadKeyFile(path string) (*SecretKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bls key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("bls key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: key file %s: larger than %d bytes", ErrSecretKey, path, maxKeyFileSize)
	}
	sk, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return sk, nil
}

// parseKeyFile decodes and checks the contents of a key file.
func parseKeyFile(data []byte) (*SecretKey, error) {
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("%w: not a key file: %v", ErrSecretKey, err)
	}
	if kf.Type != KeyFileType {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrSecretKey, kf.Type, KeyFileType)
	}
	skb, err := hex.DecodeString(kf.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: private_key is not hex", ErrSecretKey)
	}
	sk, err := SecretKeyFromBytes(skb)
	clear(skb)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	pkb, err := hex.DecodeString(kf.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: public_key is not hex", ErrSecretKey)
	}
	want := sk.PublicKey().Bytes()
	if string(pkb) != string(want[:]) {
		return nil, fmt.Errorf("%w: public_key %x is not the private key's public key %x", ErrSecretKey, pkb, want)
	}
	return sk, nil
}

// WriteKeyFile writes sk to path in the format LoadKeyFile reads, with
// permissions 0600. It writes a temporary file beside path and renames it
// over path, so a crash leaves either the old file or the new one, never a
// torn key; an existing file at path is replaced, so callers that must not
// lose a key check first.
func WriteKeyFile(path string, sk *SecretKey) error {
	skb := sk.Bytes()
	pkb := sk.PublicKey().Bytes()
	data, err := json.MarshalIndent(keyFile{
		Type:       KeyFileType,
		PublicKey:  hex.EncodeToString(pkb[:]),
		PrivateKey: hex.EncodeToString(skb[:]),
	}, "", "  ")
	clear(skb[:])
	if err != nil {
		return fmt.Errorf("bls key file %s: %w", path, err)
	}
	data = append(data, '\n')
	defer clear(data)

	if err := securefile.WriteAtomic(path, data); err != nil {
		return fmt.Errorf("bls key file %s: %w", path, err)
	}
	return nil
}
