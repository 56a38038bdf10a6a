package keystore

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed is a secret encrypted as wallet keys are (scrypt, then
// XChaCha20-Poly1305), for other key files to embed: the node's ed25519
// key and its BLS validator key (core/signer). The associated data is the
// caller's: it binds the secret to what the file says it is.
type Sealed struct {
	KDF        kdfSection    `json:"kdf"`
	Cipher     cipherSection `json:"cipher"`
	Ciphertext hexBytes      `json:"ciphertext"`
}

// maxSecret bounds what Seal encrypts and Open accepts: a key, not a file.
const maxSecret = 256

// Seal encrypts secret under passphrase with scrypt parameters p.
func Seal(secret []byte, passphrase string, ad []byte, p Params) (*Sealed, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if len(secret) == 0 || len(secret) > maxSecret {
		return nil, fmt.Errorf("keystore: a secret of %d bytes; 1 to %d", len(secret), maxSecret)
	}
	return sealRaw(secret, passphrase, ad, p)
}

// sealRaw encrypts with a fresh salt and nonce; the caller checked p.
func sealRaw(secret []byte, passphrase string, ad []byte, p Params) (*Sealed, error) {
	s := &Sealed{
		KDF:    kdfSection{Name: KDFName, N: p.N, R: p.R, P: p.P, Salt: make(hexBytes, saltSize)},
		Cipher: cipherSection{Name: CipherName, Nonce: make(hexBytes, chacha20poly1305.NonceSizeX)},
	}
	if _, err := rand.Read(s.KDF.Salt); err != nil {
		return nil, fmt.Errorf("keystore: salt: %w", err)
	}
	if _, err := rand.Read(s.Cipher.Nonce); err != nil {
		return nil, fmt.Errorf("keystore: nonce: %w", err)
	}
	aead, err := s.aead(passphrase)
	if err != nil {
		return nil, err
	}
	s.Ciphertext = aead.Seal(nil, s.Cipher.Nonce, secret, ad)
	return s, nil
}

// aead derives s's key from passphrase (scrypt with s's parameters, which
// the caller checked) and returns the cipher.
func (s *Sealed) aead(passphrase string) (cipher.AEAD, error) {
	key, err := deriveKey(passphrase, s.KDF.Salt, Params{N: s.KDF.N, R: s.KDF.R, P: s.KDF.P})
	if err != nil {
		return nil, err
	}
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return aead, nil
}

// Open decrypts s. Its parameters are checked before any work, so a
// hostile file cannot make it take gigabytes; a wrong passphrase and an
// altered file are both ErrWrongPassphrase, as the AEAD cannot tell them
// apart. The caller clears the result.
func (s *Sealed) Open(passphrase string, ad []byte) ([]byte, error) {
	switch {
	case s.KDF.Name != KDFName:
		return nil, fmt.Errorf("%w: kdf %q, want %q", ErrCorrupt, s.KDF.Name, KDFName)
	case s.Cipher.Name != CipherName:
		return nil, fmt.Errorf("%w: cipher %q, want %q", ErrCorrupt, s.Cipher.Name, CipherName)
	case len(s.KDF.Salt) < minSaltSize || len(s.KDF.Salt) > maxSaltSize:
		return nil, fmt.Errorf("%w: salt of %d bytes", ErrCorrupt, len(s.KDF.Salt))
	case len(s.Cipher.Nonce) != chacha20poly1305.NonceSizeX:
		return nil, fmt.Errorf("%w: nonce of %d bytes", ErrCorrupt, len(s.Cipher.Nonce))
	case len(s.Ciphertext) <= chacha20poly1305.Overhead || len(s.Ciphertext) > maxSecret+chacha20poly1305.Overhead:
		return nil, fmt.Errorf("%w: ciphertext of %d bytes", ErrCorrupt, len(s.Ciphertext))
	}
	if err := (Params{N: s.KDF.N, R: s.KDF.R, P: s.KDF.P}).check(); err != nil {
		return nil, err
	}
	aead, err := s.aead(passphrase)
	if err != nil {
		return nil, err
	}
	out, err := aead.Open(nil, s.Cipher.Nonce, s.Ciphertext, ad)
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return out, nil
}
