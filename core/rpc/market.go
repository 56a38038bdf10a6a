package rpc

import (
	"fmt"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
)

// Prover is the JSON view of an account's prover registration.
type Prover struct {
	Kind       string `json:"kind"`
	Throughput uint64 `json:"throughput,string"` // claimed Poseidon2 permutations/s
	Price      uint64 `json:"price,string"`      // asked per job
	Bond       uint64 `json:"bond,string"`
	Reputation uint64 `json:"reputation,string"`
	Proved     uint64 `json:"proved,string"`
	Missed     uint64 `json:"missed,string"`
	Slashed    uint64 `json:"slashed,string"`
}

// Job is the JSON view of an open proof job (held by the escrow account).
type Job struct {
	Height    uint64          `json:"height,string"`
	OldRoot   Root            `json:"oldRoot"`
	NewRoot   Root            `json:"newRoot"`
	BatchHash Root            `json:"batchHash"`
	Updates   uint32          `json:"updates"`
	Reward    uint64          `json:"reward,string"`
	Pay       uint64          `json:"pay,string"`
	Prover    account.Address `json:"prover"` // zero: unassigned
	Deadline  uint64          `json:"deadline,string"`
	Attempts  uint32          `json:"attempts"`
}

func newProver(p *account.Prover) *Prover {
	if p == nil {
		return nil
	}
	return &Prover{Kind: p.Kind, Throughput: p.Throughput, Price: p.Price, Bond: p.Bond, Reputation: p.Reputation,
		Proved: p.Proved, Missed: p.Missed, Slashed: p.Slashed}
}

func (p *Prover) record() *account.Prover {
	if p == nil {
		return nil
	}
	return &account.Prover{Kind: p.Kind, Throughput: p.Throughput, Price: p.Price, Bond: p.Bond, Reputation: p.Reputation,
		Proved: p.Proved, Missed: p.Missed, Slashed: p.Slashed}
}

func newJobs(js []account.Job) []Job {
	if len(js) == 0 {
		return nil
	}
	out := make([]Job, len(js))
	for i, j := range js {
		out[i] = Job{Height: j.Height, OldRoot: rootOf(j.Public.OldRoot), NewRoot: rootOf(j.Public.NewRoot),
			BatchHash: rootOf(j.Public.BatchHash), Updates: j.Public.Updates, Reward: j.Reward, Pay: j.Pay,
			Prover: j.Prover, Deadline: j.Deadline, Attempts: j.Attempts}
	}
	return out
}

func jobRecords(js []Job) ([]account.Job, error) {
	if len(js) == 0 {
		return nil, nil
	}
	out := make([]account.Job, len(js))
	for i, j := range js {
		var st account.Statement
		for _, f := range []struct {
			dst *hash.Digest
			src Root
		}{{&st.OldRoot, j.OldRoot}, {&st.NewRoot, j.NewRoot}, {&st.BatchHash, j.BatchHash}} {
			d, err := hash.DigestFromBytes(f.src[:])
			if err != nil {
				return nil, fmt.Errorf("rpc: job %d: %w", i, err)
			}
			*f.dst = d
		}
		st.Updates = j.Updates
		out[i] = account.Job{Height: j.Height, Public: st, Reward: j.Reward, Pay: j.Pay, Prover: j.Prover, Deadline: j.Deadline, Attempts: j.Attempts}
	}
	return out, nil
}
