package rpc

// The JSON shapes of the public API. Conventions:
//   - every 64-bit amount, balance, fee, gas quantity and nonce is a decimal
//     string ("1000000000000000000" stays exact in JavaScript);
//   - heights, indexes, counts, sizes and millisecond timestamps are numbers;
//   - hashes, addresses, roots, keys and raw bytes are "0x" and lowercase hex.

import (
	"encoding/hex"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Bytes is a byte string written as "0x" and lowercase hex.
type Bytes []byte

// MarshalText implements encoding.TextMarshaler.
func (b Bytes) MarshalText() ([]byte, error) {
	out := make([]byte, 2+hex.EncodedLen(len(b)))
	copy(out, "0x")
	hex.Encode(out[2:], b)
	return out, nil
}

// UnmarshalText parses hex with an optional "0x" prefix; "0x" is empty (nil).
func (b *Bytes) UnmarshalText(text []byte) error {
	s := trim0x(string(text))
	if len(s)%2 != 0 {
		return fmt.Errorf("hex string of odd length %d", len(s))
	}
	if len(s) == 0 {
		*b = nil
		return nil
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("bad hex: %v", err)
	}
	*b = v
	return nil
}

func (b Bytes) String() string { t, _ := b.MarshalText(); return string(t) }

// Root is a 32-byte commitment (Merkle root, proof hash, state root).
type Root [32]byte

// MarshalText implements encoding.TextMarshaler.
func (r Root) MarshalText() ([]byte, error) { return Bytes(r[:]).MarshalText() }

// UnmarshalText parses "0x" and 64 hex digits.
func (r *Root) UnmarshalText(text []byte) error {
	return fixedHex(r[:], text)
}

func (r Root) String() string { return Bytes(r[:]).String() }

func fixedHex(dst []byte, text []byte) error {
	s := trim0x(string(text))
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want 0x and %d hex digits, have %d digits", 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("bad hex: %v", err)
	}
	return nil
}

func trim0x(s string) string {
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		return s[2:]
	}
	return s
}

// Transaction is a signed transaction: its decoded fields, its canonical
// encoding (Raw) and, where known, where it stands.
type Transaction struct {
	Hash    tx.Hash         `json:"hash"`
	Type    string          `json:"type"` // "transfer" | "bond" | "unbond" | "delegate"
	ChainID string          `json:"chainId"`
	From    account.Address `json:"from"`
	Nonce   uint64          `json:"nonce,string"`
	// GasLimit, MaxFeePerGas and MaxPriorityFeePerGas as signed.
	GasLimit             uint64 `json:"gasLimit,string"`
	MaxFeePerGas         uint64 `json:"maxFeePerGas,string"`
	MaxPriorityFeePerGas uint64 `json:"maxPriorityFeePerGas,string"`
	// Body: Amount always; To for a transfer; Validator for unbond and
	// delegate; the BLS key and proof of possession for a registering bond.
	Amount            uint64           `json:"amount,string"`
	To                *account.Address `json:"to,omitempty"`
	Validator         *account.Address `json:"validator,omitempty"`
	BLSPublicKey      Bytes            `json:"blsPublicKey,omitempty"`
	ProofOfPossession Bytes            `json:"proofOfPossession,omitempty"`
	// Scheme is the sender's signature scheme: "ed25519" or "hashsig"
	// (docs/signatures.md), whose public key and signature are longer.
	Scheme    string `json:"scheme"`
	PublicKey Bytes  `json:"publicKey"`
	Signature Bytes  `json:"signature"`
	// HashSigIndex is the one-time key a hash-based signature used.
	HashSigIndex *uint32 `json:"hashSigIndex,omitempty"`
	Raw          Bytes   `json:"raw"`
	// Status is where the transaction stands; BlockHash, BlockHeight and
	// Index are null until it is in a block.
	Status      TxStatus    `json:"status,omitempty"`
	BlockHash   *block.Hash `json:"blockHash"`
	BlockHeight *uint64     `json:"blockHeight"`
	Index       *int        `json:"index"`
}

