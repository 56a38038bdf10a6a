package account

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Limits on the prover-market records, so that the escrow record (rewritten
// and rehashed every block) stays small: a job encodes to JobSize bytes, so
// MaxJobs open jobs are 40 KiB.
const (
	// MaxProverKind bounds the length of Prover.Kind.
	MaxProverKind = 16
	// MaxProvers bounds the registry of active provers held by the escrow.
	MaxProvers = 256
	// MaxJobs bounds the open proof jobs held by the escrow; when it is
	// full, opening a job expires the oldest.
	MaxJobs = 256
	// StatementSize is the encoding of a Statement: three digests and u32.
	StatementSize = 3*hash.DigestSize + 4
	// JobSize is the encoding of one Job.
	JobSize = 8 + StatementSize + 8 + 8 + AddressSize + 8 + 4
)

// Prover is the registration of an account that proves blocks for the
// proof market. The record stays after the prover exits (Bond 0), so that
// its reputation and counters follow it if it registers again.
type Prover struct {
	// Kind names the hardware class, e.g. "cpu" or "gpu": 1..MaxProverKind
	// bytes of lower-case letters, digits, '-', '_' and '.'.
	Kind string
	// Throughput is the Poseidon2 permutations per second the prover claims.
	Throughput uint64
	// Price is the tokens the prover asks per job.
	Price uint64
	// Bond is the prover's stake; it counts in Locked and is slashed on a
	// missed deadline. Zero after exit.
	Bond uint64
	// Reputation rises with each settled job and falls with each miss.
	Reputation uint64
	// Proved, Missed and Slashed count settled jobs, missed deadlines and
	// tokens slashed, for queries.
	Proved  uint64
	Missed  uint64
	Slashed uint64
}

// Statement is the public input of a batch proof: the ordered leaf updates
// committed to by BatchHash take the state root OldRoot to NewRoot. It
// mirrors batch.Public field for field (protocol/batch imports this package).
type Statement struct {
	OldRoot   hash.Digest
	NewRoot   hash.Digest
	BatchHash hash.Digest
	Updates   uint32
}

// Job is an open proof job: a proof of the block at Height, whose statement
// is Public, earns up to Reward from the escrow. Prover is the assignee
// (zero: unassigned, any registered prover may settle it); an assignee
// that has not settled by Deadline (a height) is slashed and the job moves
// on to the next prover.
type Job struct {
	Height uint64
	Public Statement
	// Reward is the escrow balance set aside for the job when it opened.
	Reward uint64
	// Pay is what the assignee earns: its price at assignment, at most
	// Reward (the whole Reward when the job is unassigned). The rest
	// returns to the unallocated escrow at settlement.
	Pay uint64
	// Prover is the assignee; zero when unassigned.
	Prover Address
	// Deadline is the height at whose start an assigned job counts as
	// missed; zero when unassigned.
	Deadline uint64
	// Attempts counts reassignments after missed deadlines.
	Attempts uint32
}

// Assigned reports whether the job has an assignee.
func (j *Job) Assigned() bool { return !j.Prover.IsZero() }

// CheckProverKind reports whether kind is a valid Prover.Kind.
func CheckProverKind(kind string) error {
	if len(kind) == 0 || len(kind) > MaxProverKind {
		return fmt.Errorf("prover kind %q is %d bytes, want 1..%d", kind, len(kind), MaxProverKind)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("prover kind %q has byte 0x%02x at %d; only a-z, 0-9, '-', '_' and '.'", kind, c, i)
		}
	}
	return nil
}

// ActiveProver reports whether the account is a registered prover: it has
// a prover record with a bond.
func (a *Account) ActiveProver() bool { return a.Prover != nil && a.Prover.Bond > 0 }

// Job returns the index of the open job for height in a.Jobs, or -1.
func (a *Account) Job(height uint64) int {
	i, ok := slices.BinarySearchFunc(a.Jobs, height, func(j Job, h uint64) int {
		switch {
		case j.Height < h:
			return -1
		case j.Height > h:
			return 1
		}
		return 0
	})
	if !ok {
		return -1
	}
	return i
}

// Allocated returns the sum of the open jobs' rewards: the part of the
// escrow balance that is spoken for. ok is false on overflow (a corrupt
// record).
func (a *Account) Allocated() (sum uint64, ok bool) {
	for _, j := range a.Jobs {
		if sum+j.Reward < sum {
			return 0, false
		}
		sum += j.Reward
	}
	return sum, true
}

// RegisterProver adds addr to the sorted registry; false if it is there.
func (a *Account) RegisterProver(addr Address) bool {
	i, ok := slices.BinarySearchFunc(a.Provers, addr, compareAddr)
	if ok {
		return false
	}
	a.Provers = slices.Insert(a.Provers, i, addr)
	return true
}

