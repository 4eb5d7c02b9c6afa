package wallet

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
	"time"
)

// The target: a .pkpass built and signed on one core at no less
// than 75% of the rate of the bare RSA-2048 signature it contains, that is,
// nothing but the signature costs much. Run on one core:
//
//	go test ./wallet -run '^$' -bench 'BuildPass|RSA2048' -benchtime 2s -cpu 1
//
// BenchmarkBuildPassVsRSA2048Sign interleaves the two so both see the same
// machine load, and reports their ratio directly.

func BenchmarkBuildPass(b *testing.B) {
	s := benchSigner(b)
	d := samplePass()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Build(d, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "passes/s")
}

// BenchmarkRSA2048Sign is the ceiling: one PKCS#1 v1.5 SHA-256 signature
// with the same key, the only public-key operation in a pass.
func BenchmarkRSA2048Sign(b *testing.B) {
	key := benchSigner(b).key
	digest := sha256.Sum256([]byte("signed attributes"))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}

// BenchmarkBuildPassVsRSA2048Sign times a full build and a bare signature
// in turn, each iteration, and reports passes/s, sigs/s and
// pass_vs_sign = (passes/s) / (sigs/s), the figure the target is about.
func BenchmarkBuildPassVsRSA2048Sign(b *testing.B) {
	s := benchSigner(b)
	d := samplePass()
	digest := sha256.Sum256([]byte("signed attributes"))
	var build, sign time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Build(d, nil); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		build += t1.Sub(t0)
		sign += t2.Sub(t1)
	}
	n := float64(b.N)
	b.ReportMetric(n/build.Seconds(), "passes/s")
	b.ReportMetric(n/sign.Seconds(), "sigs/s")
	b.ReportMetric(sign.Seconds()/build.Seconds(), "pass_vs_sign")
}