// NewTransaction returns the JSON view of t, with no status.
func NewTransaction(t *tx.Tx) *Transaction {
	out := &Transaction{
		Hash:                 t.Hash(),
		Type:                 t.Type().String(),
		ChainID:              t.ChainID,
		From:                 t.Sender(),
		Nonce:                t.Nonce,
		GasLimit:             t.GasLimit,
		MaxFeePerGas:         t.MaxFeePerGas,
		MaxPriorityFeePerGas: t.MaxPriorityFeePerGas,
		Amount:               t.Amount(),
		Scheme:               "ed25519",
		PublicKey:            Bytes(t.PublicKey[:]),
		Signature:            Bytes(t.Signature[:]),
		Raw:                  Bytes(t.Encode()),
	}
	if h := t.HashSig; h != nil {
		out.Scheme, out.PublicKey = "hashsig", Bytes(h.PublicKey.Bytes())
		if h.Signature != nil {
			idx := h.Signature.Index
			out.Signature, out.HashSigIndex = Bytes(h.Signature.Bytes()), &idx
		}
	}
	switch b := t.Body.(type) {
	case tx.Transfer:
		to := b.To
		out.To = &to
	case tx.Unbond:
		v := b.Validator
		out.Validator = &v
	case tx.Delegate:
		v := b.Validator
		out.Validator = &v
	case tx.Bond:
		if b.HasKey() {
			out.BLSPublicKey = Bytes(b.BLSPublicKey[:])
			out.ProofOfPossession = Bytes(b.ProofOfPossession[:])
		}
	}
	return out
}

func newTransactionResult(r *TxResult) *Transaction {
	out := NewTransaction(r.Tx)
	out.Status = r.Status
	if r.BlockHash != nil {
		h, height, i := *r.BlockHash, r.Height, r.Index
		out.BlockHash, out.BlockHeight, out.Index = &h, &height, &i
	}
	return out
}

// Tx decodes Raw, the canonical encoding, and checks that it is the
// transaction the other fields describe (same hash).
func (t *Transaction) Tx() (*tx.Tx, error) {
	d, err := tx.Decode(t.Raw)
	if err != nil {
		return nil, err
	}
	if d.Hash() != t.Hash {
		return nil, fmt.Errorf("rpc: transaction raw bytes hash to %s, not the reported %s", d.Hash(), t.Hash)
	}
	return d, nil
}

// Receipt is what a transaction did in its block.
type Receipt struct {
	TxHash      tx.Hash    `json:"txHash"`
	BlockHash   block.Hash `json:"blockHash"`
	BlockHeight uint64     `json:"blockHeight"`
	Index       int        `json:"index"`
	Status      string     `json:"status"` // "ok" | "failed"
	GasUsed     uint64     `json:"gasUsed,string"`
	// FeePaid is gas used × effective gas price; Tip is its priority part.
	FeePaid uint64 `json:"feePaid,string"`
	Tip     uint64 `json:"tip,string"`
	Reason  string `json:"reason,omitempty"` // why a failed transaction had no effect
}

// NewReceipt returns the JSON view of r, the receipt of the index-th
// transaction of block blockHash at height.
func NewReceipt(r *block.Receipt, blockHash block.Hash, height uint64, index int) *Receipt {
	return &Receipt{
		TxHash: r.TxHash, BlockHash: blockHash, BlockHeight: height, Index: index,
		Status: r.Status.String(), GasUsed: r.GasUsed, FeePaid: r.FeePaid, Tip: r.Tip, Reason: r.Reason,
	}
}

// BlockReceipt converts back to the ledger type.
func (r *Receipt) BlockReceipt() (*block.Receipt, error) {
	out := &block.Receipt{TxHash: r.TxHash, GasUsed: r.GasUsed, FeePaid: r.FeePaid, Tip: r.Tip, Reason: r.Reason}
	switch r.Status {
	case "ok":
		out.Status = block.StatusOK
	case "failed":
		out.Status = block.StatusFailed
	default:
		return nil, fmt.Errorf("rpc: receipt status %q, want ok or failed", r.Status)
	}
	return out, nil
}

