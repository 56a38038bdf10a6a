package stark

import "testing"

func BenchmarkVerifyCube256(b *testing.B) {
	a, p, proof, enc := validProof(b)
	b.ReportMetric(float64(len(enc)), "proof-bytes")
	for b.Loop() {
		if err := Verify(a, p, proof); err != nil {
			b.Fatal(err)
		}
	}
}