// UnregisterProver removes addr from the registry; false if absent.
func (a *Account) UnregisterProver(addr Address) bool {
	i, ok := slices.BinarySearchFunc(a.Provers, addr, compareAddr)
	if !ok {
		return false
	}
	a.Provers = slices.Delete(a.Provers, i, i+1)
	if len(a.Provers) == 0 {
		a.Provers = nil
	}
	return true
}

func appendStatement(b []byte, s Statement) []byte {
	for _, d := range []hash.Digest{s.OldRoot, s.NewRoot, s.BatchHash} {
		db := d.Bytes()
		b = append(b, db[:]...)
	}
	return binary.BigEndian.AppendUint32(b, s.Updates)
}

// appendMarket appends the prover record, the registry and the jobs.
func (a *Account) appendMarket(b []byte) []byte {
	if p := a.Prover; p == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1, byte(len(p.Kind)))
		b = append(b, p.Kind...)
		for _, v := range []uint64{p.Throughput, p.Price, p.Bond, p.Reputation, p.Proved, p.Missed, p.Slashed} {
			b = binary.BigEndian.AppendUint64(b, v)
		}
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Provers)))
	for _, p := range a.Provers {
		b = append(b, p[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Jobs)))
	for _, j := range a.Jobs {
		b = binary.BigEndian.AppendUint64(b, j.Height)
		b = appendStatement(b, j.Public)
		b = binary.BigEndian.AppendUint64(b, j.Reward)
		b = binary.BigEndian.AppendUint64(b, j.Pay)
		b = append(b, j.Prover[:]...)
		b = binary.BigEndian.AppendUint64(b, j.Deadline)
		b = binary.BigEndian.AppendUint32(b, j.Attempts)
	}
	return b
}

func (r *reader) digest(dst *hash.Digest) {
	v := r.Take(hash.DigestSize)
	if v == nil {
		return
	}
	d, err := hash.DigestFromBytes(v)
	if err != nil {
		r.Fail(fmt.Errorf("%w: %v", ErrRecord, err))
		return
	}
	*dst = d
}

// readMarket parses what appendMarket wrote.
func (a *Account) readMarket(r *reader) error {
	switch r.U8() {
	case 0:
	case 1:
		p := &Prover{}
		n := int(r.U8())
		if n == 0 || n > MaxProverKind {
			if err := r.Err(); err != nil {
				return err
			}
			return fmt.Errorf("%w: prover kind of %d bytes, want 1..%d", ErrRecord, n, MaxProverKind)
		}
		if k := r.Take(n); k != nil {
			p.Kind = string(k)
		}
		p.Throughput, p.Price, p.Bond, p.Reputation = r.U64(), r.U64(), r.U64(), r.U64()
		p.Proved, p.Missed, p.Slashed = r.U64(), r.U64(), r.U64()
		a.Prover = p
	default:
		if r.Err() == nil {
			return fmt.Errorf("%w: prover flag is not 0 or 1", ErrRecord)
		}
	}
	if n := int(r.U16()); n > 0 {
		if n > MaxProvers {
			return fmt.Errorf("%w: %d registered provers, at most %d", ErrRecord, n, MaxProvers)
		}
		if r.Err() == nil && r.Len() < n*AddressSize {
			r.Failf("%d provers truncated at byte %d", n, r.Offset())
			return r.Err()
		}
		a.Provers = make([]Address, n)
		for i := range a.Provers {
			r.address(&a.Provers[i])
		}
	}
	if n := int(r.U16()); n > 0 {
		if n > MaxJobs {
			return fmt.Errorf("%w: %d jobs, at most %d", ErrRecord, n, MaxJobs)
		}
		if r.Err() == nil && r.Len() < n*JobSize {
			r.Failf("%d jobs truncated at byte %d", n, r.Offset())
			return r.Err()
		}
		a.Jobs = make([]Job, n)
		for i := range a.Jobs {
			j := &a.Jobs[i]
			j.Height = r.U64()
			r.digest(&j.Public.OldRoot)
			r.digest(&j.Public.NewRoot)
			r.digest(&j.Public.BatchHash)
			j.Public.Updates = r.U32()
			j.Reward, j.Pay = r.U64(), r.U64()
			r.address(&j.Prover)
			j.Deadline = r.U64()
			j.Attempts = r.U32()
		}
	}
	return r.Err()
}

