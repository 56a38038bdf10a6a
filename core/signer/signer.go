package signer

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/trellis-chain/trellis/protocol/leader"

	"github.com/trellis-chain/trellis/core/store"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/bls"
	"github.com/trellis-chain/trellis/protocol/tx"
	"github.com/trellis-chain/trellis/protocol/vote"
)

// Namespace is the host-owned store namespace of the protection records.
const Namespace = "host.signer"

// Leader proofs.
const (
	// LeaderDomain prefixes the message of a leader proof, so that it can
	// never be a consensus message or anything else the key signs.
	LeaderDomain = leader.ProofDomain
	// MaxSeedLen bounds an epoch seed.
	MaxSeedLen = leader.MaxSeedLen
)

// Signer holds the validator's BLS key and the node's ed25519 key, and
// signs consensus messages under slashing protection. It is safe for
// concurrent use.
type Signer struct {
	ns   *store.Namespace
	sk   *bls.SecretKey
	node ed25519.PrivateKey
	keys Keys
	// mirror is the state file beside the keys (Open sets it); nil keeps
	// the records in the database alone.
	mirror *mirror
	// mu serialises consensus signing: check, sign and persist are one
	// step.
	mu sync.Mutex
}

// Keys are the public keys a Signer holds.
type Keys struct {
	// Address is the node's account: account.FromPublicKey(Ed25519).
	Address           account.Address
	BLSPublicKey      [bls.PublicKeySize]byte
	ProofOfPossession [bls.SignatureSize]byte
	Ed25519           ed25519.PublicKey
}

// Open loads <keyDir>/validator_bls_key.json and <keyDir>/node_key.json
// and opens the signer's records in db (see New) and in <keyDir>/StateFile:
// each signature is recorded in both before it leaves, and the higher of
// the two records is the one in force, so a database that moved backwards
// (restored from a backup, replaced) cannot make the validator sign below
// what it signed.
func Open(db *store.DB, keyDir string) (*Signer, error) {
	sk, err := LoadBLSKey(filepath.Join(keyDir, BLSKeyFile))
	if err != nil {
		return nil, err
	}
	node, err := LoadNodeKey(filepath.Join(keyDir, NodeKeyFile))
	if err != nil {
		return nil, err
	}
	m, err := openMirror(filepath.Join(keyDir, StateFile))
	if err != nil {
		return nil, err
	}
	s, err := New(db, sk, node)
	if err != nil {
		return nil, err
	}
	s.mirror = m
	return s, nil
}

// New returns a signer of the given keys whose protection records live in
// db's namespace Namespace. It reads every record there first, so a
// damaged record stops the node at start (ErrCorrupt), not at its next
// vote.
func New(db *store.DB, sk *bls.SecretKey, node ed25519.PrivateKey) (*Signer, error) {
	if sk == nil || len(node) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: signer needs a BLS key and a %d-byte ed25519 key", ErrKeyFile, ed25519.PrivateKeySize)
	}
	ns, err := db.Namespace(Namespace)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	pub := node.Public().(ed25519.PublicKey)
	s := &Signer{ns: ns, sk: sk, node: node, keys: Keys{
		Address: account.FromPublicKey(pub), BLSPublicKey: sk.PublicKey().Bytes(),
		ProofOfPossession: bls.ProofOfPossession(sk).Bytes(), Ed25519: pub,
	}}
	if err := s.checkAll(); err != nil {
		return nil, err
	}
	return s, nil
}

// PublicKeys returns the signer's public keys.
func (s *Signer) PublicKeys() Keys { return s.keys }

// SignTx signs t with the node's ed25519 key (its sender is Address).
func (s *Signer) SignTx(t *tx.Tx) { t.Sign(s.node) }

