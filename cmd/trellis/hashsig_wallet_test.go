package main

import (
	"strings"
	"testing"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// TestTxHashSig: a hash-based key made by 'keys new -scheme hashsig' signs
// transfers at successive one-time indices, pays the extra gas, and a
// restored key is moved forward with 'keys hashsig-skip'.
func TestTxHashSig(t *testing.T) {
	f, url, home, _, bob := walletNode(t, false)
	out, errOut, code := cli(t, "keys", "new", "carol", "-scheme", "hashsig", "-lifetime", "4", "-home", home)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"scheme:     hashsig", "signatures: 0 used, 16 left", "hashsig-skip"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "deriving 16 one-time keys") {
		t.Errorf("no progress line on stderr:\n%s", errOut)
	}
	m := addrRE.FindStringSubmatch(out)
	carol, err := account.ParseAddress(m[1])
	if err != nil {
		t.Fatal(err)
	}
	f.fund(carol, 1_000_000_000)
	for i := range 2 {
		mustCLI(t, "tx", "transfer", "-from", "carol", "-to", bob.String(), "-amount", "5", "-node", url, "-home", home)
		sent := f.last()
		if sent.HashSig == nil || sent.HashSig.Signature.Index != uint32(i) || sent.Sender() != carol ||
			sent.GasLimit != tx.GasTransfer+tx.GasHashSig || sent.Encode()[0] != tx.VersionHashSig {
			t.Fatalf("transfer %d: %+v", i, sent)
		}
	}
	if out := mustCLI(t, "keys", "show", "carol", "-home", home); !strings.Contains(out, "signatures: 2 used, 14 left") {
		t.Errorf("show:\n%s", out)
	}
	// A wrong passphrase spends no index.
	t.Setenv(envPassphrase, "wrong")
	if _, errOut, code := cli(t, "tx", "transfer", "-from", "carol", "-to", bob.String(), "-amount", "5", "-node", url, "-home", home); code == 0 || !strings.Contains(errOut, "wrong passphrase") {
		t.Fatalf("wrong passphrase: exit %d, %s", code, errOut)
	}
	t.Setenv(envPassphrase, testPassphrase)
	// After a restore: forward only.
	if _, errOut, code := cli(t, "keys", "hashsig-skip", "carol", "-to", "1", "-home", home); code == 0 || !strings.Contains(errOut, "never moves back") {
		t.Fatalf("backward skip: exit %d, %s", code, errOut)
	}
	if out := mustCLI(t, "keys", "hashsig-skip", "carol", "-to", "9", "-home", home); !strings.Contains(out, "signatures: 9 used, 7 left") {
		t.Errorf("skip:\n%s", out)
	}
	mustCLI(t, "tx", "transfer", "-from", "carol", "-to", bob.String(), "-amount", "5", "-node", url, "-home", home)
	if idx := f.last().HashSig.Signature.Index; idx != 9 {
		t.Fatalf("after the skip the key signed at %d", idx)
	}
	// Bad flags.
	if _, errOut, code := cli(t, "keys", "new", "dave", "-scheme", "rsa", "-home", home); code == 0 || !strings.Contains(errOut, "-scheme") {
		t.Fatalf("bad scheme: exit %d, %s", code, errOut)
	}
	if _, errOut, code := cli(t, "keys", "new", "dave", "-scheme", "hashsig", "-lifetime", "30", "-home", home); code == 0 || !strings.Contains(errOut, "-lifetime") {
		t.Fatalf("bad lifetime: exit %d, %s", code, errOut)
	}
}
