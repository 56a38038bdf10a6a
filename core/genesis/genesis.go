package genesis

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-chain/trellis/core/statedb"
	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/block"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/leader"
	"github.com/trellis-chain/trellis/protocol/tx"
)

// Defaults written by trellis init.
const (
	DefaultGasLimit       = 10_000_000
	DefaultBaseFee        = 1
	DefaultUnbondingDelay = 100
)

// Amount is a uint64 carried as a JSON string.
type Amount uint64

// MarshalJSON writes a decimal string.
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatUint(uint64(a), 10) + `"`), nil
}

// UnmarshalJSON reads a decimal string (or a JSON number below 2^53).
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("amount %s is not a decimal number of base units below 2^64", b)
	}
	*a = Amount(v)
	return nil
}

// Hex is bytes carried as 0x-prefixed hex.
type Hex []byte

// MarshalText writes 0x-prefixed hex.
func (h Hex) MarshalText() ([]byte, error) { return []byte("0x" + hex.EncodeToString(h)), nil }

// UnmarshalText reads 0x-prefixed hex.
func (h *Hex) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(strings.TrimPrefix(string(b), "0x"))
	if err != nil {
		return fmt.Errorf("%q is not hex: %v", b, err)
	}
	*h = v
	return nil
}

// Genesis is the genesis file.
type Genesis struct {
	ChainID     string    `json:"chain_id"`
	GenesisTime time.Time `json:"genesis_time"`
	// Fee parameters of block 0: its base fee and every block's gas limit.
	Fee            Fee         `json:"fee"`
	UnbondingDelay uint64      `json:"unbonding_delay"`
	Accounts       []Account   `json:"accounts"`
	Validators     []Validator `json:"validators"`
	// ProverMarket overrides the prover market's rules (docs/market.md);
	// omitted, every rule keeps its default.
	ProverMarket *Market `json:"prover_market,omitempty"`
	// Provers are registered at genesis, their bonds taken from their
	// genesis balances.
	Provers []Prover `json:"provers,omitempty"`
	// LongestChain holds the parameters of a longest-chain network
	// (docs/consensus-lc.md). Block 0 carries their encoding as its
	// consensus data, so every node runs the same slots, lottery and k.
	LongestChain *LongestChain `json:"longest_chain,omitempty"`
	// HeaderVersion is the encoding of every header of the chain: 1 (or
	// omitted), or 2 with the Poseidon2 transaction commitment a block
	// statement binds (protocol/block). New chains are made with 2.
	HeaderVersion int `json:"header_version,omitempty"`
}

// TxCommitments reports whether the chain's headers carry the transaction
// commitment (header_version 2).
func (g *Genesis) TxCommitments() bool { return g.HeaderVersion == block.VersionTxCommitment }

// LongestChain is the longest-chain consensus section of genesis.
type LongestChain struct {
	SlotMs     uint32 `json:"slot_ms"`
	EpochSlots uint64 `json:"epoch_slots"`
	// ActiveSlots is the active-slot coefficient f as "num/den".
	ActiveSlots string `json:"active_slots"`
	K           uint32 `json:"k"`
	TieSlots    uint32 `json:"tie_slots"`
	MaxProofLag uint32 `json:"max_proof_lag"`
}

// NewLongestChain is the genesis section of p.
func NewLongestChain(p leader.Params) *LongestChain {
	return &LongestChain{SlotMs: p.SlotMs, EpochSlots: p.EpochSlots, ActiveSlots: fmt.Sprintf("%d/%d", p.Active.Num, p.Active.Den),
		K: p.K, TieSlots: p.TieSlots, MaxProofLag: p.MaxProofLag}
}

// Params parses and checks the section.
func (l *LongestChain) Params() (leader.Params, error) {
	p := leader.Params{SlotMs: l.SlotMs, EpochSlots: l.EpochSlots, K: l.K, TieSlots: l.TieSlots, MaxProofLag: l.MaxProofLag}
	f, err := leader.ParseCoefficient(l.ActiveSlots)
	if err != nil {
		return p, fmt.Errorf("%w: active_slots: %w", leader.ErrParams, err)
	}
	p.Active = f
	return p, p.Check()
}