// SignConsensus signs m's sign bytes with the BLS key under slashing
// protection (see the package comment) and returns the signature and the
// bytes signed. Errors: ErrInvalid for a malformed message, a
// *RegressionError, a *ConflictError, ErrCorrupt, or a store error (the
// signature is then not returned: nothing unrecorded leaves the signer).
func (s *Signer) SignConsensus(m vote.Message) ([bls.SignatureSize]byte, []byte, error) {
	var none [bls.SignatureSize]byte
	if err := m.Check(); err != nil {
		return none, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	sb := m.SignBytes()
	slot := slotOf(&m)
	key := s.recordKey(m.ChainID)
	if m.Step == vote.StepBlock {
		key = s.blockRecordKey(m.ChainID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last, found, err := s.load(key, m.ChainID)
	if err != nil {
		return none, nil, err
	}
	if found {
		switch c := slot.Compare(last.slot); {
		case c < 0:
			return none, nil, &RegressionError{ChainID: m.ChainID, Slot: slot, Last: last.slot}
		case c == 0 && !bytes.Equal(sb, last.signBytes):
			return none, nil, &ConflictError{ChainID: m.ChainID, Slot: slot}
		case c == 0:
			sig := bls.Sign(s.sk, sb).Bytes()
			// BLS is deterministic: the stored signature must be what
			// the key gives again, or the record is not ours.
			if sig != last.sig {
				return none, nil, fmt.Errorf("%w: %s: the stored signature of %v is not this key's", ErrCorrupt, keyName(key), slot)
			}
			return last.sig, sb, nil
		}
	}
	sig := bls.Sign(s.sk, sb).Bytes()
	rec := record{slot: slot, sig: sig, signBytes: sb}
	enc := rec.encode()
	if err := s.ns.Put(key, enc); err != nil {
		return none, nil, fmt.Errorf("signer: recording %v before signing: %w", slot, err)
	}
	if s.mirror != nil {
		if err := s.mirror.put(string(key), enc); err != nil {
			return none, nil, fmt.Errorf("signer: recording %v before signing: %w", slot, err)
		}
	}
	return sig, sb, nil
}

// Last returns the highest slot signed on chainID, if any.
func (s *Signer) Last(chainID string) (Slot, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, found, err := s.load(s.recordKey(chainID), chainID)
	return r.slot, found, err
}

// LeaderMessage is what a leader proof signs: LeaderDomain, the seed
// (length-prefixed) and the slot.
// The bytes are protocol/leader's, which the lottery verifies.
func LeaderMessage(seed []byte, slot uint64) ([]byte, error) {
	b, err := leader.ProofMessage(seed, slot)
	if err != nil {
		return nil, fmt.Errorf("%w: epoch seed of %d bytes (limit %d)", ErrInvalid, len(seed), MaxSeedLen)
	}
	return b, nil
}

// SignLeaderProof signs LeaderMessage(seed, slot). BLS signatures are
// deterministic, so the proof is a verifiable random output: the same
// input always gives the same signature. No protection is needed: signing
// it twice reveals nothing and conflicts with nothing.
func (s *Signer) SignLeaderProof(seed []byte, slot uint64) ([bls.SignatureSize]byte, error) {
	msg, err := LeaderMessage(seed, slot)
	if err != nil {
		return [bls.SignatureSize]byte{}, err
	}
	return bls.Sign(s.sk, msg).Bytes(), nil
}

// recordKey is "consensus/<chain id>/<BLS public key hex>": a new key
// starts a fresh record; the chain id keeps chains apart.
func (s *Signer) recordKey(chainID string) []byte {
	return []byte(recordPrefix + chainID + "/" + hex.EncodeToString(s.keys.BLSPublicKey[:]))
}

const recordPrefix = "consensus/"

// blockRecordKey is "consensus-block/<chain id>/<BLS public key hex>", the
// high-water mark of longest-chain block signatures (by slot), kept apart
// from the votes' (by height): a node that moves from one consensus to the
// other on the same chain must not find its slots above its heights. The
// two never conflict: they are different steps, so never the same slot.
func (s *Signer) blockRecordKey(chainID string) []byte {
	return []byte(blockPrefix + chainID + "/" + hex.EncodeToString(s.keys.BLSPublicKey[:]))
}

const blockPrefix = "consensus-block/"

func keyName(key []byte) string { return Namespace + "/" + string(key) }

// load reads the record at key, the higher of the database's and the
// state file's; found is false when neither has one.
func (s *Signer) load(key []byte, chainID string) (record, bool, error) {
	var r record
	found := false
	v, err := s.ns.Get(key)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return record{}, false, fmt.Errorf("signer: %w", err)
	default:
		if r, err = decodeRecord(v, chainID); err != nil {
			return record{}, false, fmt.Errorf("%s: %w", keyName(key), err)
		}
		found = true
	}
	if s.mirror != nil {
		if mv, ok := s.mirror.records[string(key)]; ok {
			mr, err := decodeRecord(mv, chainID)
			if err != nil {
				return record{}, false, fmt.Errorf("signer state %s: %w", s.mirror.path, err)
			}
			if !found || mr.slot.Compare(r.slot) > 0 {
				r, found = mr, true
			}
		}
	}
	return r, found, nil
}

// checkAll decodes every record in the namespace.
func (s *Signer) checkAll() error {
	var after []byte
	for {
		kvs, more, err := s.ns.Scan(nil, after, 1000)
		if err != nil {
			return fmt.Errorf("signer: %w", err)
		}
		for _, kv := range kvs {
			chainID, ok := chainOfKey(kv.Key)
			if !ok {
				return fmt.Errorf("%w: unexpected key %q in %s", ErrCorrupt, kv.Key, Namespace)
			}
			if _, err := decodeRecord(kv.Value, chainID); err != nil {
				return fmt.Errorf("%s: %w", keyName(kv.Key), err)
			}
		}
		if !more || len(kvs) == 0 {
			return nil
		}
		after = kvs[len(kvs)-1].Key
	}
}

// chainOfKey parses a record key.
func chainOfKey(key []byte) (string, bool) {
	const pubHex = 2 * bls.PublicKeySize
	k := string(key)
	rest, ok := strings.CutPrefix(k, blockPrefix)
	if !ok {
		rest, ok = strings.CutPrefix(k, recordPrefix)
	}
	if !ok || len(rest) < 1+1+pubHex || rest[len(rest)-pubHex-1] != '/' {
		return "", false
	}
	if _, err := hex.DecodeString(rest[len(rest)-pubHex:]); err != nil {
		return "", false
	}
	return rest[:len(rest)-pubHex-1], true
}

// record is the last signed consensus message of one chain and key.
//
//	version u8 = 1 | height u64 | round u32 | step u8 | signature [96] | sign bytes
type record struct {
	slot      Slot
	sig       [bls.SignatureSize]byte
	signBytes []byte
}

const recordVersion = 1

const recordHeader = 1 + 8 + 4 + 1 + bls.SignatureSize

func (r *record) encode() []byte {
	b := make([]byte, 0, recordHeader+len(r.signBytes))
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, r.slot.Height)
	b = binary.BigEndian.AppendUint32(b, r.slot.Round)
	b = append(b, byte(r.slot.Step))
	b = append(b, r.sig[:]...)
	return append(b, r.signBytes...)
}

// decodeRecord parses a record of chainID and checks that its sign bytes
// are a consensus message of that chain and slot.
func decodeRecord(b []byte, chainID string) (record, error) {
	var r record
	if len(b) < recordHeader {
		return r, fmt.Errorf("%w: %d bytes, shorter than any record", ErrCorrupt, len(b))
	}
	if b[0] != recordVersion {
		return r, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, b[0], recordVersion)
	}
	r.slot = Slot{Height: binary.BigEndian.Uint64(b[1:]), Round: binary.BigEndian.Uint32(b[9:]), Step: vote.Step(b[13])}
	if r.slot.Step < vote.StepProposal || r.slot.Step > vote.StepBlock {
		return r, fmt.Errorf("%w: %v", ErrCorrupt, r.slot.Step)
	}
	copy(r.sig[:], b[14:])
	r.signBytes = append([]byte(nil), b[recordHeader:]...)
	// The sign bytes start with the domain, chain id and slot; the rest
	// (block hash and extra) must be what Message.SignBytes writes.
	m := vote.Message{ChainID: chainID, Height: r.slot.Height, Round: r.slot.Round, Step: r.slot.Step}
	prefix := m.SignBytes()
	prefix = prefix[:len(prefix)-3] // less the empty block hash's length and extra's length
	rest, ok := bytes.CutPrefix(r.signBytes, prefix)
	if !ok || len(rest) < 3 {
		return r, fmt.Errorf("%w: sign bytes are not a message of chain %q at %v", ErrCorrupt, chainID, r.slot)
	}
	hl := int(rest[0])
	if hl != 0 && hl != vote.HashSize {
		return r, fmt.Errorf("%w: sign bytes carry a block hash of %d bytes", ErrCorrupt, hl)
	}
	if len(rest) < 1+hl+2 {
		return r, fmt.Errorf("%w: sign bytes are truncated", ErrCorrupt)
	}
	m.BlockHash = rest[1 : 1+hl]
	el := int(binary.BigEndian.Uint16(rest[1+hl:]))
	m.Extra = rest[1+hl+2:]
	if el != len(m.Extra) || m.Check() != nil || !bytes.Equal(m.SignBytes(), r.signBytes) {
		return r, fmt.Errorf("%w: sign bytes of chain %q at %v are not a valid message", ErrCorrupt, chainID, r.slot)
	}
	return r, nil
}