// ProofRef is a proof of an earlier block included in a header.
type ProofRef struct {
	Height    uint64          `json:"height"`
	BlockHash block.Hash      `json:"blockHash"`
	ProofHash Root            `json:"proofHash"`
	Prover    account.Address `json:"prover"`
}

// Block is a block header with its hash and finality, the hashes of its
// transactions and, when asked for (fullTxs), the transactions and receipts.
type Block struct {
	Hash        block.Hash      `json:"hash"`
	Finality    Finality        `json:"finality"`
	ChainID     string          `json:"chainId"`
	Height      uint64          `json:"height"`
	ParentHash  block.Hash      `json:"parentHash"`
	TimestampMs int64           `json:"timestampMs"`
	Proposer    account.Address `json:"proposer"`
	TxRoot      Root            `json:"txRoot"`
	// TxCommitment is the Poseidon2 commitment to the transactions
	// (header version 2); absent in version 1 headers.
	TxCommitment  *Root      `json:"txCommitment,omitempty"`
	StateRoot     Root       `json:"stateRoot"`
	ReceiptsRoot  Root       `json:"receiptsRoot"`
	BaseFee       uint64     `json:"baseFee,string"`
	GasLimit      uint64     `json:"gasLimit,string"`
	GasUsed       uint64     `json:"gasUsed,string"`
	DACommitments []Bytes    `json:"daCommitments"`
	ConsensusData Bytes      `json:"consensusData"`
	Proofs        []ProofRef `json:"proofs"`
	TxCount       int        `json:"txCount"`
	TxHashes      []tx.Hash  `json:"txHashes"`
	// Transactions and Receipts are present only when fullTxs was true and
	// the block has transactions (Receipts: and the node has them).
	Transactions []*Transaction `json:"transactions,omitempty"`
	Receipts     []*Receipt     `json:"receipts,omitempty"`
	// Reverted is set only in a newHeads notification of a reorg: the
	// blocks the head change rolled back, newest first. Their transactions
	// are back in the mempool (a txStatus "pending" event each).
	Reverted []block.Hash `json:"reverted,omitempty"`
}

// NewBlock returns the JSON view of r; full adds transactions and receipts.
func NewBlock(r *BlockResult, full bool) *Block {
	h := &r.Block.Header
	out := &Block{
		Hash: r.Hash, Finality: r.Finality,
		ChainID: h.ChainID, Height: h.Height, ParentHash: h.Parent, TimestampMs: h.TimestampMs,
		Proposer: h.Proposer, TxRoot: Root(h.TxRoot), StateRoot: Root(h.StateRoot.Bytes()),
		ReceiptsRoot: Root(h.ReceiptsRoot), BaseFee: h.BaseFee, GasLimit: h.GasLimit, GasUsed: h.GasUsed,
		DACommitments: make([]Bytes, len(h.DACommitments)),
		ConsensusData: Bytes(h.ConsensusData),
		Proofs:        make([]ProofRef, len(h.Proofs)),
		TxCount:       len(r.Block.Txs),
		TxHashes:      make([]tx.Hash, len(r.Block.Txs)),
	}
	if h.TxCommitment != nil {
		tc := Root(h.TxCommitment.Bytes())
		out.TxCommitment = &tc
	}

	for i, c := range h.DACommitments {
		out.DACommitments[i] = Bytes(c)
	}
	for i, p := range h.Proofs {
		out.Proofs[i] = ProofRef{Height: p.Height, BlockHash: p.BlockHash, ProofHash: Root(p.ProofHash), Prover: p.Prover}
	}
	for i, t := range r.Block.Txs {
		out.TxHashes[i] = t.Hash()
	}
	if !full || len(r.Block.Txs) == 0 {
		return out
	}
	status := TxStatusOf(r.Finality)
	out.Transactions = make([]*Transaction, len(r.Block.Txs))
	for i, t := range r.Block.Txs {
		v := NewTransaction(t)
		v.Status = status
		bh, height, idx := r.Hash, h.Height, i
		v.BlockHash, v.BlockHeight, v.Index = &bh, &height, &idx
		out.Transactions[i] = v
	}
	if len(r.Receipts) > 0 {
		out.Receipts = make([]*Receipt, len(r.Receipts))
		for i, rc := range r.Receipts {
			out.Receipts[i] = NewReceipt(rc, r.Hash, h.Height, i)
		}
	}
	return out
}

