package bls

import "testing"

var benchMsg = []byte("trellis precommit height 1000000 round 0 block 0123456789abcdef0123456789abcdef")

func BenchmarkSign(b *testing.B) {
	sks, _ := testKeys(b, 1)
	for b.Loop() {
		Sign(sks[0], benchMsg)
	}
}

func BenchmarkVerify(b *testing.B) {
	sks, pks := testKeys(b, 1)
	sig := Sign(sks[0], benchMsg)
	for b.Loop() {
		if err := Verify(pks[0], benchMsg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyProofOfPossession(b *testing.B) {
	sks, pks := testKeys(b, 1)
	pop := ProofOfPossession(sks[0])
	for b.Loop() {
		if err := VerifyProofOfPossession(pks[0], pop); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSet(b *testing.B, n int) ([]PublicKey, []Signature) {
	sks, pks := testKeys(b, n)
	sigs := make([]Signature, n)
	for i, sk := range sks {
		sigs[i] = Sign(sk, benchMsg)
	}
	return pks, sigs
}

func BenchmarkAggregateSignatures128(b *testing.B) {
	_, sigs := benchSet(b, 128)
	for b.Loop() {
		if _, err := AggregateSignatures(sigs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAggregatePublicKeys128(b *testing.B) {
	pks, _ := benchSet(b, 128)
	for b.Loop() {
		if _, err := AggregatePublicKeys(pks); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAggregate128(b *testing.B) {
	pks, sigs := benchSet(b, 128)
	agg, err := AggregateSignatures(sigs)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := VerifyAggregate(pks, benchMsg, agg); err != nil {
			b.Fatal(err)
		}
	}
}

// The decoders run on every vote received, subgroup check included.

func BenchmarkPublicKeyFromBytes(b *testing.B) {
	_, pks := testKeys(b, 1)
	enc := pks[0].Bytes()
	for b.Loop() {
		if _, err := PublicKeyFromBytes(enc[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignatureFromBytes(b *testing.B) {
	sks, _ := testKeys(b, 1)
	enc := Sign(sks[0], benchMsg).Bytes()
	for b.Loop() {
		if _, err := SignatureFromBytes(enc[:]); err != nil {
			b.Fatal(err)
		}
	}
}
