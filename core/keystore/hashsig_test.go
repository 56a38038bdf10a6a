package keystore

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/hashsig"
)

const hsPass = "one-time"

func digestOf(n int) hash.Digest {
	return hash.Hash([]fr.Element{fr.NewElement(uint64(n))})
}

// signN signs n messages with key name and returns the indices used.
func signN(t *testing.T, ks *Keystore, name string, n int) []uint32 {
	t.Helper()
	var out []uint32
	for i := range n {
		m := digestOf(i)
		sig, pub, err := ks.SignHashSig(name, hsPass, m)
		if err != nil {
			t.Fatal(err)
		}
		if err := hashsig.Verify(pub, m, sig); err != nil {
			t.Fatal(err)
		}
		out = append(out, sig.Index)
	}
	return out
}

func TestHashSigKey(t *testing.T) {
	ks := open(t)
	info, err := ks.NewHashSig("pq", hsPass, 4)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := hashsig.ParsePublicKey(info.PublicKey)
	if err != nil || info.Scheme != SchemeHashSig || info.Address != pub.Address() {
		t.Fatalf("info %+v: %v", info, err)
	}
	if list, err := ks.List(); err != nil || len(list) != 1 || list[0].Scheme != SchemeHashSig {
		t.Fatalf("list %+v: %v", list, err)
	}
	if got := signN(t, ks, "pq", 3); fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("indices %v", got)
	}
	if st, err := ks.HashSigState("pq"); err != nil || st.Next != 3 || st.Lifetime != 16 {
		t.Fatalf("state %+v: %v", st, err)
	}
	// The scheme is kept apart both ways.
	if _, err := ks.Unlock("pq", hsPass); !errors.Is(err, ErrScheme) {
		t.Fatalf("unlock a hash-based key: %v", err)
	}
	if _, err := ks.New("ed", hsPass); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.SignHashSig("ed", hsPass, digestOf(0)); !errors.Is(err, ErrScheme) {
		t.Fatalf("hash-sign with an ed25519 key: %v", err)
	}
	// A wrong passphrase signs nothing and spends nothing.
	if _, _, err := ks.SignHashSig("pq", "wrong", digestOf(0)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if st, _ := ks.HashSigState("pq"); st.Next != 3 {
		t.Fatalf("a failed unlock moved the state to %d", st.Next)
	}
	// The key runs out and says so.
	signN(t, ks, "pq", 13)
	if _, _, err := ks.SignHashSig("pq", hsPass, digestOf(0)); !errors.Is(err, ErrExhausted) {
		t.Fatalf("exhausted: %v", err)
	}
}

// TestHashSigCrashSkipsNeverReuses: a crash after the index is recorded
// and before the signature is made costs that index; the next signature
// takes the one after.
func TestHashSigCrashSkipsNeverReuses(t *testing.T) {
	ks := open(t)
	if _, err := ks.NewHashSig("pq", hsPass, 4); err != nil {
		t.Fatal(err)
	}
	signN(t, ks, "pq", 2)
	afterReserve = func() error { return errors.New("simulated crash") }
	_, _, err := ks.SignHashSig("pq", hsPass, digestOf(9))
	afterReserve = nil
	if err == nil {
		t.Fatal("the failpoint did not fire")
	}
	if got := signN(t, ks, "pq", 1); got[0] != 3 {
		t.Fatalf("after a crash at index 2 the key signed at %d", got[0])
	}
}

// TestHashSigState: a key without its state, or with another key's, does
// not sign; the state moves only forward.
func TestHashSigState(t *testing.T) {
	ks := open(t)
	for _, n := range []string{"a", "b"} {
		if _, err := ks.NewHashSig(n, hsPass, 4); err != nil {
			t.Fatal(err)
		}
	}
	signN(t, ks, "a", 2)
	stateA := filepath.Join(ks.Dir(), "a.state")
	if err := os.Remove(stateA); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.SignHashSig("a", hsPass, digestOf(0)); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "hashsig-skip") {
		t.Fatalf("missing state: %v", err)
	}
	if err := ks.SkipHashSig("a", 5); err != nil {
		t.Fatal(err)
	}
	if got := signN(t, ks, "a", 1); got[0] != 5 {
		t.Fatalf("after skipping to 5 the key signed at %d", got[0])
	}
	if err := ks.SkipHashSig("a", 4); !errors.Is(err, ErrState) {
		t.Fatalf("backward skip: %v", err)
	}
	if err := ks.SkipHashSig("a", 17); !errors.Is(err, ErrState) {
		t.Fatalf("skip beyond the lifetime: %v", err)
	}
	// b's state copied over a's: refused, a's key is not b's.
	data, err := os.ReadFile(filepath.Join(ks.Dir(), "b.state"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateA, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.SignHashSig("a", hsPass, digestOf(0)); !errors.Is(err, ErrState) {
		t.Fatalf("another key's state: %v", err)
	}
	// A damaged tree cache is reported, not signed from.
	tree := filepath.Join(ks.Dir(), "b.tree")
	if err := os.WriteFile(tree, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.SignHashSig("b", hsPass, digestOf(0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged tree cache: %v", err)
	}
}

// TestHashSigConcurrentSigners: goroutines of this process and another
// process signing with one key never get the same index.
func TestHashSigConcurrentSigners(t *testing.T) {
	ks := open(t)
	if _, err := ks.NewHashSig("pq", hsPass, 6); err != nil {
		t.Fatal(err)
	}
	const perSigner = 6
	child := exec.Command(os.Args[0], "-test.run=^TestHashSigHelperProcess$")
	child.Env = append(os.Environ(), "KEYSTORE_HELPER_DIR="+ks.Dir(), "KEYSTORE_HELPER_N="+strconv.Itoa(perSigner))
	out := make(chan []byte, 1)
	go func() {
		b, err := child.CombinedOutput()
		if err != nil {
			b = append(b, []byte("\nhelper: "+err.Error())...)
		}
		out <- b
	}()
	var mu sync.Mutex
	var got []uint32
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perSigner {
				sig, _, err := ks.SignHashSig("pq", hsPass, digestOf(1))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, sig.Index)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	helper := string(<-out)
	for _, f := range strings.Fields(helper) {
		if v, ok := strings.CutPrefix(f, "index="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, uint32(n))
		}
	}
	if len(got) != 4*perSigner {
		t.Fatalf("%d signatures, want %d; helper said:\n%s", len(got), 4*perSigner, helper)
	}
	seen := map[uint32]bool{}
	for _, i := range got {
		if seen[i] {
			t.Fatalf("index %d used twice", i)
		}
		seen[i] = true
	}
}

// TestHashSigHelperProcess is the other process of
// TestHashSigConcurrentSigners; it does nothing unless run by it.
func TestHashSigHelperProcess(t *testing.T) {
	dir := os.Getenv("KEYSTORE_HELPER_DIR")
	if dir == "" {
		t.Skip("run by TestHashSigConcurrentSigners")
	}
	n, _ := strconv.Atoi(os.Getenv("KEYSTORE_HELPER_N"))
	ks, err := Open(dir, WithScrypt(light))
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		sig, _, err := ks.SignHashSig("pq", hsPass, digestOf(2))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("index=%d\n", sig.Index)
	}
}