// TxStatusOf is the status of a transaction in a block of finality f.
func TxStatusOf(f Finality) TxStatus {
	switch f {
	case FinalityFinal:
		return TxFinal
	case FinalityKDeep:
		return TxKDeep
	case FinalityProven:
		return TxProven
	case FinalityCanonical:
		return TxIncluded
	}
	return TxPending
}

// Header converts the JSON view back to the ledger header; its Hash() is
// the block's hash when nothing was lost on the way.
func (b *Block) Header() (block.Header, error) {
	sr, err := hash.DigestFromBytes(b.StateRoot[:])
	if err != nil {
		return block.Header{}, fmt.Errorf("rpc: state root: %w", err)
	}
	h := block.Header{
		ChainID: b.ChainID, Height: b.Height, Parent: b.ParentHash, TimestampMs: b.TimestampMs,
		Proposer: b.Proposer, TxRoot: b.TxRoot, StateRoot: sr, ReceiptsRoot: b.ReceiptsRoot,
		BaseFee: b.BaseFee, GasLimit: b.GasLimit, GasUsed: b.GasUsed,
	}
	if len(b.ConsensusData) > 0 {
		h.ConsensusData = []byte(b.ConsensusData)
	}
	if len(b.DACommitments) > 0 {
		h.DACommitments = make([][]byte, len(b.DACommitments))
		for i, c := range b.DACommitments {
			h.DACommitments[i] = []byte(c)
		}
	}
	if len(b.Proofs) > 0 {
		h.Proofs = make([]block.ProofRef, len(b.Proofs))
		for i, p := range b.Proofs {
			h.Proofs[i] = block.ProofRef{Height: p.Height, BlockHash: p.BlockHash, ProofHash: p.ProofHash, Prover: p.Prover}
		}
	}
	return h, nil
}

// Delegation is stake delegated to a validator.
type Delegation struct {
	Validator account.Address `json:"validator"`
	// Shares of the validator's delegation pool; Amount is what they are
	// worth now (slashes of the validator lower it).
	Shares uint64 `json:"shares,string"`
	Amount uint64 `json:"amount,string"`
}

// Unbonding is stake on its way back to the balance.
type Unbonding struct {
	Validator     account.Address `json:"validator"`
	Amount        uint64          `json:"amount,string"`
	ReleaseHeight uint64          `json:"releaseHeight"`
}

// Validator is an account's validator registration.
type Validator struct {
	BLSPublicKey      Bytes  `json:"blsPublicKey"`
	ProofOfPossession Bytes  `json:"proofOfPossession"`
	Delegated         uint64 `json:"delegated,string"` // stake others delegated to it (its delegation pool)
	DelegatorShares   uint64 `json:"delegatorShares,string"`
	Slashed           uint64 `json:"slashed,string"`
	Stake             uint64 `json:"stake,string"` // voting stake: own bond + delegated
}

// Account is an account at the head (Height). An address that has never
// received anything has exists=false and zero values.
type Account struct {
	Address      account.Address `json:"address"`
	Exists       bool            `json:"exists"`
	Index        uint32          `json:"index"`
	Balance      uint64          `json:"balance,string"`
	Nonce        uint64          `json:"nonce,string"`
	PendingNonce uint64          `json:"pendingNonce,string"`
	Bonded       uint64          `json:"bonded,string"`
	Delegations  []Delegation    `json:"delegations"`
	Unbonding    []Unbonding     `json:"unbonding"`
	Validator    *Validator      `json:"validator"`
	// Prover is the account's prover registration (null if never).
	Prover *Prover `json:"prover,omitempty"`
	// Provers and Jobs are the prover registry and the open proof jobs,
	// which only the escrow account holds.
	Provers []account.Address `json:"provers,omitempty"`
	Jobs    []Job             `json:"jobs,omitempty"`
	Height  uint64            `json:"height"`
}

