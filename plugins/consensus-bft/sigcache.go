package bft

import (
	"sync"

	"github.com/trellis-chain/trellis/protocol/bls"
)

// maxDecoded bounds the decoded-signature cache.
const maxDecoded = 16384

// sigDecoder remembers decoded signatures: decoding one (with its subgroup
// check) costs about as much as a tenth of a verification, and a node
// decoded every precommit twice, to verify it and again to aggregate the
// certificate. Only valid encodings are kept.
type sigDecoder struct {
	mu sync.Mutex // the workers and the loop share it
	m  map[[bls.SignatureSize]byte]bls.Signature
}

func newSigDecoder() *sigDecoder {
	return &sigDecoder{m: make(map[[bls.SignatureSize]byte]bls.Signature)}
}

func (d *sigDecoder) decode(b []byte) (bls.Signature, error) {
	if d == nil || len(b) != bls.SignatureSize {
		return bls.SignatureFromBytes(b)
	}
	k := [bls.SignatureSize]byte(b)
	d.mu.Lock()
	s, ok := d.m[k]
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := bls.SignatureFromBytes(b)
	if err != nil {
		return s, err
	}
	d.mu.Lock()
	if len(d.m) >= maxDecoded {
		clear(d.m)
	}
	d.m[k] = s
	d.mu.Unlock()
	return s, nil
}
