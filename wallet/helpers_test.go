package wallet

import (
	"crypto/rsa"
	"crypto/x509"
	"github.com/lintel/lintel/internal/testkit"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const (
	testPassTypeID = "pass.com.lintel.test"
	testTeamID     = "ABCDE12345"
)

// testPKI is testkit's Apple-shaped chain, for these tests' pass type and
// team unless told otherwise.
type testPKI struct{ *testkit.ApplePKI }

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	return newTestPKIWith(t, testkit.PKIOptions{})
}

func newTestPKIWith(t testing.TB, o testkit.PKIOptions) *testPKI {
	t.Helper()
	if o.PassTypeID == "" {
		o.PassTypeID = testPassTypeID
	}
	if o.TeamID == "" {
		o.TeamID = testTeamID
	}
	return &testPKI{testkit.NewApplePKI(t, o)}
}

func (p *testPKI) config(t testing.TB) AppleConfig {
	return AppleConfig{CertPEM: testkit.CertPEM(p.Leaf), KeyPEM: testkit.KeyPEM(t, p.LeafKey), WWDR: testkit.CertPEM(p.WWDR)}
}

func (p *testPKI) signer(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(p.config(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// requireOpenSSL returns the openssl binary, skipping the test when it is
// missing except under CI, where a missing tool must fail the run.
func requireOpenSSL(t testing.TB) string {
	t.Helper()
	return testkit.Binary(t, "openssl", "openssl")
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func samplePass() PassData {
	ny, _ := time.LoadLocation("America/New_York")
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, ny)
	end := time.Date(2026, 11, 26, 18, 0, 0, 0, ny)
	return PassData{
		SerialNumber:        "pass_01jb8v3n5k7q2x9m4r6t8w0yzc",
		OrganizationName:    "Acme Offices",
		VisitorName:         "Dana Visitor",
		SiteName:            "Acme HQ",
		Doors:               []string{"Front door", "Gym"},
		ValidityText:        "24 Nov 2026 14:00 - 26 Nov 2026 18:00",
		PIN:                 "482913",
		ValidFrom:           start,
		Expiration:          end,
		RelevantDates:       []DateInterval{{Start: start, End: end}},
		WebServiceURL:       "https://lintel.example/wallet",
		AuthenticationToken: "vxwxd7J8AlNNFPS8k0a0FfUFtq0ewzFdc",
		Barcode:             "LP1:DDP/YQHD2QV8IB0000000-HDJ72000000/HDWYMY$7GO3N*VIQCYS9R3UDBMPG1-OOJRMM-T",
		Location:            ny,
	}
}

// issue is testkit.Issue failing the test on error.
func issue(t testing.TB, tmpl, parent *x509.Certificate, parentKey, key *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	c, err := testkit.Issue(tmpl, parent, parentKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
