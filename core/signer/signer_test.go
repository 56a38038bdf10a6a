package signer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-chain/trellis/protocol/leader"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
)

const chain = "trellis-test"

func blsKey(t testing.TB, b byte) *bls.SecretKey {
	t.Helper()
	seed := bytes.Repeat([]byte{b}, bls.SecretKeySize)
	seed[0] = 0x01 // below the group order
	sk, err := bls.SecretKeyFromBytes(seed)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func nodeKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// node is a signer over a real bbolt file that a test can close and
// reopen, as a restarted node would.
type node struct {
	t    *testing.T
	path string
	db   *store.DB
	s    *Signer
}

func newNode(t *testing.T) *node {
	n := &node{t: t, path: filepath.Join(t.TempDir(), "node.db")}
	n.open()
	t.Cleanup(func() { n.db.Close() })
	return n
}

func (n *node) open() {
	n.t.Helper()
	db, err := store.Open(n.path, store.Options{})
	if err != nil {
		n.t.Fatal(err)
	}
	s, err := New(db, blsKey(n.t, 7), nodeKey(3))
	if err != nil {
		db.Close()
		n.t.Fatal(err)
	}
	n.db, n.s = db, s
}

func (n *node) reopen() {
	n.t.Helper()
	if err := n.db.Close(); err != nil {
		n.t.Fatal(err)
	}
	n.open()
}

func hash(b byte) []byte { return bytes.Repeat([]byte{b}, vote.HashSize) }

func msg(h uint64, r uint32, s vote.Step, block byte) vote.Message {
	m := vote.Message{ChainID: chain, Height: h, Round: r, Step: s}
	if block != 0 {
		m.BlockHash = hash(block)
	}
	return m
}

// TestSignConsensus runs one signer through a sequence of requests; each
// expects a signature (equal to an earlier step's when same is set) or an
// error.
func TestSignConsensus(t *testing.T) {
	n := newNode(t)
	pk := blsKey(t, 7).PublicKey()
	steps := []struct {
		name string
		m    vote.Message
		err  error
		same int // 1-based index of an earlier step with the same signature
	}{
		{name: "first prevote", m: msg(5, 0, vote.StepPrevote, 1)},
		{name: "same prevote again", m: msg(5, 0, vote.StepPrevote, 1), same: 1},
		{name: "prevote for another block", m: msg(5, 0, vote.StepPrevote, 2), err: ErrConflict},
		{name: "nil prevote at the same slot", m: msg(5, 0, vote.StepPrevote, 0), err: ErrConflict},
		{name: "same prevote with extra", m: func() vote.Message { m := msg(5, 0, vote.StepPrevote, 1); m.Extra = []byte{1}; return m }(), err: ErrConflict},
		{name: "proposal, a lower step", m: msg(5, 0, vote.StepProposal, 1), err: ErrRegression},
		{name: "lower height", m: msg(4, 9, vote.StepPrecommit, 1), err: ErrRegression},
		{name: "precommit", m: msg(5, 0, vote.StepPrecommit, 1)},
		{name: "the first prevote again, now below", m: msg(5, 0, vote.StepPrevote, 1), err: ErrRegression},
		{name: "nil prevote next round", m: msg(5, 1, vote.StepPrevote, 0)},
		{name: "lower round", m: msg(5, 0, vote.StepPrecommit, 1), err: ErrRegression},
		{name: "next height proposal", m: msg(6, 0, vote.StepProposal, 3)},
		{name: "other chain is separate", m: func() vote.Message { m := msg(1, 0, vote.StepPrevote, 1); m.ChainID = "other"; return m }()},
		{name: "this chain still at height 6", m: msg(6, 0, vote.StepProposal, 4), err: ErrConflict},
		{name: "invalid: no chain id", m: vote.Message{Height: 9, Step: vote.StepPrevote}, err: ErrInvalid},
		{name: "invalid: step 4", m: vote.Message{ChainID: chain, Height: 9, Step: 4}, err: ErrInvalid},
		{name: "invalid: proposal without block", m: msg(9, 0, vote.StepProposal, 0), err: ErrInvalid},
		{name: "invalid: extra too long", m: func() vote.Message {
			m := msg(9, 0, vote.StepPrevote, 1)
			m.Extra = make([]byte, vote.MaxExtra+1)
			return m
		}(), err: ErrInvalid},
	}
	sigs := make([][bls.SignatureSize]byte, len(steps))
	for i, st := range steps {
		sig, sb, err := n.s.SignConsensus(st.m)
		if st.err != nil {
			if !errors.Is(err, st.err) {
				t.Fatalf("step %d (%s): error %v, want %v", i+1, st.name, err, st.err)
			}
			if sig != ([bls.SignatureSize]byte{}) || sb != nil {
				t.Fatalf("step %d (%s): a refusal returned a signature", i+1, st.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", i+1, st.name, err)
		}
		if !bytes.Equal(sb, st.m.SignBytes()) {
			t.Fatalf("step %d (%s): returned sign bytes are not the message's", i+1, st.name)
		}
		s, err := bls.SignatureFromBytes(sig[:])
		if err != nil || bls.Verify(pk, sb, s) != nil {
			t.Fatalf("step %d (%s): signature does not verify: %v", i+1, st.name, err)
		}
		if st.same != 0 && sig != sigs[st.same-1] {
			t.Fatalf("step %d (%s): signature differs from step %d's", i+1, st.name, st.same)
		}
		sigs[i] = sig
	}
	if last, ok, err := n.s.Last(chain); err != nil || !ok || last != (Slot{6, 0, vote.StepProposal}) {
		t.Fatalf("Last = %v %v %v", last, ok, err)
	}
}

func TestConflictErrorNamesTheSlot(t *testing.T) {
	n := newNode(t)
	if _, _, err := n.s.SignConsensus(msg(12, 3, vote.StepPrecommit, 1)); err != nil {
		t.Fatal(err)
	}
	_, _, err := n.s.SignConsensus(msg(12, 3, vote.StepPrecommit, 2))
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Slot != (Slot{12, 3, vote.StepPrecommit}) || ce.ChainID != chain {
		t.Fatalf("error %v, want a ConflictError at 12/3/precommit", err)
	}
	for _, part := range []string{"height 12", "round 3", "precommit"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%q does not say %q", err, part)
		}
	}
	_, _, err = n.s.SignConsensus(msg(11, 0, vote.StepPrevote, 2))
	var re *RegressionError
	if !errors.As(err, &re) || re.Last != (Slot{12, 3, vote.StepPrecommit}) || !strings.Contains(err.Error(), "height 11") {
		t.Fatalf("error %v, want a RegressionError below 12/3/precommit", err)
	}
}

// Protection survives a restart: the record is on disk before the
// signature is returned.
func TestProtectionAfterRestart(t *testing.T) {
	n := newNode(t)
	first := msg(20, 1, vote.StepPrevote, 1)
	sig, _, err := n.s.SignConsensus(first)
	if err != nil {
		t.Fatal(err)
	}
	n.reopen()
	for _, c := range []struct {
		name string
		m    vote.Message
		err  error
	}{
		{"conflicting prevote", msg(20, 1, vote.StepPrevote, 2), ErrConflict},
		{"lower round", msg(20, 0, vote.StepPrecommit, 1), ErrRegression},
		{"same prevote", first, nil},
	} {
		got, _, err := n.s.SignConsensus(c.m)
		if !errors.Is(err, c.err) {
			t.Fatalf("%s after a restart: %v, want %v", c.name, err, c.err)
		}
		if c.err == nil && got != sig {
			t.Fatalf("%s after a restart: another signature", c.name)
		}
	}
	// A new BLS key on the same database starts its own record.
	s2, err := New(n.db, blsKey(t, 9), nodeKey(3))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s2.SignConsensus(msg(1, 0, vote.StepPrevote, 1)); err != nil {
		t.Fatalf("another key: %v", err)
	}
}

// A record that cannot be read is an error, at open and when signing; it
// is left as it is.
func TestCorruptRecord(t *testing.T) {
	n := newNode(t)
	good := msg(30, 0, vote.StepPrevote, 1)
	if _, _, err := n.s.SignConsensus(good); err != nil {
		t.Fatal(err)
	}
	key := n.s.recordKey(chain)
	ns, err := n.db.Namespace(Namespace)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := ns.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), orig...)) }
	other := msg(31, 0, vote.StepPrevote, 1)
	cases := []struct {
		name    string
		value   []byte
		atOpen  bool // structural damage is found when the signer opens
		message string
	}{
		{"empty", []byte{}, true, "shorter than any record"},
		{"garbage", bytes.Repeat([]byte("garbage!"), 20), true, "version 103"},
		{"version 2", edit(func(b []byte) []byte { b[0] = 2; return b }), true, "version 2"},
		{"truncated", orig[:len(orig)-1], true, "truncated"},
		{"header only", orig[:recordHeader], true, "not a message"},
		{"step 0", edit(func(b []byte) []byte { b[13] = 0; return b }), true, "step 0"},
		{"height differs from the sign bytes", edit(func(b []byte) []byte { b[8]++; return b }), true, "not a message"},
		{"sign bytes of another chain", append(orig[:recordHeader:recordHeader], func() []byte { m := good; m.ChainID = "other"; return m.SignBytes() }()...), true, "not a message"},
		{"trailing byte", append(append([]byte(nil), orig...), 0), true, "not a valid message"},
		{"flipped signature", edit(func(b []byte) []byte { b[20] ^= 1; return b }), false, "not this key's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := ns.Put(key, c.value); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ns.Put(key, orig) })
			_, err := New(n.db, blsKey(t, 7), nodeKey(3))
			if c.atOpen != (err != nil) {
				t.Fatalf("open: %v (expected failure: %v)", err, c.atOpen)
			}
			if err != nil && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.message) || !strings.Contains(err.Error(), Namespace)) {
				t.Fatalf("open: %v, want ErrCorrupt saying %q and naming the record", err, c.message)
			}
			for _, m := range []vote.Message{good, other} {
				_, _, err := n.s.SignConsensus(m)
				if c.atOpen || m.Height == good.Height {
					if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.message) {
						t.Fatalf("sign %d: %v, want ErrCorrupt saying %q", m.Height, err, c.message)
					}
				}
				if v, _ := ns.Get(key); !bytes.Equal(v, c.value) && c.atOpen {
					t.Fatal("the damaged record was overwritten")
				}
			}
		})
	}
	// A key the signer never writes is damage too.
	if err := ns.Put([]byte("stray"), []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(n.db, blsKey(t, 7), nodeKey(3)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "stray") {
		t.Fatalf("stray key: %v", err)
	}
}

