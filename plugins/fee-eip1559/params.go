package fee

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// BasisPoints is the whole of a split: 10,000 bps = 100 %.
const BasisPoints = 10_000

// Default parameter values. See docs/fee-market.md for the reasoning.
const (
	DefaultElasticityMultiplier        = 2
	DefaultBaseFeeMaxChangeDenominator = 8
	DefaultMinBaseFee                  = 1
	DefaultMaxBaseFee                  = 0 // no ceiling
	DefaultQuoteTipPercentile          = 60
	DefaultQuoteMinTip                 = 1
)

// Params configures the fee market. The host sends it to the plugin as plain
// JSON (the plugin's `config {}` block); ParseParams decodes it over the
// defaults. All fee amounts are in the native token's smallest unit; base
// fees and tips are per unit of gas.
type Params struct {
	// ElasticityMultiplier divides the gas limit into the gas target
	// (target = gas limit / elasticity). EIP-1559 uses 2. At least 1.
	ElasticityMultiplier uint64 `json:"elasticity_multiplier"`
	// BaseFeeMaxChangeDenominator bounds the base fee's change per block to
	// 1/denominator of the parent base fee (8 ⇒ 12.5 %), as EIP-1559's
	// BASE_FEE_MAX_CHANGE_DENOMINATOR; NextBaseFee has the exact rule. At
	// least 1.
	BaseFeeMaxChangeDenominator uint64 `json:"base_fee_max_change_denominator"`
	// MinBaseFee is the floor: the base fee never goes below it.
	MinBaseFee uint64 `json:"min_base_fee"`
	// MaxBaseFee is the ceiling; 0 means none. When set, at least MinBaseFee.
	MaxBaseFee uint64 `json:"max_base_fee"`
	// BaseFeeSplit divides the base-fee part of every fee (gas used × base fee).
	BaseFeeSplit Split `json:"base_fee_split"`
	// TipSplit divides the tip part of every fee (gas used × effective tip).
	TipSplit Split `json:"tip_split"`
	// QuoteTipPercentile is the percentile (1..100, nearest rank) of recent
	// effective tips that Quote suggests as the priority fee.
	QuoteTipPercentile uint64 `json:"quote_tip_percentile"`
	// QuoteMinTip is the least priority fee Quote suggests, and what it
	// suggests when it has no recent tips to go by.
	QuoteMinTip uint64 `json:"quote_min_tip"`
}

// Split divides an amount between the four recipients, in basis points that
// sum to exactly BasisPoints.
type Split struct {
	Burn      uint32 `json:"burn"`
	Treasury  uint32 `json:"treasury"`
	Sequencer uint32 `json:"sequencer"`
	Prover    uint32 `json:"prover"`
}

// DefaultBaseFeeSplit: half of the base fee is burnt, 10 % funds the treasury
// and 40 % is escrowed for the block's proof; the sequencer gets none of it, so
// that it gains nothing by stuffing blocks to move the base fee.
var DefaultBaseFeeSplit = Split{Burn: 5_000, Treasury: 1_000, Sequencer: 0, Prover: 4_000}

// DefaultTipSplit: the tip is the inclusion incentive and goes wholly to the
// sequencer that includes the transaction.
var DefaultTipSplit = Split{Sequencer: BasisPoints}

// DefaultParams returns the default fee market parameters.
func DefaultParams() Params {
	return Params{
		ElasticityMultiplier:        DefaultElasticityMultiplier,
		BaseFeeMaxChangeDenominator: DefaultBaseFeeMaxChangeDenominator,
		MinBaseFee:                  DefaultMinBaseFee,
		MaxBaseFee:                  DefaultMaxBaseFee,
		BaseFeeSplit:                DefaultBaseFeeSplit,
		TipSplit:                    DefaultTipSplit,
		QuoteTipPercentile:          DefaultQuoteTipPercentile,
		QuoteMinTip:                 DefaultQuoteMinTip,
	}
}

// Validate reports every invalid field, each as a *ParamError naming the
// field by its JSON name; the result wraps ErrInvalidParams.
func (p Params) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ParamError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if p.ElasticityMultiplier < 1 {
		bad("elasticity_multiplier", "must be at least 1, got %d", p.ElasticityMultiplier)
	}
	if p.BaseFeeMaxChangeDenominator < 1 {
		bad("base_fee_max_change_denominator", "must be at least 1, got %d", p.BaseFeeMaxChangeDenominator)
	}
	if p.MaxBaseFee != 0 && p.MinBaseFee > p.MaxBaseFee {
		bad("min_base_fee", "floor %d is above the ceiling max_base_fee %d", p.MinBaseFee, p.MaxBaseFee)
	}
	if err := p.BaseFeeSplit.validate("base_fee_split"); err != nil {
		errs = append(errs, err)
	}
	if err := p.TipSplit.validate("tip_split"); err != nil {
		errs = append(errs, err)
	}
	if p.QuoteTipPercentile < 1 || p.QuoteTipPercentile > 100 {
		bad("quote_tip_percentile", "must be between 1 and 100, got %d", p.QuoteTipPercentile)
	}
	return errors.Join(errs...)
}

// Validate checks that the split's basis points sum to exactly BasisPoints.
// The error is a *ParamError wrapping ErrInvalidParams.
func (s Split) Validate() error {
	if err := s.validate("split"); err != nil {
		return err
	}
	return nil
}

func (s Split) validate(field string) *ParamError {
	// uint64 sum: four uint32 cannot overflow it.
	sum := uint64(s.Burn) + uint64(s.Treasury) + uint64(s.Sequencer) + uint64(s.Prover)
	if sum != BasisPoints {
		return &ParamError{Field: field, Msg: fmt.Sprintf(
			"burn %d + treasury %d + sequencer %d + prover %d = %d bps, must be exactly %d",
			s.Burn, s.Treasury, s.Sequencer, s.Prover, sum, BasisPoints)}
	}
	return nil
}

// paramsJSON decodes a Params whose splits, when present, replace the
// defaults whole: a config that says `base_fee_split = { burn = 10000 }`
// means the other three are 0, not their defaults.
type paramsJSON struct {
	Params
	BaseFeeSplit *Split `json:"base_fee_split"`
	TipSplit     *Split `json:"tip_split"`
}

// ParseParams decodes the plugin's JSON config over DefaultParams and
// validates it. Fields left out keep their defaults; a split given at all is
// taken whole (its missing recipients are 0). Unknown fields, trailing data
// and invalid values are errors. Empty input (or `null`, `{}`) yields the
// defaults.
func ParseParams(data []byte) (Params, error) {
	aux := paramsJSON{Params: DefaultParams()}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&aux); err != nil {
			return Params{}, fmt.Errorf("%w: decoding JSON config: %w", ErrInvalidParams, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return Params{}, fmt.Errorf("%w: decoding JSON config: trailing data after the object", ErrInvalidParams)
		}
	}
	p := aux.Params
	if aux.BaseFeeSplit != nil {
		p.BaseFeeSplit = *aux.BaseFeeSplit
	}
	if aux.TipSplit != nil {
		p.TipSplit = *aux.TipSplit
	}
	if err := p.Validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}
