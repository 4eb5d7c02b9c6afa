package wallet

import (
	"github.com/lintel/lintel/internal/testkit"
	"os"
	"path/filepath"
	"testing"
)

// envBenchFixtures names a directory shared with the passkit-generator
// comparison in bench/passkit-generator: TestExportBenchFixtures writes the
// certificates, key, images and pass.json there, and the Go benchmarks then
// sign with exactly those certificates.
const envBenchFixtures = "LINTEL_WALLET_BENCH_FIXTURES"

// TestExportBenchFixtures writes the comparison's inputs. It does nothing
// unless LINTEL_WALLET_BENCH_FIXTURES is set (bench/passkit-generator/run.sh
// sets it).
func TestExportBenchFixtures(t *testing.T) {
	dir := os.Getenv(envBenchFixtures)
	if dir == "" {
		t.Skip(envBenchFixtures + " not set; only bench/passkit-generator/run.sh needs this")
	}
	model := filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o700); err != nil {
		t.Fatal(err)
	}
	pki := newTestPKI(t)
	writeFile(t, dir, "root.pem", testkit.CertPEM(pki.Root))
	writeFile(t, dir, "wwdr.pem", testkit.CertPEM(pki.WWDR))
	writeFile(t, dir, "signerCert.pem", testkit.CertPEM(pki.Leaf))
	writeFile(t, dir, "signerKey.pem", testkit.KeyPEM(t, pki.LeafKey))
	s := pki.signer(t)
	pj, err := s.PassJSON(samplePass())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, model, "pass.json", pj)
	for _, f := range s.DefaultImages().files {
		writeFile(t, model, f.name, f.data)
	}
	writeFile(t, dir, "lintel.pkpass", mustBuild(t, s, samplePass(), nil))
}

// benchSigner signs with the exported fixtures when they exist, so both
// sides of the comparison use the same certificates; otherwise with a
// fresh test chain of the same shape (RSA-2048).
func benchSigner(b *testing.B) *Signer {
	b.Helper()
	if dir := os.Getenv(envBenchFixtures); dir != "" {
		read := func(name string) []byte {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				b.Fatalf("%s: %v (run TestExportBenchFixtures first)", name, err)
			}
			return data
		}
		s, err := NewSigner(AppleConfig{CertPEM: read("signerCert.pem"), KeyPEM: read("signerKey.pem"), WWDR: read("wwdr.pem")}, nil)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	return newTestPKI(b).signer(b)
}
