package main

// The wallet's key commands and what the other wallet commands share with
// them: the home directory, the keystore and passphrases.

import (
	"bufio"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/trellis-chain/trellis/core/keystore"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/hashsig"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Environment variables the wallet reads.
const (
	envHome       = "TRELLIS_HOME"
	envPassphrase = "TRELLIS_PASSPHRASE"
)

// keystoreOptions configures every keystore the CLI opens; the tests lower
// the scrypt cost through it.
var keystoreOptions []keystore.Option

// stdinFd is the terminal passphrases are read from.
var stdinFd = int(os.Stdin.Fd())

// walletError prints an error of a wallet command and returns exit code 1.
func walletError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "error: "+format+"\n", a...)
	return 1
}

// homeFlag adds -home to fs.
func homeFlag(fs *flag.FlagSet) *string {
	return fs.String("home", "", "wallet home `DIR`; keys live in DIR/keys (default $"+envHome+", else ~/.trellis)")
}

// homeDir resolves -home: the flag, else $TRELLIS_HOME, else ~/.trellis.
func homeDir(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if h := os.Getenv(envHome); h != "" {
		return h, nil
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory (%v): pass -home DIR or set %s", err, envHome)
	}
	return filepath.Join(u, ".trellis"), nil
}

func openKeystore(home string) (*keystore.Keystore, error) {
	h, err := homeDir(home)
	if err != nil {
		return nil, err
	}
	return keystore.Open(filepath.Join(h, "keys"), keystoreOptions...)
}

// errNoTerminal: no passphrase can be asked for.
var errNoTerminal = errors.New("no passphrase: " + envPassphrase + " is not set and stdin is not a terminal to ask on; set " + envPassphrase + " to pass one from a script")

// readPassphrase returns $TRELLIS_PASSPHRASE if it is set, or asks on the
// terminal without echo; confirm asks twice (for a new key).
func readPassphrase(stderr io.Writer, prompt string, confirm bool) (string, error) {
	if p, ok := os.LookupEnv(envPassphrase); ok {
		return p, nil
	}
	if !term.IsTerminal(stdinFd) {
		return "", errNoTerminal
	}
	p, err := askHidden(stderr, prompt+": ")
	if err != nil || !confirm {
		return p, err
	}
	again, err := askHidden(stderr, "Repeat the passphrase: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", errors.New("the passphrases do not match")
	}
	return p, nil
}

