package server_test

import (
	"testing"
)

// BenchmarkApplePassDownload is the whole GET /v1/passes/{pass}/apple.pkpass
// on SQLite: the link check, the wallet row, the QR token signed again
// (ES256), the PIN looked up, pass.json, manifest, the PKCS#7 signature
// (RSA-2048) and the zip. Compare with wallet's BenchmarkBuildPass (the
// library alone).
func BenchmarkApplePassDownload(b *testing.B) {
	w := sqliteWallet(b, walletOpts{apple: true})
	f := w.fixture("Acme Offices")
	body := passBody("temporary", w.clk.Now(), f.door)
	body["methods"] = []string{"qr", "pin"}
	p := w.issue(f, body)
	path := "/v1/passes/" + p.id + "/apple.pkpass?t=" + p.token
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := w.do("GET", path, "", nil); r.status != 200 {
			b.Fatalf("status %d", r.status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "passes/s")
}
