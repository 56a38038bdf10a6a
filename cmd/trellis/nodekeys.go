package main

// Encrypting a node's own key files at rest: the node key and the
// validator's BLS key, with the wallet's scheme; `trellis run` decrypts
// them with the passphrase in $TRELLIS_KEY_PASSPHRASE.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/trellis-chain/trellis/core/keystore"
	"github.com/trellis-chain/trellis/core/signer"
)

// nodeKeyParams is the scrypt cost of encrypted node key files; the tests
// lower it.
var nodeKeyParams = keystore.DefaultParams

func keysNodeCrypt(encrypt bool) func([]string, io.Writer, io.Writer) int {
	verb := map[bool]string{true: "encrypt-node", false: "decrypt-node"}[encrypt]
	return func(args []string, stdout, stderr io.Writer) int {
		fs := walletFlags("keys "+verb, "keys "+verb+" -dir KEYDIR",
			"  TRELLIS_KEY_PASSPHRASE=... trellis keys "+verb+" -dir ./devnet/keys", stderr)
		dir := fs.String("dir", "", "the node's key directory (config node.key_dir), holding "+signer.NodeKeyFile+" and "+signer.BLSKeyFile)
		if code, ok := parse(fs, args); !ok {
			return code
		}
		if *dir == "" || fs.NArg() > 0 {
			fs.Usage()
			return 2
		}
		pass, ok := os.LookupEnv(signer.PassphraseEnv)
		if !ok {
			if !term.IsTerminal(stdinFd) {
				return walletError(stderr, "set %s, or run this on a terminal to be asked", signer.PassphraseEnv)
			}
			var err error
			if pass, err = askHidden(stderr, "Passphrase for the node's key files: "); err != nil {
				return walletError(stderr, "%v", err)
			}
			if encrypt {
				again, err := askHidden(stderr, "Repeat the passphrase: ")
				if err != nil || again != pass {
					return walletError(stderr, "the passphrases do not match")
				}
			}
		}
		if encrypt && pass == "" {
			return walletError(stderr, "an empty passphrase encrypts nothing")
		}
		done := 0
		for _, name := range []string{signer.NodeKeyFile, signer.BLSKeyFile} {
			p := filepath.Join(*dir, name)
			if _, err := os.Stat(p); os.IsNotExist(err) {
				continue
			}
			var err error
			if encrypt {
				err = signer.EncryptKeyFile(p, pass, nodeKeyParams)
			} else {
				err = signer.DecryptKeyFile(p, pass)
			}
			if err != nil {
				return walletError(stderr, "%v", err)
			}
			fmt.Fprintf(stdout, "%sed %s\n", map[bool]string{true: "encrypt", false: "decrypt"}[encrypt], p)
			done++
		}
		if done == 0 {
			return walletError(stderr, "no %s or %s in %s", signer.NodeKeyFile, signer.BLSKeyFile, *dir)
		}
		if encrypt {
			fmt.Fprintf(stdout, "the node now starts only with %s set to this passphrase\n", signer.PassphraseEnv)
		}
		return 0
	}
}