// checkMarket verifies the prover-market invariants Encode relies on.
func (a *Account) checkMarket() error {
	if p := a.Prover; p != nil {
		if err := CheckProverKind(p.Kind); err != nil {
			return fmt.Errorf("%w: %v", ErrRecord, err)
		}
	}
	if len(a.Provers) > MaxProvers || len(a.Jobs) > MaxJobs {
		return fmt.Errorf("%w: %d registered provers and %d jobs, at most %d and %d", ErrRecord, len(a.Provers), len(a.Jobs), MaxProvers, MaxJobs)
	}
	if (len(a.Provers) > 0 || len(a.Jobs) > 0) && a.Address != EscrowAddress {
		return fmt.Errorf("%w: only the prover escrow holds the prover registry and jobs", ErrRecord)
	}
	for i, p := range a.Provers {
		if p.IsZero() {
			return fmt.Errorf("%w: registered prover %d is the zero address", ErrRecord, i)
		}
		if i > 0 && compareAddr(a.Provers[i-1], p) >= 0 {
			return fmt.Errorf("%w: registered provers not sorted", ErrRecord)
		}
	}
	var sum uint64
	for i, j := range a.Jobs {
		if i > 0 && a.Jobs[i-1].Height >= j.Height {
			return fmt.Errorf("%w: jobs not sorted by height", ErrRecord)
		}
		if j.Pay > j.Reward {
			return fmt.Errorf("%w: job for height %d pays %d, above its reward %d", ErrRecord, j.Height, j.Pay, j.Reward)
		}
		if j.Assigned() != (j.Deadline != 0) {
			return fmt.Errorf("%w: job for height %d: an assigned job has a deadline, an unassigned one none", ErrRecord, j.Height)
		}
		if j.Assigned() && j.Deadline <= j.Height {
			return fmt.Errorf("%w: job for height %d has deadline %d, not after it", ErrRecord, j.Height, j.Deadline)
		}
		if !j.Assigned() && j.Pay != j.Reward {
			return fmt.Errorf("%w: unassigned job for height %d pays %d, not its whole reward %d", ErrRecord, j.Height, j.Pay, j.Reward)
		}
		if sum+j.Reward < sum {
			return fmt.Errorf("%w: job rewards overflow", ErrRecord)
		}
		sum += j.Reward
	}
	if sum > a.Balance {
		return fmt.Errorf("%w: open jobs reward %d, above the escrow balance %d", ErrRecord, sum, a.Balance)
	}
	return nil
}

// MarketParams are the prover market's rules, fixed at genesis (genesis
// "prover_market"; core/exec runs them). docs/market.md explains each.
type MarketParams struct {
	// MinProverBond is the least bond a prover registers with and keeps to
	// be assigned jobs.
	MinProverBond uint64
	// JobDeadline is the number of blocks an assignee has to settle a job.
	JobDeadline uint64
	// MissSlashBps is the share of an assignee's bond burned when it misses
	// a deadline, in basis points (1000 = 10%); at least 1 token.
	MissSlashBps uint64
	// ReputationStart is a new prover's reputation; ReputationUp and
	// ReputationDown move it on a settled job and a missed deadline,
	// within 0..ReputationMax.
	ReputationStart uint64
	ReputationUp    uint64
	ReputationDown  uint64
	ReputationMax   uint64
	// Volunteer opens every job unassigned and never assigns one: any
	// registered prover may settle it, and the first proof on the chain
	// takes the whole reward (the longest-chain model of volunteer
	// provers). No deadline, so nobody is slashed for missing one.
	Volunteer bool
}

// Market parameter defaults. Reputation starts at its maximum, so provers
// that never miss stay equal and share jobs by rotation; a miss drops a
// prover below them until ten settled jobs bring it back.
const (
	DefaultMinProverBond   = 100_000
	DefaultJobDeadline     = 20
	DefaultMissSlashBps    = 1000
	DefaultReputationStart = 1000
	DefaultReputationUp    = 10
	DefaultReputationDown  = 100
	DefaultReputationMax   = 1000
	// MaxJobDeadline bounds JobDeadline (about a week of 1 s blocks).
	MaxJobDeadline = 1 << 20
)

// DefaultMarketParams returns the default market rules.
func DefaultMarketParams() MarketParams {
	return MarketParams{
		MinProverBond: DefaultMinProverBond, JobDeadline: DefaultJobDeadline, MissSlashBps: DefaultMissSlashBps,
		ReputationStart: DefaultReputationStart, ReputationUp: DefaultReputationUp,
		ReputationDown: DefaultReputationDown, ReputationMax: DefaultReputationMax,
	}
}

// Check reports the first rule a parameter set breaks.
func (m MarketParams) Check() error {
	switch {
	case m.MinProverBond == 0:
		return fmt.Errorf("min_prover_bond must be at least 1 token")
	case m.JobDeadline == 0 || m.JobDeadline > MaxJobDeadline:
		return fmt.Errorf("job_deadline %d, want 1..%d blocks", m.JobDeadline, MaxJobDeadline)
	case m.MissSlashBps > 10_000:
		return fmt.Errorf("miss_slash_bps %d is above 10000 (100%%)", m.MissSlashBps)
	case m.ReputationMax == 0:
		return fmt.Errorf("reputation_max must be at least 1")
	case m.ReputationStart > m.ReputationMax || m.ReputationUp > m.ReputationMax || m.ReputationDown > m.ReputationMax:
		return fmt.Errorf("reputation start %d, up %d and down %d must not exceed reputation_max %d",
			m.ReputationStart, m.ReputationUp, m.ReputationDown, m.ReputationMax)
	}
	return nil
}