// askHidden reads one line from the terminal with echo off, restoring the
// terminal if the user interrupts.
func askHidden(stderr io.Writer, prompt string) (string, error) {
	state, err := term.GetState(stdinFd)
	if err != nil {
		return "", fmt.Errorf("reading the passphrase: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	done := make(chan struct{})
	defer func() { signal.Stop(sig); close(done) }()
	go func() {
		select {
		case <-sig:
			_ = term.Restore(stdinFd, state)
			fmt.Fprintln(stderr)
			os.Exit(130)
		case <-done:
		}
	}()
	fmt.Fprint(stderr, prompt)
	b, err := term.ReadPassword(stdinFd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the passphrase: %w", err)
	}
	return string(b), nil
}

// newPassphrase asks for the passphrase of a key being created.
func newPassphrase(stderr io.Writer, name string) (string, error) {
	p, err := readPassphrase(stderr, fmt.Sprintf("New passphrase for key %s", name), true)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", errors.New("the passphrase is empty: a key file is only as safe as its passphrase")
	}
	return p, nil
}

// unlockKey asks for name's passphrase and decrypts it; on a terminal it
// allows three tries.
func unlockKey(ks *keystore.Keystore, name string, stderr io.Writer) (ed25519.PrivateKey, error) {
	var priv ed25519.PrivateKey
	err := withPassphrase(name, stderr, func(p string) (err error) {
		priv, err = ks.Unlock(name, p)
		return err
	})
	return priv, err
}

// withPassphrase asks for name's passphrase and runs use with it; on a
// terminal a wrong passphrase is asked again, three tries in all.
func withPassphrase(name string, stderr io.Writer, use func(passphrase string) error) error {
	_, fromEnv := os.LookupEnv(envPassphrase)
	for try := 1; ; try++ {
		p, err := readPassphrase(stderr, fmt.Sprintf("Passphrase for key %s", name), false)
		if err != nil {
			return err
		}
		err = use(p)
		if err == nil || !errors.Is(err, keystore.ErrWrongPassphrase) || fromEnv || try == 3 {
			return err
		}
		fmt.Fprintln(stderr, "wrong passphrase, try again")
	}
}

// signHashSig asks for name's passphrase and signs t with the hash-based
// key at its next one-time index (three tries on a terminal). A wrong
// passphrase spends no index.
func signHashSig(ks *keystore.Keystore, name string, t *tx.Tx, stderr io.Writer) error {
	info, err := ks.Show(name)
	if err != nil {
		return err
	}
	pub, err := hashsig.ParsePublicKey(info.PublicKey)
	if err != nil {
		return err
	}
	return withPassphrase(name, stderr, func(p string) error {
		return t.SignHashSig(pub, func(m hash.Digest) (*hashsig.Signature, error) {
			sig, _, err := ks.SignHashSig(name, p, m)
			return sig, err
		})
	})
}

// resolveAddress reads an address ("0x" and 64 hex digits), the name of a
// key in the keystore, or "treasury" or "escrow".
func resolveAddress(home, s string) (account.Address, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(h) != len(s) || len(h) == 2*account.AddressSize {
		return account.ParseAddress(s)
	}
	if keystore.CheckName(s) != nil {
		return account.Address{}, fmt.Errorf("%q is neither an address (0x and 64 hex digits) nor a key name", s)
	}
	ks, err := openKeystore(home)
	if err != nil {
		return account.Address{}, err
	}
	info, err := ks.Show(s)
	if err != nil {
		// The system accounts answer to their names when no key has them.
		if a, ok := systemAccounts[s]; ok {
			return a, nil
		}
		return account.Address{}, err
	}
	return info.Address, nil
}

// systemAccounts are the ledger's own accounts by name.
var systemAccounts = map[string]account.Address{"treasury": account.TreasuryAddress, "escrow": account.EscrowAddress}

func cmdKeys(args []string, stdout, stderr io.Writer) int {
	sub := map[string]func([]string, io.Writer, io.Writer) int{"new": keysNew, "list": keysList, "show": keysShow, "import": keysImport,
		"hashsig-skip": keysHashSigSkip, "encrypt-node": keysNodeCrypt(true), "decrypt-node": keysNodeCrypt(false)}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprint(stderr, `Usage:
  trellis keys new NAME [-home DIR] [-scheme S]     create a key (asks for a passphrase twice);
                                                    -scheme hashsig: a hash-based key (docs/signatures.md)
  trellis keys list [-home DIR] [-json]             list the keys
  trellis keys show NAME [-home DIR] [-json]        print a key's address and public key
  trellis keys import NAME -file FILE [-home DIR]   import an ed25519 private key
  trellis keys hashsig-skip NAME -to N              move a restored hash-based key past index N-1
  trellis keys encrypt-node -dir KEYDIR             encrypt a node's key files at rest
  trellis keys decrypt-node -dir KEYDIR             write them back in plaintext

Keys are stored encrypted in DIR/keys (DIR: -home, else $TRELLIS_HOME, else ~/.trellis).
The passphrase is read from $TRELLIS_PASSPHRASE if set, else asked on the terminal.
A node's own key files (encrypt-node) use $TRELLIS_KEY_PASSPHRASE, which 'trellis run' reads.
Run 'trellis keys <command> -h' for examples.
`)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	return sub[args[0]](args[1:], stdout, stderr)
}

// walletFlags returns a flag set whose usage ends with an example.
func walletFlags(name, usageLine, example string, stderr io.Writer) *flag.FlagSet {
	fs := newFlags(name, usageLine, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: trellis %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExample:\n%s\n", example)
	}
	return fs
}

// oneName parses flags around exactly one positional NAME.
func oneName(fs *flag.FlagSet, args []string) (string, int, bool) {
	pos, extra, code, ok := parseMixed(fs, args)
	if !ok {
		return "", code, false
	}
	if len(pos) != 1 || len(extra) > 0 {
		fs.Usage()
		return "", 2, false
	}
	return pos[0], 0, true
}

func keysNew(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("keys new", "keys new NAME [-home DIR] [-scheme ed25519|hashsig] [-lifetime H]",
		"  trellis keys new alice\n  TRELLIS_PASSPHRASE=... trellis keys new -home ./wallet bot-1   # from a script\n"+
			"  trellis keys new carol -scheme hashsig   # 65,536 one-time signatures, each index used once", stderr)
	home := homeFlag(fs)
	scheme := fs.String("scheme", keystore.SchemeEd25519, "signature scheme: ed25519, or hashsig (hash-based, stateful; docs/signatures.md)")
	lifetime := fs.Int("lifetime", hashsig.DefaultLogLifetime, fmt.Sprintf("hashsig only: the key signs 2^H times (H from %d to %d)", hashsig.MinLogLifetime, hashsig.MaxLogLifetime))
	name, code, ok := oneName(fs, args)
	if !ok {
		return code
	}
	if err := keystore.CheckName(name); err != nil {
		return walletError(stderr, "%v", err)
	}
	ks, err := openKeystore(*home)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	if _, err := ks.Show(name); err == nil {
		return walletError(stderr, "%v: %q in %s", keystore.ErrExists, name, ks.Dir())
	}
	if *scheme != keystore.SchemeEd25519 && *scheme != keystore.SchemeHashSig {
		return walletError(stderr, "-scheme %q: want %s or %s", *scheme, keystore.SchemeEd25519, keystore.SchemeHashSig)
	}
	if *scheme == keystore.SchemeHashSig && (*lifetime < hashsig.MinLogLifetime || *lifetime > hashsig.MaxLogLifetime) {
		return walletError(stderr, "-lifetime %d: want %d to %d", *lifetime, hashsig.MinLogLifetime, hashsig.MaxLogLifetime)
	}
	pass, err := newPassphrase(stderr, name)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	var info keystore.Info
	if *scheme == keystore.SchemeHashSig {
		fmt.Fprintf(stderr, "deriving %d one-time keys (seconds at the default lifetime)...\n", 1<<*lifetime)
		info, err = ks.NewHashSig(name, pass, *lifetime)
	} else {
		info, err = ks.New(name, pass)
	}
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "created key %s\n", name)
	printKey(stdout, info)
	if info.Scheme == keystore.SchemeHashSig {
		printHashSigState(stdout, ks, info.Name)
		fmt.Fprintln(stdout, "Back up the key file and its passphrase: neither can be recovered. A restored hash-based key")
		fmt.Fprintln(stdout, "signs only after 'trellis keys hashsig-skip' moves it past every index it used since the backup.")
		return 0
	}
	fmt.Fprintln(stdout, "Back up the key file and its passphrase: neither can be recovered.")
	return 0
}

