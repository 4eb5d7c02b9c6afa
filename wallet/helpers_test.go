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

// testPKI is testkit's Apple-shaped chain, with the names these tests use.
type testPKI struct {
	root, wwdr, leaf          *x509.Certificate
	rootKey, wwdrKey, leafKey *rsa.PrivateKey
}

type leafOpts struct {
	notBefore, notAfter time.Time
	passTypeID, teamID  string
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	return newTestPKIWith(t, leafOpts{})
}

func newTestPKIWith(t testing.TB, o leafOpts) *testPKI {
	t.Helper()
	if o.passTypeID == "" {
		o.passTypeID = testPassTypeID
	}
	if o.teamID == "" {
		o.teamID = testTeamID
	}
	p := testkit.NewApplePKI(t, testkit.PKIOptions{NotBefore: o.notBefore, NotAfter: o.notAfter, PassTypeID: o.passTypeID, TeamID: o.teamID})
	return &testPKI{root: p.Root, wwdr: p.WWDR, leaf: p.Leaf, rootKey: p.RootKey, wwdrKey: p.WWDRKey, leafKey: p.LeafKey}
}

func (p *testPKI) config(t testing.TB) AppleConfig {
	return AppleConfig{CertPEM: testkit.CertPEM(p.leaf), KeyPEM: testkit.KeyPEM(t, p.leafKey), WWDR: testkit.CertPEM(p.wwdr)}
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
