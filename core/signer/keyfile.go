package signer

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/trellis-chain/trellis/internal/securefile"
)

// File names in the node's key directory (config node.key_dir).
const (
	NodeKeyFile = "node_key.json"          // ed25519: the node's account and peer identity
	BLSKeyFile  = "validator_bls_key.json" // BLS12-381: consensus signatures
)

// NodeKeyType is the "type" field of a node key file.
const NodeKeyType = "ed25519"

const maxKeyFileSize = 64 << 10

// nodeKeyFile is the JSON layout `trellis init` writes: the public key and
// the 32-byte seed, both in hex.
type nodeKeyFile struct {
	Type       string `json:"type"`
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key"`
}

// LoadNodeKey reads an ed25519 node key file as written by `trellis init`
// or WriteNodeKey. It checks the type, the seed's length and that the
// stored public key is the seed's, so an edited or damaged file cannot
// sign as another account. Errors wrap ErrKeyFile (or the os error) and
// name the file.
func LoadNodeKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("node key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("node key file %s: %w", path, err)
	}
	defer clear(data)
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrKeyFile, path, maxKeyFileSize)
	}
	k, err := parseNodeKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func parseNodeKey(data []byte) (ed25519.PrivateKey, error) {
	var kf nodeKeyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("%w: not a key file: %v", ErrKeyFile, err)
	}
	if kf.Type != NodeKeyType {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrKeyFile, kf.Type, NodeKeyType)
	}
	seed, err := hex.DecodeString(kf.PrivateKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		clear(seed)
		return nil, fmt.Errorf("%w: private_key must be %d bytes of hex (the seed)", ErrKeyFile, ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	pub, err := hex.DecodeString(kf.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: public_key is not hex", ErrKeyFile)
	}
	if want := priv.Public().(ed25519.PublicKey); !want.Equal(ed25519.PublicKey(pub)) {
		return nil, fmt.Errorf("%w: public_key %x is not the private key's public key %x", ErrKeyFile, pub, []byte(want))
	}
	return priv, nil
}

// WriteNodeKey writes priv to path in the format LoadNodeKey reads, with
// permissions 0600, through a temporary file renamed over path, so a crash
// leaves the old file or the new one, never a torn key.
func WriteNodeKey(path string, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key of %d bytes", ErrKeyFile, len(priv))
	}
	data, err := json.MarshalIndent(nodeKeyFile{
		Type:       NodeKeyType,
		PublicKey:  hex.EncodeToString(priv.Public().(ed25519.PublicKey)),
		PrivateKey: hex.EncodeToString(priv.Seed()),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("node key file %s: %w", path, err)
	}
	data = append(data, '\n')
	defer clear(data)
	if err := securefile.WriteAtomic(path, data); err != nil {
		return fmt.Errorf("node key file %s: %w", path, err)
	}
	return nil
}