// NewAccount returns the JSON view of r.
func NewAccount(r *AccountResult) *Account {
	a := &r.Account
	out := &Account{
		Address: r.Address, Exists: r.Exists, Index: r.Index, Balance: a.Balance, Nonce: a.Nonce,
		PendingNonce: r.PendingNonce, Bonded: a.Bonded,
		Delegations: make([]Delegation, len(a.Delegations)),
		Unbonding:   make([]Unbonding, len(a.Unbonding)),
		Prover:      newProver(a.Prover), Provers: a.Provers, Jobs: newJobs(a.Jobs),
		Height: r.Height,
	}
	for i, d := range a.Delegations {
		out.Delegations[i] = Delegation{Validator: d.Validator, Shares: d.Shares}
		if i < len(r.DelegationValues) {
			out.Delegations[i].Amount = r.DelegationValues[i]
		}
	}
	for i, u := range a.Unbonding {
		out.Unbonding[i] = Unbonding{Validator: u.Validator, Amount: u.Amount, ReleaseHeight: u.Release}
	}
	if v := a.Validator; v != nil {
		out.Validator = &Validator{
			BLSPublicKey: Bytes(v.BLSPublicKey[:]), ProofOfPossession: Bytes(v.ProofOfPossession[:]),
			Delegated: v.Delegated, DelegatorShares: v.DelegatorShares, Slashed: v.Slashed, Stake: a.Stake(),
		}
	}
	return out
}

// Account converts back to the ledger record.
func (a *Account) Account() (account.Account, error) {
	out := account.Account{Address: a.Address, Balance: a.Balance, Nonce: a.Nonce, Bonded: a.Bonded,
		Prover: a.Prover.record(), Provers: a.Provers}
	jobs, err := jobRecords(a.Jobs)
	if err != nil {
		return out, err
	}
	out.Jobs = jobs
	if len(a.Delegations) > 0 {
		out.Delegations = make([]account.Delegation, len(a.Delegations))
		for i, d := range a.Delegations {
			out.Delegations[i] = account.Delegation{Validator: d.Validator, Shares: d.Shares}
		}
	}
	if len(a.Unbonding) > 0 {
		out.Unbonding = make([]account.Unbonding, len(a.Unbonding))
		for i, u := range a.Unbonding {
			out.Unbonding[i] = account.Unbonding{Validator: u.Validator, Amount: u.Amount, Release: u.ReleaseHeight}
		}
	}
	if v := a.Validator; v != nil {
		rv := &account.Validator{Delegated: v.Delegated, DelegatorShares: v.DelegatorShares, Slashed: v.Slashed}
		if len(v.BLSPublicKey) != len(rv.BLSPublicKey) || len(v.ProofOfPossession) != len(rv.ProofOfPossession) {
			return out, fmt.Errorf("rpc: validator key of %d bytes and proof of %d bytes, want %d and %d",
				len(v.BLSPublicKey), len(v.ProofOfPossession), len(rv.BLSPublicKey), len(rv.ProofOfPossession))
		}
		copy(rv.BLSPublicKey[:], v.BLSPublicKey)
		copy(rv.ProofOfPossession[:], v.ProofOfPossession)
		out.Validator = rv
	}
	return out, nil
}

// BlockFinality is the answer of trellis_getFinality.
type BlockFinality struct {
	Hash     block.Hash `json:"hash"`
	Height   uint64     `json:"height"`
	Finality Finality   `json:"finality"`
}

// TxStatusUpdate is a txStatus notification: a transaction's new status.
// BlockHash and BlockHeight are null while it is not in a block.
type TxStatusUpdate struct {
	Hash        tx.Hash     `json:"hash"`
	Status      TxStatus    `json:"status"`
	BlockHash   *block.Hash `json:"blockHash"`
	BlockHeight *uint64     `json:"blockHeight"`
	Reason      string      `json:"reason,omitempty"`
}

func newTxStatusUpdate(e *TxEvent) *TxStatusUpdate {
	out := &TxStatusUpdate{Hash: e.Hash, Status: e.Status, Reason: e.Reason}
	if e.BlockHash != nil {
		h, height := *e.BlockHash, e.Height
		out.BlockHash, out.BlockHeight = &h, &height
	}
	return out
}