// printHashSigState prints how many one-time signatures a hash-based key
// has left.
func printHashSigState(w io.Writer, ks *keystore.Keystore, name string) {
	st, err := ks.HashSigState(name)
	if err != nil {
		fmt.Fprintf(w, "state:      %v\n", err)
		return
	}
	fmt.Fprintf(w, "signatures: %d used, %d left (next one-time index %d)\n", st.Next, st.Lifetime-st.Next, st.Next)
}

func keysHashSigSkip(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("keys hashsig-skip", "keys hashsig-skip NAME -to N [-home DIR]",
		"  trellis keys hashsig-skip carol -to 1200   # after a restore: past every index used since the backup", stderr)
	home := homeFlag(fs)
	to := fs.Uint64("to", 0, "the next one-time index the key may sign with (forward only)")
	name, code, ok := oneName(fs, args)
	if !ok {
		return code
	}
	ks, err := openKeystore(*home)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	if err := ks.SkipHashSig(name, *to); err != nil {
		return walletError(stderr, "%v", err)
	}
	printHashSigState(stdout, ks, name)
	return 0
}

func printKey(w io.Writer, info keystore.Info) {
	fmt.Fprintf(w, "name:       %s\naddress:    %s\nscheme:     %s\npublic key: 0x%s\nfile:       %s\n",
		info.Name, info.Address, info.Scheme, hex.EncodeToString(info.PublicKey), info.Path)
}

// keyJSON is a key as -json prints it.
type keyJSON struct {
	Name      string          `json:"name"`
	Address   account.Address `json:"address"`
	Scheme    string          `json:"scheme"`
	PublicKey string          `json:"publicKey"`
	File      string          `json:"file"`
}

func toKeyJSON(i keystore.Info) keyJSON {
	return keyJSON{Name: i.Name, Address: i.Address, Scheme: i.Scheme, PublicKey: "0x" + hex.EncodeToString(i.PublicKey), File: i.Path}
}

