// Package keystore keeps a wallet's ed25519 account keys on disk, each in its
// own file encrypted under a passphrase.
//
// A key file is JSON so that an operator can read which address it holds
// without the passphrase, while the private key is sealed with
// XChaCha20-Poly1305 under a key stretched from the passphrase by scrypt.
// The key's name and address are the AEAD's associated data: a file copied
// under another name, or edited to show another address, does not decrypt.
//
// scrypt's cost is the point: with the default N=2^15, r=8, p=1 each guess
// at a passphrase costs about 32 MiB of memory and tens of milliseconds of
// CPU, for the owner once per unlock and for an attacker once per guess.
package keystore