// Concurrent requests for one slot with different blocks: exactly one
// block gets signed, however many goroutines ask.
func TestConcurrentConflicts(t *testing.T) {
	n := newNode(t)
	const workers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	signed := map[string]int{}
	conflicts := 0
	for w := range workers {
		wg.Go(func() {
			for i := range 3 {
				_, sb, err := n.s.SignConsensus(msg(40, 0, vote.StepPrecommit, byte(1+(w+i)%4)))
				mu.Lock()
				switch {
				case err == nil:
					signed[string(sb)]++
				case errors.Is(err, ErrConflict):
					conflicts++
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(signed) != 1 {
		t.Fatalf("%d different messages signed for one slot", len(signed))
	}
	for _, k := range signed {
		if k+conflicts != workers*3 {
			t.Fatalf("%d signed + %d conflicts of %d requests", k, conflicts, workers*3)
		}
	}
}

func TestLeaderProof(t *testing.T) {
	n := newNode(t)
	pk := blsKey(t, 7).PublicKey()
	seed := hash(5)
	a, err := n.s.SignLeaderProof(seed, 77)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := n.s.SignLeaderProof(seed, 77)
	c, _ := n.s.SignLeaderProof(seed, 78)
	d, _ := n.s.SignLeaderProof(hash(6), 77)
	if a != b || a == c || a == d || c == d {
		t.Fatal("leader proofs are not a deterministic function of (seed, slot)")
	}
	msg, _ := LeaderMessage(seed, 77)
	sig, _ := bls.SignatureFromBytes(a[:])
	if err := bls.Verify(pk, msg, sig); err != nil {
		t.Fatal(err)
	}
	// The lottery accepts what the host signs.
	if out, err := leader.Verify(pk, seed, 77, sig); err != nil || out != leader.OutputOf(sig) {
		t.Fatalf("protocol/leader refuses the host's proof: %v", err)
	}
	// A leader proof is never a consensus signature.
	if bytes.HasPrefix(msg, []byte(vote.Domain)) {
		t.Fatal("leader message shares the consensus domain")
	}
	if _, err := n.s.SignLeaderProof(make([]byte, MaxSeedLen+1), 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("long seed: %v", err)
	}
	if _, err := n.s.SignLeaderProof(nil, 1); err != nil {
		t.Fatalf("empty seed: %v", err)
	}
}

func TestPublicKeysAndTx(t *testing.T) {
	n := newNode(t)
	k := n.s.PublicKeys()
	pub := nodeKey(3).Public().(ed25519.PublicKey)
	if !k.Ed25519.Equal(pub) || k.Address != account.FromPublicKey(pub) {
		t.Fatal("ed25519 key or address wrong")
	}
	blsPub := blsKey(t, 7).PublicKey()
	if k.BLSPublicKey != blsPub.Bytes() {
		t.Fatal("BLS public key wrong")
	}
	pop, err := bls.SignatureFromBytes(k.ProofOfPossession[:])
	if err != nil || bls.VerifyProofOfPossession(blsPub, pop) != nil {
		t.Fatalf("proof of possession does not verify: %v", err)
	}
	tr := &tx.Tx{ChainID: chain, GasLimit: tx.GasTransfer, Body: tx.Transfer{To: k.Address, Amount: 1}}
	n.s.SignTx(tr)
	if tr.Sender() != k.Address || tr.CheckStateless(chain) != nil {
		t.Fatal("SignTx did not sign as the node's account")
	}
}

func TestNew(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "n.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := New(db, nil, nodeKey(1)); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("no BLS key: %v", err)
	}
	if _, err := New(db, blsKey(t, 1), nil); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("no node key: %v", err)
	}
}

// FuzzDecodeRecord: decoding never panics, and what it accepts is what
// encode writes.
func FuzzDecodeRecord(f *testing.F) {
	for _, m := range []vote.Message{msg(1, 0, vote.StepPrevote, 0), msg(9, 2, vote.StepProposal, 3)} {
		r := record{slot: slotOf(&m), signBytes: m.SignBytes()}
		f.Add(r.encode())
	}
	m := msg(3, 1, vote.StepPrecommit, 1)
	m.Extra = []byte{1, 2, 3}
	f.Add((&record{slot: slotOf(&m), signBytes: m.SignBytes()}).encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b, chain)
		if err != nil {
			return
		}
		if !bytes.Equal(r.encode(), b) {
			t.Fatal("decode then encode changed the record")
		}
	})
}