// Market overrides prover market rules; an omitted field keeps its
// default (account.DefaultMarketParams).
type Market struct {
	MinProverBond   *Amount `json:"min_prover_bond,omitempty"`
	JobDeadline     *uint64 `json:"job_deadline,omitempty"`
	MissSlashBps    *uint64 `json:"miss_slash_bps,omitempty"`
	ReputationStart *uint64 `json:"reputation_start,omitempty"`
	ReputationUp    *uint64 `json:"reputation_up,omitempty"`
	ReputationDown  *uint64 `json:"reputation_down,omitempty"`
	ReputationMax   *uint64 `json:"reputation_max,omitempty"`
	// Volunteer: jobs are never assigned; the first prover to land a
	// proof is paid (docs/market.md).
	Volunteer bool `json:"volunteer,omitempty"`
}

// Prover is a prover registered at genesis: Bond moves from the account's
// genesis balance into its prover bond.
type Prover struct {
	Address    account.Address `json:"address"`
	Kind       string          `json:"kind"`
	Throughput uint64          `json:"throughput"`
	Price      Amount          `json:"price"`
	Bond       Amount          `json:"bond"`
}

// MarketParams returns the prover market rules of the chain: the defaults
// with the file's overrides. The ledger passes them as exec.Params.Market.
func (g *Genesis) MarketParams() account.MarketParams {
	m := account.DefaultMarketParams()
	o := g.ProverMarket
	if o == nil {
		return m
	}
	if o.MinProverBond != nil {
		m.MinProverBond = uint64(*o.MinProverBond)
	}
	for _, f := range []struct {
		src *uint64
		dst *uint64
	}{
		{o.JobDeadline, &m.JobDeadline}, {o.MissSlashBps, &m.MissSlashBps},
		{o.ReputationStart, &m.ReputationStart}, {o.ReputationUp, &m.ReputationUp},
		{o.ReputationDown, &m.ReputationDown}, {o.ReputationMax, &m.ReputationMax},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	m.Volunteer = o.Volunteer
	return m
}

// Fee holds the fee parameters fixed at genesis.
type Fee struct {
	InitialBaseFee Amount `json:"initial_base_fee"`
	BlockGasLimit  Amount `json:"block_gas_limit"`
}

// Account is a funded genesis account.
type Account struct {
	Address account.Address `json:"address"`
	Balance Amount          `json:"balance"`
}

// Validator is a genesis validator: Stake is bonded at genesis (added to
// supply, not taken from a balance).
type Validator struct {
	Address           account.Address `json:"address"`
	BLSPublicKey      Hex             `json:"bls_public_key"`
	ProofOfPossession Hex             `json:"proof_of_possession"`
	Stake             Amount          `json:"stake"`
}

// ErrInvalid reports a genesis file that cannot start a chain.
var ErrInvalid = errors.New("invalid genesis")

// Load reads and checks a genesis file; errors name the file and field.
func Load(path string) (*Genesis, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Parse decodes and checks genesis JSON. Unknown fields are errors, so a
// misspelt field is not silently ignored.
func Parse(b []byte) (*Genesis, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	g := &Genesis{}
	if err := dec.Decode(g); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(b, se.Offset)
			return nil, fmt.Errorf("%w: line %d, column %d: %v", ErrInvalid, line, col, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := g.Check(); err != nil {
		return nil, err
	}
	return g, nil
}

func position(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(b)); i++ {
		if b[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Check verifies the genesis can start a chain: sizes, duplicates, totals.
func (g *Genesis) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if err := tx.CheckChainID(g.ChainID); err != nil {
		return bad("chain_id %q: %v", g.ChainID, err)
	}
	if g.HeaderVersion != 0 && g.HeaderVersion != block.Version && g.HeaderVersion != block.VersionTxCommitment {
		return bad("header_version %d: want %d or %d", g.HeaderVersion, block.Version, block.VersionTxCommitment)
	}
	if g.Fee.BlockGasLimit < tx.GasStaking {
		return bad("fee.block_gas_limit %d is below one staking transaction (%d gas)", g.Fee.BlockGasLimit, tx.GasStaking)
	}
	if g.UnbondingDelay == 0 {
		return bad("unbonding_delay must be at least 1 block")
	}
	seen := map[account.Address]string{
		account.TreasuryAddress: "the treasury", account.EscrowAddress: "the prover escrow",
	}
	var supply uint64
	add := func(v Amount, where string) error {
		if supply+uint64(v) < supply {
			return bad("%s: total supply overflows 64 bits", where)
		}
		supply += uint64(v)
		return nil
	}
	for i, a := range g.Accounts {
		where := fmt.Sprintf("accounts[%d]", i)
		if a.Address.IsZero() {
			return bad("%s: address is zero", where)
		}
		if prev, ok := seen[a.Address]; ok {
			return bad("%s: address %s is already %s", where, a.Address, prev)
		}
		seen[a.Address] = where
		if err := add(a.Balance, where); err != nil {
			return err
		}
	}
	vals := map[account.Address]bool{}
	for i, v := range g.Validators {
		where := fmt.Sprintf("validators[%d]", i)
		if v.Address.IsZero() {
			return bad("%s: address is zero", where)
		}
		if vals[v.Address] {
			return bad("%s: validator %s is listed twice", where, v.Address)
		}
		vals[v.Address] = true
		if len(v.BLSPublicKey) != account.BLSPublicKeySize {
			return bad("%s: bls_public_key is %d bytes, want %d", where, len(v.BLSPublicKey), account.BLSPublicKeySize)
		}
		if len(v.ProofOfPossession) != account.BLSSignatureSize {
			return bad("%s: proof_of_possession is %d bytes, want %d", where, len(v.ProofOfPossession), account.BLSSignatureSize)
		}
		if v.Stake == 0 {
			return bad("%s: stake is zero", where)
		}
		if err := add(v.Stake, where); err != nil {
			return err
		}
	}
	if g.LongestChain != nil {
		if _, err := g.LongestChain.Params(); err != nil {
			return bad("longest_chain: %v", err)
		}
	}
	return g.checkProvers(bad)
}

func (g *Genesis) checkProvers(bad func(string, ...any) error) error {
	m := g.MarketParams()
	if err := m.Check(); err != nil {
		return bad("prover_market: %v", err)
	}
	if len(g.Provers) > account.MaxProvers {
		return bad("provers: %d provers, at most %d", len(g.Provers), account.MaxProvers)
	}
	funds := make(map[account.Address]uint64, len(g.Accounts))
	for _, a := range g.Accounts {
		funds[a.Address] = uint64(a.Balance)
	}
	seen := map[account.Address]bool{}
	for i, p := range g.Provers {
		where := fmt.Sprintf("provers[%d]", i)
		if seen[p.Address] {
			return bad("%s: prover %s is listed twice", where, p.Address)
		}
		seen[p.Address] = true
		bal, ok := funds[p.Address]
		if !ok {
			return bad("%s: prover %s is not in accounts: its bond comes from its genesis balance", where, p.Address)
		}
		if err := account.CheckProverKind(p.Kind); err != nil {
			return bad("%s: kind: %v", where, err)
		}
		if p.Throughput == 0 {
			return bad("%s: throughput is zero", where)
		}
		if uint64(p.Bond) < m.MinProverBond {
			return bad("%s: bond %d is below the minimum prover bond %d", where, p.Bond, m.MinProverBond)
		}
		if uint64(p.Bond) > bal {
			return bad("%s: bond %d is above the account's genesis balance %d", where, p.Bond, bal)
		}
	}
	return nil
}

// Apply writes the genesis state into an empty delta: the globals leaf,
// the treasury and escrow accounts, then accounts and validators in file
// order.
func (g *Genesis) Apply(d *statedb.Delta) error {
	gl := d.Globals()
	if gl.Accounts != 0 {
		return fmt.Errorf("genesis applied to a state that has %d accounts", gl.Accounts)
	}
	gl.Accounts = uint32(account.FirstUserIndex) - 2 // index 0 is the globals leaf
	d.SetGlobals(gl)
	for _, sys := range []account.Address{account.TreasuryAddress, account.EscrowAddress} {
		if _, _, err := d.Create(sys); err != nil {
			return err
		}
	}
	var supply uint64
	for _, ga := range g.Accounts {
		idx, a, err := d.Ensure(ga.Address)
		if err != nil {
			return err
		}
		a.Balance += uint64(ga.Balance)
		supply += uint64(ga.Balance)
		if err := d.Put(idx, a); err != nil {
			return err
		}
	}
	for _, gv := range g.Validators {
		idx, a, err := d.Ensure(gv.Address)
		if err != nil {
			return err
		}
		v := &account.Validator{}
		copy(v.BLSPublicKey[:], gv.BLSPublicKey)
		copy(v.ProofOfPossession[:], gv.ProofOfPossession)
		a.Validator = v
		a.Bonded += uint64(gv.Stake)
		supply += uint64(gv.Stake)
		if err := d.Put(idx, a); err != nil {
			return err
		}
	}
	if err := g.applyProvers(d); err != nil {
		return err
	}
	gl = d.Globals()
	gl.Supply = supply
	d.SetGlobals(gl)
	return nil
}

// applyProvers registers the genesis provers: bond from balance, the
// starting reputation, and an entry in the escrow's registry.
func (g *Genesis) applyProvers(d *statedb.Delta) error {
	if len(g.Provers) == 0 {
		return nil
	}
	m := g.MarketParams()
	e, err := d.Account(account.EscrowIndex)
	if err != nil {
		return err
	}
	for _, gp := range g.Provers {
		idx, a, err := statedb.AccountAt(d, gp.Address)
		if err != nil {
			return fmt.Errorf("genesis prover %s: %w", gp.Address, err)
		}
		if a.Balance < uint64(gp.Bond) {
			return fmt.Errorf("genesis prover %s: bond %d is above its balance %d", gp.Address, gp.Bond, a.Balance)
		}
		a.Balance -= uint64(gp.Bond)
		a.Prover = &account.Prover{Kind: gp.Kind, Throughput: gp.Throughput, Price: uint64(gp.Price), Bond: uint64(gp.Bond), Reputation: m.ReputationStart}
		if err := d.Put(idx, a); err != nil {
			return err
		}
		e.RegisterProver(gp.Address)
	}
	return d.Put(account.EscrowIndex, e)
}

// Block returns block 0 for the genesis state root: no transactions, the
// initial base fee, and the genesis time as its timestamp.
func (g *Genesis) Block(root hash.Digest) *block.Block {
	empty := block.MerkleRoot(nil)
	var cd []byte
	if g.LongestChain != nil {
		if p, err := g.LongestChain.Params(); err == nil { // Check refuses the error
			cd = p.Encode()
		}
	}
	var tc *hash.Digest
	if g.TxCommitments() {
		d := block.TxCommitment(nil)
		tc = &d
	}
	return &block.Block{Header: block.Header{
		TxCommitment:  tc,
		ConsensusData: cd,
		ChainID:       g.ChainID,
		TimestampMs:   g.GenesisTime.UnixMilli(),
		TxRoot:        empty,
		StateRoot:     root,
		ReceiptsRoot:  empty,
		BaseFee:       uint64(g.Fee.InitialBaseFee),
		GasLimit:      uint64(g.Fee.BlockGasLimit),
	}}
}

// Save checks g and writes it to path as Load reads it.
func (g *Genesis) Save(path string) error {
	if err := g.Check(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Amounts that development networks (`trellis init`, `trellis testnet
// up`) give each validator, in base units.
const (
	DevValidatorBalance = 1_000_000_000_000
	DevValidatorStake   = 1_000_000_000
)
