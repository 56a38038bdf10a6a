package bft

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/trellis-chain/trellis/protocol/vote"
)

// BenchmarkCertificateVerify: one aggregate verification of a certificate
// signed by every validator, over a decoded set.
func BenchmarkCertificateVerify(b *testing.B) {
	for _, n := range []int{4, 16, 64, 128} {
		vals, pset := newVals(b, n, nil)
		set, err := NewValidatorSet(pset)
		if err != nil {
			b.Fatal(err)
		}
		hash := bytes.Repeat([]byte{1}, 32)
		signers := make([]int, n)
		for i := range signers {
			signers[i] = i
		}
		enc := certBy(b, vals, 10, 0, hash, signers...).Encode()
		b.Run(fmt.Sprintf("validators=%d", n), func(b *testing.B) {
			for b.Loop() {
				c, err := DecodeCertificate(enc)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Verify(testChain, set); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVotes: votes a node takes in per second, each seen for the
// first time: signature check (the cost) and counting. "serial" is one
// core, as the loop would do alone; "parallel" is the worker pool that
// checks signatures before the loop.
func BenchmarkVotes(b *testing.B) {
	const n = 64
	vals, pset := newVals(b, n, nil)
	set, err := NewValidatorSet(pset)
	if err != nil {
		b.Fatal(err)
	}
	var pool []*Vote
	hash := bytes.Repeat([]byte{2}, 32)
	for r := uint32(0); r < 4; r++ {
		for i := range vals {
			pool = append(pool, signVote(vals[i], 3, r, vote.StepPrevote, hash))
		}
	}
	e := newEngine(Config{ChainID: testChain}, services{}, nil, false, [32]byte{})
	defer e.stop()
	e.h, e.vals, e.rounds = 3, set, map[uint32]*roundState{}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			v := pool[i%len(pool)]
			i++
			e.vmu.Lock()
			clear(e.verified)
			e.vmu.Unlock()
			if err := e.verifyVote(set, v); err != nil {
				b.Fatal(err)
			}
			idx, _ := set.Index(v.Validator)
			if i%len(pool) == 0 {
				e.rounds = map[uint32]*roundState{}
			}
			e.addVote(v, idx)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				v := pool[i%len(pool)]
				i++
				// Bypass the shared cache: each check is a first sighting.
				j, _ := set.Index(v.Validator)
				m := v.SignMessage(testChain)
				if err := checkSig(set.Validators[j].Key, m.SignBytes(), v.Signature[:], nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
	})
}