func printJSON(w io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(w, "error: %v\n", err)
		return 1
	}
	fmt.Fprintf(w, "%s\n", b)
	return 0
}

func keysList(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("keys list", "keys list [-home DIR] [-json]", "  trellis keys list\n  trellis keys list -home ./wallet -json", stderr)
	home := homeFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, extra, code, ok := parseMixed(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 || len(extra) > 0 {
		fs.Usage()
		return 2
	}
	ks, err := openKeystore(*home)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	infos, lerr := ks.List()
	if *asJSON {
		out := make([]keyJSON, len(infos))
		for i, info := range infos {
			out[i] = toKeyJSON(info)
		}
		printJSON(stdout, out)
	} else if len(infos) == 0 && lerr == nil {
		fmt.Fprintf(stdout, "no keys in %s; create one with: trellis keys new NAME\n", ks.Dir())
	} else if len(infos) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tADDRESS")
		for _, info := range infos {
			fmt.Fprintf(tw, "%s\t%s\n", info.Name, info.Address)
		}
		tw.Flush()
	}
	if lerr != nil {
		return walletError(stderr, "%v", lerr)
	}
	return 0
}

func keysShow(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("keys show", "keys show NAME [-home DIR] [-json]", "  trellis keys show alice", stderr)
	home := homeFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	name, code, ok := oneName(fs, args)
	if !ok {
		return code
	}
	ks, err := openKeystore(*home)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	info, err := ks.Show(name)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	if *asJSON {
		return printJSON(stdout, toKeyJSON(info))
	}
	printKey(stdout, info)
	if info.Scheme == keystore.SchemeHashSig {
		printHashSigState(stdout, ks, name)
	}
	return 0
}

func keysImport(args []string, stdout, stderr io.Writer) int {
	fs := walletFlags("keys import", "keys import NAME -file FILE [-home DIR]",
		"  trellis keys import validator -file ./node/keys/node_key.json\n"+
			"  trellis keys import bob -file bob.hex   # 32-byte seed or 64-byte private key in hex", stderr)
	home := homeFlag(fs)
	file := fs.String("file", "", "`FILE` holding the private key: an ed25519 key file written by 'trellis init', or hex of a 32-byte seed or 64-byte private key; - reads stdin")
	name, code, ok := oneName(fs, args)
	if !ok {
		return code
	}
	if *file == "" {
		fs.Usage()
		return 2
	}
	if err := keystore.CheckName(name); err != nil {
		return walletError(stderr, "%v", err)
	}
	priv, err := readPrivateKey(*file)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	ks, err := openKeystore(*home)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	if _, err := ks.Show(name); err == nil {
		return walletError(stderr, "%v: %q in %s", keystore.ErrExists, name, ks.Dir())
	}
	pass, err := newPassphrase(stderr, name)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	info, err := ks.Import(name, priv, pass)
	if err != nil {
		return walletError(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "imported key %s\n", name)
	printKey(stdout, info)
	fmt.Fprintf(stdout, "The key is now stored encrypted; delete %s once you no longer need it in clear.\n", *file)
	return 0
}

// readPrivateKey reads an ed25519 private key from a `trellis init` key
// file ({"type":"ed25519","private_key": hex seed}) or from hex text.
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(bufio.NewReader(os.Stdin), 64<<10))
		path = "stdin"
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(string(data))
	if strings.HasPrefix(text, "{") {
		var kf struct {
			Type       string `json:"type"`
			PrivateKey string `json:"private_key"`
		}
		if err := json.Unmarshal([]byte(text), &kf); err != nil {
			return nil, fmt.Errorf("%s: not a key file: %v", path, err)
		}
		if kf.Type != "ed25519" {
			return nil, fmt.Errorf("%s holds a %q key; only ed25519 account keys can be imported", path, kf.Type)
		}
		text = kf.PrivateKey
	}
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(text, "0x"), "0X"))
	if err != nil {
		return nil, fmt.Errorf("%s: the private key is not hex: %v", path, err)
	}
	defer clear(b)
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !priv.Equal(ed25519.PrivateKey(b)) {
			return nil, fmt.Errorf("%s: the private key's public half does not match its seed", path)
		}
		return priv, nil
	}
	return nil, fmt.Errorf("%s: the private key is %d bytes, want a %d-byte seed or a %d-byte key", path, len(b), ed25519.SeedSize, ed25519.PrivateKeySize)
}
