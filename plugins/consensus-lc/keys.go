package lc

import (
	"sync"

	"github.com/trellis-chain/trellis/protocol/bls"
)

// maxKeys bounds the decoded-key cache.
const maxKeys = 1 << 16

// keyCache remembers decoded BLS public keys: decoding one (with its
// subgroup check) is costly, and each epoch decodes the whole set again.
type keyCache struct {
	mu sync.Mutex
	m  map[[bls.PublicKeySize]byte]bls.PublicKey
}

var keys = &keyCache{m: map[[bls.PublicKeySize]byte]bls.PublicKey{}}

func (c *keyCache) get(b []byte) (bls.PublicKey, error) {
	if len(b) != bls.PublicKeySize {
		return bls.PublicKeyFromBytes(b)
	}
	k := [bls.PublicKeySize]byte(b)
	c.mu.Lock()
	pk, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return pk, nil
	}
	pk, err := bls.PublicKeyFromBytes(b)
	if err != nil {
		return pk, err
	}
	c.mu.Lock()
	if len(c.m) >= maxKeys {
		clear(c.m)
	}
	c.m[k] = pk
	c.mu.Unlock()
	return pk, nil
}
