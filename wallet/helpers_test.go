package wallet

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const (
	testPassTypeID = "pass.com.lintel.test"
	testTeamID     = "ABCDE12345"
)

// RSA-2048 key generation takes a noticeable fraction of a second; the
// tests share a few keys.
var testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 5)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	return keys
})

// testPKI is a chain shaped like Apple's: a root, a WWDR-like intermediate
// and a Pass Type ID certificate carrying the pass type id in UID and the
// team id in OU.
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
	keys := testKeys()
	p := &testPKI{rootKey: keys[0], wwdrKey: keys[1], leafKey: keys[2]}
	now := time.Now()
	p.root = issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Test Apple Root CA", Organization: []string{"Lintel Test"}},
		NotBefore:             now.Add(-48 * time.Hour),
		NotAfter:              now.Add(20 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, p.rootKey, p.rootKey)
	p.wwdr = issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Test Worldwide Developer Relations Certification Authority",
			OrganizationalUnit: []string{"G4"}, Organization: []string{"Lintel Test"}},
		NotBefore:             now.Add(-48 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.root, p.rootKey, p.wwdrKey)
	if o.notBefore.IsZero() {
		o.notBefore = now.Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.Add(365 * 24 * time.Hour)
	}
	if o.passTypeID == "" {
		o.passTypeID = testPassTypeID
	}
	if o.teamID == "" {
		o.teamID = testTeamID
	}
	p.leaf = issue(t, &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         "Pass Type ID: " + o.passTypeID,
			OrganizationalUnit: []string{o.teamID},
			Organization:       []string{"Lintel Test"},
			Country:            []string{"US"},
			ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidUserID, Value: o.passTypeID}},
		},
		NotBefore:   o.notBefore,
		NotAfter:    o.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, p.wwdr, p.wwdrKey, p.leafKey)
	return p
}

var serial = struct {
	sync.Mutex
	n int64
}{}

func issue(t testing.TB, tmpl, parent *x509.Certificate, parentKey, key *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	serial.Lock()
	serial.n++
	tmpl.SerialNumber = big.NewInt(1000 + serial.n)
	serial.Unlock()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func certPEM(cs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range cs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func keyPEM(t testing.TB, k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func (p *testPKI) config(t testing.TB) AppleConfig {
	return AppleConfig{CertPEM: certPEM(p.leaf), KeyPEM: keyPEM(t, p.leafKey), WWDR: certPEM(p.wwdr)}
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
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required under CI=true (Debian package openssl)")
		}
		t.Skip("openssl not installed")
	}
	return path
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
